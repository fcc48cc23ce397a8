/**
 * What about the patient changes how the data are read and what a card may advise, each from the
 * knowledge base (clinical-data.json) with its citation: which DXA classification applies (WHO T-scores or
 * ISCD Z-scores), whether kidney function rules out assuming a bisphosphonate, whether a denosumab dose is
 * overdue, scores from another spinal region (screening level only) and earlier, higher scores (history).
 * Pure: facts and the knowledge base in, data out.
 */
import type {
  BoneQualityScoreFact,
  ConditionFact,
  Facts,
  MeasurementFact,
  MedicationFact,
  ZScoreFact,
} from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { MS_PER_DAY } from '../fhir/facts/common.js';
import { assessScore } from './evidence.js';
import type { ScoreAssessment } from './findings.js';
import type { PlannedProcedure } from './procedure.js';

/**
 * Which DXA classification applies. ISCD: for premenopausal women and men under 50 the WHO T-score
 * classification does not apply and Z-scores are used. Menopausal status is not read from the record, so
 * for a woman (or sex not recorded) age 50 is the boundary and the card says so (`ageBoundary`).
 */
export interface DxaBasis {
  basis: 't-score' | 'z-score';
  /** The age-50 boundary stood in for an unknown menopausal status. */
  ageBoundary: boolean;
  ageYears: number | undefined;
  sex: Facts['patient']['sex'];
}

export function dxaBasis(kb: KnowledgeBase, facts: Facts): DxaBasis {
  const { ageYears, sex } = facts.patient;
  const boundary = kb.clinicalData.zScoreRule.ageBoundaryYears;
  const young = ageYears !== undefined && ageYears < boundary;
  return {
    basis: young ? 'z-score' : 't-score',
    // A man's classification depends on age alone; anyone else's on menopause, which is not recorded.
    ageBoundary: sex !== 'male' && ageYears !== undefined,
    ageYears,
    sex,
  };
}

/** The Z-score that decides for a patient classified by Z-scores, when it is recent. */
export function decidingZ(kb: KnowledgeBase, facts: Facts, basis: DxaBasis): ZScoreFact | undefined {
  const z = facts.dxa.lowestZ;
  if (basis.basis !== 'z-score' || z === undefined) return undefined;
  return z.ageMonths <= kb.parameters.dxaLookbackMonths ? z : undefined;
}

/** A recent DXA that can classify bone density for this patient (a T-score, or a Z-score where it applies). */
export function dxaClassifies(kb: KnowledgeBase, facts: Facts, basis: DxaBasis): boolean {
  return basis.basis === 't-score' ? facts.dxa.recentTScore : decidingZ(kb, facts, basis) !== undefined;
}

/** Kidney function that rules out assuming a bisphosphonate (AACE 2020 limits; KDIGO 2017 CKD-MBD). */
export interface KidneyLimit {
  /** The latest eGFR in the look-back, when it is below the limit. */
  egfr: MeasurementFact | undefined;
  limit: number;
  /** A CKD stage 4-5 diagnosis on record. */
  stage: ConditionFact | undefined;
}

export function kidneyLimit(kb: KnowledgeBase, facts: Facts): KidneyLimit | undefined {
  const renal = kb.clinicalData.renal;
  const limit = renal.bisphosphonateEgfrMin.value;
  const e = facts.egfr;
  const egfr =
    e !== undefined && e.ageMonths <= renal.egfrLookbackMonths.value && e.value < limit ? e : undefined;
  const stages: readonly string[] = renal.ckdStagesThatChangeAdvice;
  const stage = facts.conditions.ckd.find((c) => c.ckdStage !== undefined && stages.includes(c.ckdStage));
  return egfr === undefined && stage === undefined ? undefined : { egfr, limit, stage };
}

/** A drug whose dose is overdue with a rebound risk (denosumab): the last dose and how late it is. */
export interface OverdueTreatment {
  ingredient: string;
  lastDose: string;
  source: string;
  daysSince: number;
  overdueAfterDays: number;
}

export function overdueTreatments(kb: KnowledgeBase, facts: Facts, now: Date): OverdueTreatment[] {
  const out: OverdueTreatment[] = [];
  for (const row of kb.clinicalData.treatments) {
    if (row.overdueAfterDays === undefined || row.reboundRisk !== true) continue;
    const name = row.ingredient.toLowerCase();
    // Still current by another record (an active statement that gives no dose date): not called overdue.
    if (facts.treatments.some((t) => t.ingredient.toLowerCase() === name)) continue;
    const records = facts.treatmentHistory.filter((t) => t.ingredient.toLowerCase() === name);
    const latest = latestDose(records);
    if (latest === undefined) continue;
    const daysSince = Math.floor((now.getTime() - Date.parse(latest.lastDose)) / MS_PER_DAY);
    if (daysSince <= row.overdueAfterDays) continue;
    // A follow-on drug started after the last dose is the sequential treatment the guideline asks for.
    const followOn = facts.treatments.some(
      (t) =>
        t.ingredient.toLowerCase() !== name &&
        Date.parse(t.lastDose ?? t.start ?? '') >= Date.parse(latest.lastDose),
    );
    if (followOn) continue;
    out.push({
      ingredient: row.ingredient,
      lastDose: latest.lastDose,
      source: latest.source,
      daysSince,
      overdueAfterDays: row.overdueAfterDays,
    });
  }
  return out;
}

function latestDose(records: MedicationFact[]): { lastDose: string; source: string } | undefined {
  let best: { lastDose: string; source: string } | undefined;
  for (const r of records) {
    const date = r.lastDose;
    if (date === undefined || Number.isNaN(Date.parse(date))) continue;
    if (best === undefined || Date.parse(date) > Date.parse(best.lastDose))
      best = { lastDose: date, source: r.source };
  }
  return best;
}

/**
 * Recent scores of a region the procedure does not score (a lumbar VBQ before an ACDF), assessed at the
 * screening level only: never against the other region's procedure cutoffs.
 */
export function crossRegionScores(
  kb: KnowledgeBase,
  facts: Facts,
  procedure: PlannedProcedure,
): ScoreAssessment[] {
  const screeningOnly: PlannedProcedure = { ...procedure, families: [] };
  return facts.scores
    .filter((s) => !procedure.scoreRegions.includes(s.region))
    .filter((s) => s.ageMonths <= kb.parameters.staleDataMonths)
    .map((s) => assessScore(kb, facts, screeningOnly, s))
    .filter((a) => a.status === 'above-screening')
    .sort((a, b) => a.score.metric.localeCompare(b.score.metric));
}

/** Earlier valid scores of the procedure's regions higher than the latest of their metric: history only. */
export function earlierHigherScores(facts: Facts, procedure: PlannedProcedure): BoneQualityScoreFact[] {
  return facts.earlierScores.filter((e) => {
    if (!procedure.scoreRegions.includes(e.region)) return false;
    const latest = facts.scores.find((s) => s.metric === e.metric && s.region === e.region);
    return latest !== undefined && e.value > latest.value;
  });
}

/** Preliminary scores of the planned regions with no valid score of the same metric: shown, never used. */
export function unconfirmedPreliminary(facts: Facts, procedure: PlannedProcedure): BoneQualityScoreFact[] {
  return facts.preliminaryScores.filter(
    (p) =>
      procedure.scoreRegions.includes(p.region) &&
      !facts.scores.some((s) => s.metric === p.metric && s.region === p.region),
  );
}
