/** Laboratory facts: the latest 25-OH vitamin D in ng/mL and the latest eGFR. */
import { findConceptEntry } from '../../knowledge/index.js';
import type { CodeListId } from '../../knowledge/schema.js';
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

/** UCUM and common spellings of mL/min/1.73 m2. */
const EGFR_UNIT = /^ml\/min(\/\{?1\.73_?m2\}?|\/1\.73\s?m(2|\^2|²))?$/i;
const EGFR_RANGE: [number, number] = [0, 250];

/**
 * The eGFR code list's id. Read by name: the knowledge base names it in `clinicalData.renal.egfrList`
 * (id `egfr`); a knowledge base without it yields no eGFR fact rather than an error.
 */
function egfrListId(ctx: FactContext): CodeListId | undefined {
  const kb = ctx.kb as unknown as { clinicalData?: { renal?: { egfrList?: unknown } }; codeLists: object };
  const named = kb.clinicalData?.renal?.egfrList;
  const id = typeof named === 'string' ? named : 'egfr';
  return Object.hasOwn(kb.codeLists, id) ? (id as CodeListId) : undefined;
}

/** The latest eGFR (mL/min/1.73 m2), from any prefetch key that carries one (CKD-EPI 2009 or 2021, MDRD). */
export function extractEgfr(
  ctx: FactContext,
  observations: readonly ReadObservation[],
): MeasurementFact | undefined {
  const listId = egfrListId(ctx);
  if (listId === undefined) return undefined;
  const egfr = observations.filter((o) => findConceptEntry(ctx.kb, listId, o.code) !== undefined);
  return latestMeasurement(ctx, egfr, (o) => {
    const q = o.valueQuantity;
    if (q?.value === undefined) return undefined;
    const unit = q.code ?? q.unit;
    if (unit !== undefined && !EGFR_UNIT.test(unit.trim())) {
      ctx.log.add(o.ref, `eGFR in unit ${unit}: not used`);
      return undefined;
    }
    if (q.value < EGFR_RANGE[0] || q.value > EGFR_RANGE[1]) {
      ctx.log.add(o.ref, `eGFR ${q.value} outside ${EGFR_RANGE[0]}..${EGFR_RANGE[1]}: not used`);
      return undefined;
    }
    return q.value;
  });
}
