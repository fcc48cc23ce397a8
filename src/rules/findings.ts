/**
 * What the rules conclude, as data: findings carry the facts and cutoffs they rest on and coded advice,
 * never wording. src/cards/ turns them into text.
 */
import type { Indicator } from '../cds/types.js';
import type {
  BoneQualityScoreFact,
  ConditionFact,
  DataIssue,
  ExcludedScoreFact,
  MeasurementFact,
  MedicationFact,
  MrStudyFact,
  OrderFact,
  TScoreFact,
  ZScoreFact,
} from '../fhir/facts/index.js';
import type { CardTopic, CaveatName, Cutoff } from '../knowledge/schema.js';
import type { CutoffComparison } from './cutoffs.js';
import type { DxaBasis, KidneyLimit, OverdueTreatment } from './patient-context.js';
import type { PlannedProcedure } from './procedure.js';

export type EvidenceRole = 'strong' | 'borderline' | 'reassuring';

export type ScoreStatus = 'above-procedure' | 'above-screening' | 'below-screening' | 'no-cutoff';

export interface ScoreAssessment {
  score: BoneQualityScoreFact;
  procedure: CutoffComparison[];
  screening: CutoffComparison | undefined;
  supporting: CutoffComparison[];
  confounders: ('hyperlipidemia' | 'stale')[];
  status: ScoreStatus;
  /** The exceeded procedure cutoff that decides (best AUC), when any. */
  lead: Cutoff | undefined;
}

interface EvidenceBase {
  /** Stable key of the datum (kind, source, value): feeds the card uuid. */
  key: string;
  role: EvidenceRole;
  /** The cutoffs the datum was compared with (knowledge base entries, with their citations). */
  cutoffs: Cutoff[];
}

export type EvidenceItem =
  | (EvidenceBase & { kind: 'dxa'; fact: TScoreFact })
  /** A Z-score where the WHO T-score classification does not apply (ISCD). */
  | (EvidenceBase & { kind: 'dxa-z'; fact: ZScoreFact; basis: DxaBasis })
  | (EvidenceBase & {
      kind: 'fragility-fracture' | 'osteoporosis-diagnosis' | 'osteopenia-diagnosis';
      fact: ConditionFact;
    })
  | (EvidenceBase & { kind: 'ct-hu'; fact: MeasurementFact })
  | (EvidenceBase & { kind: 'score'; assessment: ScoreAssessment });

export type ActionState = 'suggest' | 'ordered' | 'done' | 'not-needed';

/** What the card asks for, coded; the wording is in src/cards/. */
export type Advice =
  | 'treat-before-surgery'
  | 'referral'
  | 'workup'
  | 'discordant-with-dxa'
  | 'on-treatment-complete-evaluation'
  | 'evaluation-in-progress'
  | 'review-borderline'
  | 'consider-dxa'
  | 'dxa-advised'
  | 'dxa-already-ordered'
  | 'measure-score'
  | 'z-score-referral'
  | 'denosumab-overdue'
  | 'consider-anabolic'
  | 'baseline-dxa-on-treatment'
  | 'cross-region-screening'
  | 'preliminary-score';

/** Why a data-gap finding was raised. */
export type GapReason = { kind: 'age'; ageYears: number } | { kind: 'glucocorticoids' };

/** What is already on record that the card mentions (acknowledged, not suggested again). */
export interface FindingContext {
  treatments: MedicationFact[];
  dxaOrders: OrderFact[];
  referrals: OrderFact[];
  vitaminD: (MeasurementFact & { low: boolean }) | undefined;
  glucocorticoids: boolean;
  excludedScores: ExcludedScoreFact[];
  unscoredStudies: MrStudyFact[];
  dxaLastDate: string | undefined;
  /** Received data that could not be read or used and was left out (the card says so, without ids). */
  dataIssues: DataIssue[];
  /** Which DXA classification applies to this patient (T-scores, or Z-scores under 50). */
  dxaBasis: DxaBasis;
  /** A DXA is on record in the look-back but cannot classify density (BMD only, no applicable score). */
  dxaUnclassified: boolean;
  /** Kidney function that rules out assuming a bisphosphonate, when present. */
  kidney: KidneyLimit | undefined;
  /** Overdue treatment with a rebound risk (denosumab). */
  overdue: OverdueTreatment[];
  /** Earlier valid scores higher than the latest: history only. */
  earlierHigher: BoneQualityScoreFact[];
  /** Scores of another region, above their screening cutoff (screening level only). */
  crossRegion: ScoreAssessment[];
  /** Preliminary scores with no final score of their metric: shown as preliminary, never used. */
  preliminary: BoneQualityScoreFact[];
}

export interface Finding {
  /** The decision rule that produced the finding (see DECISION_RULES). */
  rule: string;
  topic: CardTopic;
  indicator: Indicator;
  advice: Advice;
  /** The datum that decided, and for the critical rule the score that joined it. */
  lead: EvidenceItem | undefined;
  second: EvidenceItem | undefined;
  gap: GapReason | undefined;
  procedure: PlannedProcedure;
  scores: ScoreAssessment[];
  evidence: EvidenceItem[];
  /** Caveats that apply, most relevant to this patient first. */
  caveats: CaveatName[];
  context: FindingContext;
  actions: { dxa: ActionState; referral: ActionState; vitaminD: ActionState };
  /** AO Spine 2025: anabolic treatment for >= 3 months before a deformity / long fusion. */
  anabolic: boolean;
  /** Stable data keys: patient, topic and these make the card uuid. */
  keys: string[];
}
