/** Opportunistic CT facts: the latest L1 Hounsfield-unit measurement (our bone-quality CodeSystem). */
import { BONE_QUALITY_SYSTEM } from '../../knowledge/index.js';
import type { ReadObservation } from '../read/resources.js';
import { latestMeasurement, type FactContext, type MeasurementFact } from './common.js';

export function extractCtHu(
  ctx: FactContext,
  observations: readonly ReadObservation[],
): MeasurementFact | undefined {
  const l1 = observations.filter((o) =>
    o.code?.coding.some((c) => c.system === BONE_QUALITY_SYSTEM && c.code === 'ct-hu-l1'),
  );
  return latestMeasurement(ctx, l1, (o) => o.valueQuantity?.value);
}
