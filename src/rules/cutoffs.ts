/**
 * Cutoff selection: which published (or hospital-calibrated) cutoffs apply to a score for the planned
 * procedure. A hospital cutoff calibrated for the score's field strength or scanner wins over the
 * published one for the same role.
 */
import type { BoneQualityScoreFact, ScoreRegion } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { Cutoff, Metric, ProcedureFamily } from '../knowledge/schema.js';

export interface CutoffComparison {
  cutoff: Cutoff;
  exceeded: boolean;
}

/** True when the value meets the cutoff's condition (e.g. VBQ >= 3.28, HU <= 110). */
export function meets(value: number, cutoff: Cutoff): boolean {
  switch (cutoff.comparator) {
    case '>=':
      return value >= cutoff.threshold;
    case '>':
      return value > cutoff.threshold;
    case '<=':
      return value <= cutoff.threshold;
    case '<':
      return value < cutoff.threshold;
  }
}

function regionMatches(cutoff: Cutoff, region: ScoreRegion): boolean {
  if (cutoff.region === 'any') return true;
  return region === 'cervical' ? cutoff.region === 'cervical' : cutoff.region !== 'cervical';
}

function calibratedFor(cutoff: Cutoff, score: BoneQualityScoreFact | undefined): boolean {
  if (cutoff.fieldStrengthT === undefined && cutoff.scanner === undefined) return false;
  if (score === undefined) return false;
  const fieldOk =
    cutoff.fieldStrengthT === undefined ||
    (score.fieldStrengthT !== undefined && Math.abs(score.fieldStrengthT - cutoff.fieldStrengthT) < 0.05);
  const scannerOk =
    cutoff.scanner === undefined ||
    (score.scanner !== undefined && score.scanner.toLowerCase().includes(cutoff.scanner.toLowerCase()));
  return fieldOk && scannerOk;
}

/** Among candidates for one role, a cutoff calibrated for this score beats the generic one. */
function pick(candidates: Cutoff[], score: BoneQualityScoreFact | undefined): Cutoff | undefined {
  const calibrated = candidates.filter((c) => calibratedFor(c, score));
  if (calibrated.length > 0) return calibrated[0];
  return candidates.find((c) => c.fieldStrengthT === undefined && c.scanner === undefined);
}

/** The primary procedure cutoff of each planned family for this score's metric (deduplicated). */
export function procedureCutoffs(
  kb: KnowledgeBase,
  score: BoneQualityScoreFact,
  families: readonly ProcedureFamily[],
): Cutoff[] {
  const chosen = new Map<string, Cutoff>();
  for (const family of families) {
    const candidates = kb.cutoffs.filter(
      (c) =>
        c.role === 'procedure-specific' &&
        c.metric === score.metric &&
        c.primaryFor?.includes(family) === true &&
        regionMatches(c, score.region),
    );
    const cutoff = pick(candidates, score);
    if (cutoff !== undefined) chosen.set(cutoff.id, cutoff);
  }
  return [...chosen.values()];
}

/** The primary screening cutoff for a metric and region (VBQ, S1 VBQ, C-VBQ; DXA and HU use parameters). */
export function screeningCutoff(
  kb: KnowledgeBase,
  metric: Metric,
  region: ScoreRegion,
  score?: BoneQualityScoreFact,
): Cutoff | undefined {
  const candidates = kb.cutoffs.filter(
    (c) =>
      c.role === 'screening' &&
      c.primaryScreening === true &&
      c.metric === metric &&
      regionMatches(c, region),
  );
  return pick(candidates, score);
}

/** Further published cutoffs for the score's metric and the planned families, for the detail text. */
export function supportingCutoffs(
  kb: KnowledgeBase,
  score: BoneQualityScoreFact,
  families: readonly ProcedureFamily[],
  exclude: ReadonlySet<string>,
): Cutoff[] {
  return kb.cutoffs.filter(
    (c) =>
      !exclude.has(c.id) &&
      c.role === 'procedure-specific' &&
      c.metric === score.metric &&
      c.fieldStrengthT === undefined &&
      c.scanner === undefined &&
      regionMatches(c, score.region) &&
      c.procedureFamilies.some((f) => f === 'any' || families.includes(f)),
  );
}
