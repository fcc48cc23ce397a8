/** Laboratory facts: the latest 25-OH vitamin D in ng/mL. */
import { findConceptEntry } from '../../knowledge/index.js';
import type { ReadObservation } from '../read/resources.js';
import { latestMeasurement, type FactContext, type MeasurementFact } from './common.js';

/** 25-OH vitamin D in ng/mL; nmol/L is converted (1 ng/mL = 2.496 nmol/L). */
function vitaminDNgPerMl(obs: ReadObservation): number | undefined {
  const q = obs.valueQuantity;
  if (q?.value === undefined) return undefined;
  const unit = (q.code ?? q.unit ?? '').toLowerCase();
  if (unit === 'nmol/l') return Math.round((q.value / 2.496) * 10) / 10;
  if (unit === 'ng/ml' || unit === 'ug/l' || unit === 'µg/l') return q.value;
  return undefined;
}

export function extractVitaminD(
  ctx: FactContext,
  observations: readonly ReadObservation[],
): MeasurementFact | undefined {
  const vitaminD = observations.filter(
    (o) => findConceptEntry(ctx.kb, 'vitamin-d-25oh', o.code) !== undefined,
  );
  return latestMeasurement(ctx, vitaminD, vitaminDNgPerMl);
}
