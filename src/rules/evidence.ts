/**
 * Weighs each datum on its own: a score against the procedure's and the screening cutoffs, DXA and CT
 * against the knowledge base's thresholds, diagnoses and fractures as they stand. Pure.
 */
import type { BoneQualityScoreFact, Facts } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { Cutoff } from '../knowledge/schema.js';
import { meets, procedureCutoffs, screeningCutoff, supportingCutoffs } from './cutoffs.js';
import type { EvidenceItem, EvidenceRole, ScoreAssessment, ScoreStatus } from './findings.js';
import type { DxaBasis } from './patient-context.js';
import type { PlannedProcedure } from './procedure.js';

export function assessScore(
  kb: KnowledgeBase,
  facts: Facts,
  procedure: PlannedProcedure,
  score: BoneQualityScoreFact,
): ScoreAssessment {
  const primary = procedureCutoffs(kb, score, procedure.families).map((cutoff) => ({
    cutoff,
    exceeded: meets(score.value, cutoff),
  }));
  const screeningCut = screeningCutoff(kb, score.metric, score.region, score);
  const screening =
    screeningCut === undefined
      ? undefined
      : { cutoff: screeningCut, exceeded: meets(score.value, screeningCut) };
  // Built by add() in the same order as a Set of the spread ids, without the intermediate arrays.
  const exclude = new Set<string>();
  for (const p of primary) exclude.add(p.cutoff.id);
  if (screeningCut) exclude.add(screeningCut.id);
  const supporting = supportingCutoffs(kb, score, procedure.families, exclude).map((cutoff) => ({
    cutoff,
    exceeded: meets(score.value, cutoff),
  }));
  const confounders: ScoreAssessment['confounders'] = [];
  if (facts.conditions.hyperlipidemia.length > 0) confounders.push('hyperlipidemia');
  if (score.ageMonths > kb.parameters.staleDataMonths) confounders.push('stale');
  const exceeded = primary.filter((p) => p.exceeded).map((p) => p.cutoff);
  exceeded.sort(
    (a, b) => (b.auc ?? 0) - (a.auc ?? 0) || a.threshold - b.threshold || a.id.localeCompare(b.id),
  );
  let status: ScoreStatus;
  if (exceeded.length > 0) status = 'above-procedure';
  else if (screening?.exceeded === true) status = 'above-screening';
  else if (primary.length > 0 || screening !== undefined) status = 'below-screening';
  else status = 'no-cutoff';
  return { score, procedure: primary, screening, supporting, confounders, status, lead: exceeded[0] };
}

export interface Evidence {
  strong: EvidenceItem[];
  borderline: EvidenceItem[];
  reassuring: EvidenceItem[];
}

/** Sorts every datum into strong, borderline and reassuring evidence, in a fixed order. */
export function collectEvidence(
  kb: KnowledgeBase,
  facts: Facts,
  scores: ScoreAssessment[],
  basis: DxaBasis,
): Evidence {
  const p = kb.parameters;
  const ev: Evidence = { strong: [], borderline: [], reassuring: [] };
  const add = (item: EvidenceItem): void => {
    ev[item.role].push(item);
  };
  const cutoffFor = (metric: 'dxa-t-score' | 'ct-hu-l1', threshold: number): Cutoff[] =>
    kb.cutoffs.filter((c) => c.metric === metric && c.threshold === threshold);

  // WHO T-scores classify postmenopausal women and men >= 50 only; under 50, ISCD Z-scores (a recent one).
  const lowest = basis.basis === 't-score' ? facts.dxa.lowest : undefined;
  const z = basis.basis === 'z-score' ? facts.dxa.lowestZ : undefined;
  if (z !== undefined && z.ageMonths <= p.dxaLookbackMonths) {
    const below = z.value <= kb.clinicalData.zScoreRule.belowExpectedRangeZ;
    add({
      kind: 'dxa-z',
      key: `dxa-z:${z.source}:${z.value}`,
      role: below ? 'strong' : 'reassuring',
      cutoffs: [],
      fact: z,
      basis,
    });
  }
  if (lowest !== undefined) {
    const key = `dxa:${lowest.source}:${lowest.value}`;
    const role: EvidenceRole =
      lowest.value <= p.tScoreOsteoporosis
        ? 'strong'
        : lowest.value < p.tScoreOsteopenia
          ? 'borderline'
          : 'reassuring';
    const cutoffs =
      role === 'strong'
        ? cutoffFor('dxa-t-score', p.tScoreOsteoporosis)
        : role === 'borderline'
          ? cutoffFor('dxa-t-score', p.tScoreOsteopenia)
          : [];
    add({ kind: 'dxa', key, role, cutoffs, fact: lowest });
  }
  for (const fact of facts.conditions['fragility-fracture'])
    add({ kind: 'fragility-fracture', key: `fracture:${fact.source}`, role: 'strong', cutoffs: [], fact });
  for (const fact of facts.conditions.osteoporosis)
    add({
      kind: 'osteoporosis-diagnosis',
      key: `osteoporosis:${fact.source}`,
      role: 'strong',
      cutoffs: [],
      fact,
    });
  const hu = facts.ctHu;
  if (hu !== undefined) {
    const key = `ct-hu:${hu.source}:${hu.value}`;
    if (hu.value <= p.ctHuOsteoporosis)
      add({
        kind: 'ct-hu',
        key,
        role: 'strong',
        cutoffs: cutoffFor('ct-hu-l1', p.ctHuOsteoporosis),
        fact: hu,
      });
    else if (hu.value <= p.ctHuLowBone)
      add({
        kind: 'ct-hu',
        key,
        role: 'borderline',
        cutoffs: cutoffFor('ct-hu-l1', p.ctHuLowBone),
        fact: hu,
      });
    else
      add({ kind: 'ct-hu', key, role: 'reassuring', cutoffs: cutoffFor('ct-hu-l1', p.ctHuNormal), fact: hu });
  }
  for (const fact of facts.conditions.osteopenia)
    add({
      kind: 'osteopenia-diagnosis',
      key: `osteopenia:${fact.source}`,
      role: 'borderline',
      cutoffs: [],
      fact,
    });
  for (const a of scores) {
    const key = `score:${a.score.source}:${a.score.value}:${a.lead?.id ?? a.status}`;
    const cutoffs = [...a.procedure, ...(a.screening ? [a.screening] : [])].map((c) => c.cutoff);
    const role: EvidenceRole | undefined =
      a.status === 'above-procedure' && a.confounders.length === 0
        ? 'strong'
        : a.status === 'above-procedure' || a.status === 'above-screening'
          ? 'borderline'
          : a.status === 'below-screening'
            ? 'reassuring'
            : undefined;
    if (role !== undefined) add({ kind: 'score', key, role, cutoffs, assessment: a });
  }
  return ev;
}
