/**
 * The decision logic as a table: facts + knowledge base + planned procedure -> at most one finding per
 * concern. The main rules are tried in order and the first that applies decides (one bone-health card,
 * or none); only when none applies are the data-gap rules consulted, each adding its own finding. Pure
 * and deterministic; every number compared comes from the knowledge base. The README's indicator policy
 * is this table in prose.
 */
import type { Indicator } from '../cds/types.js';
import type { Facts } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { CardTopic } from '../knowledge/schema.js';
import { caveatsFor } from './caveats.js';
import { assessScore, collectEvidence, type Evidence } from './evidence.js';
import type {
  ActionState,
  EvidenceItem,
  Finding,
  FindingContext,
  GapReason,
  ScoreAssessment,
} from './findings.js';
import {
  crossRegionScores,
  dxaBasis,
  dxaClassifies,
  earlierHigherScores,
  kidneyLimit,
  overdueTreatments,
  unconfirmedPreliminary,
  type DxaBasis,
} from './patient-context.js';
import type { PlannedProcedure } from './procedure.js';

/** Everything the rules look at, computed once per call. */
export interface Situation {
  kb: KnowledgeBase;
  facts: Facts;
  procedure: PlannedProcedure;
  scores: ScoreAssessment[];
  ev: Evidence;
  /** Strong evidence of osteoporosis other than a score (DXA, fracture, diagnosis, CT HU). */
  osteo: EvidenceItem[];
  /** A recent Z-score below the expected range for age, where Z-scores apply (not osteoporosis). */
  lowZ: EvidenceItem | undefined;
  basis: DxaBasis;
  /** A recent DXA that can classify density for this patient (not BMD only, not a T-score under 50). */
  dxaClassified: boolean;
  crossRegion: ScoreAssessment[];
  now: Date;
  /** Scores above the procedure's cutoff with no confounder. */
  strongScores: ScoreAssessment[];
  aboveProcedure: ScoreAssessment[];
  treated: boolean;
  referralInPlace: boolean;
  dxaRecent: boolean;
  dxaOrdered: boolean;
  ctHuRecent: boolean;
  vitaminDRecent: boolean;
  evaluated: boolean;
  concerning: boolean;
}

type Draft = Pick<Finding, 'advice' | 'lead' | 'second' | 'keys'> &
  Partial<Pick<Finding, 'gap' | 'anabolic' | 'topic'>> & {
    actions: Finding['actions'];
  };

export interface DecisionRule {
  id: string;
  topic: CardTopic | undefined;
  indicator: Indicator | undefined;
  /** The rule in the README's words. */
  policy: string;
  applies(s: Situation): boolean;
  /** The finding's specifics; undefined topic/indicator means "no card". */
  decide?(s: Situation): Draft;
}

const keysOf = (items: EvidenceItem[]): string[] => items.map((i) => i.key).sort();

function leadScore(list: ScoreAssessment[]): ScoreAssessment | undefined {
  return [...list].sort(
    (a, b) => (b.lead?.auc ?? 0) - (a.lead?.auc ?? 0) || a.score.metric.localeCompare(b.score.metric),
  )[0];
}

function scoreItem(s: Situation, a: ScoreAssessment | undefined): EvidenceItem | undefined {
  return a === undefined
    ? undefined
    : [...s.ev.strong, ...s.ev.borderline].find((e) => e.kind === 'score' && e.assessment === a);
}

function dxaAction(s: Situation, wanted: boolean): ActionState {
  return s.dxaRecent ? 'done' : s.dxaOrdered ? 'ordered' : wanted ? 'suggest' : 'not-needed';
}
function referralAction(s: Situation, wanted: boolean): ActionState {
  return s.referralInPlace ? 'ordered' : wanted ? 'suggest' : 'not-needed';
}
function vitaminDAction(s: Situation): ActionState {
  return s.vitaminDRecent ? 'done' : s.facts.vitaminDOrders.length > 0 ? 'ordered' : 'suggest';
}
function fullWorkup(s: Situation): Finding['actions'] {
  return { dxa: dxaAction(s, true), referral: referralAction(s, true), vitaminD: vitaminDAction(s) };
}

/** The main rules, in order: the first that applies decides. */
export const DECISION_RULES: readonly DecisionRule[] = [
  {
    id: 'untreated-osteoporosis-high-risk-surgery',
    topic: 'osteoporosis-high-risk-surgery',
    indicator: 'critical',
    policy:
      'Osteoporosis evidence (DXA T <= -2.5, fragility fracture, L1 CT <= 110 HU, or a diagnosis) with a score at or above the procedure cutoff or a long-segment / deformity procedure, and no current treatment',
    applies: (s) =>
      s.osteo.length > 0 && (s.aboveProcedure.length > 0 || s.procedure.longConstruct) && !s.treated,
    decide: (s) => ({
      advice: 'treat-before-surgery',
      lead: s.osteo[0],
      second: scoreItem(s, leadScore(s.aboveProcedure)),
      actions: fullWorkup(s),
      anabolic: s.procedure.longConstruct,
      keys: keysOf([...s.osteo, ...s.ev.strong.filter((e) => e.kind === 'score')]),
    }),
  },
  {
    id: 'osteoporosis-evidence-not-evaluated',
    topic: 'osteoporosis-evidence',
    indicator: 'warning',
    policy: 'Osteoporosis evidence with neither treatment nor a bone-health referral',
    applies: (s) => s.osteo.length > 0 && !s.treated && !s.referralInPlace,
    decide: (s) => ({
      advice: 'referral',
      lead: s.osteo[0],
      second: undefined,
      actions: fullWorkup(s),
      anabolic: s.procedure.longConstruct,
      keys: keysOf(s.osteo),
    }),
  },
  {
    id: 'z-score-below-expected-range',
    topic: 'osteoporosis-evidence',
    indicator: 'warning',
    policy:
      'Premenopausal women and men under 50 (age 50 when menopausal status is unknown): a recent DXA Z-score <= -2.0 is below the expected range for age (ISCD; the WHO T-score classification does not apply), with neither treatment nor a bone-health referral',
    applies: (s) => s.lowZ !== undefined && !s.treated && !s.referralInPlace,
    decide: (s) => ({
      advice: 'z-score-referral',
      lead: s.lowZ,
      second: scoreItem(s, leadScore(s.aboveProcedure)),
      actions: fullWorkup(s),
      keys: keysOf([s.lowZ!, ...s.ev.strong.filter((e) => e.kind === 'score')]),
    }),
  },
  {
    id: 'score-above-procedure-cutoff',
    topic: 'bone-quality-above-cutoff',
    indicator: 'warning',
    policy:
      "A score at or above the procedure's cutoff with no confounder, and no DXA in the look-back that classifies density (a BMD-only DXA is on record, not evidence), referral or treatment",
    applies: (s) => s.strongScores.length > 0 && !s.treated && !s.dxaClassified && !s.referralInPlace,
    decide: (s) => ({
      advice: 'workup',
      lead: scoreItem(s, leadScore(s.strongScores)),
      second: undefined,
      actions: fullWorkup(s),
      keys: keysOf(s.ev.strong),
    }),
  },
  {
    id: 'antiresorptive-only-long-construct',
    topic: 'evaluation-in-progress',
    indicator: 'info',
    policy:
      'On an antiresorptive only (no anabolic agent) before a deformity or long-segment fusion: AO Spine 2025, anabolic treatment for >= 3 months before surgery may be considered',
    applies: (s) =>
      s.treated && s.procedure.longConstruct && s.facts.treatments.every((t) => t.drugClass !== 'anabolic'),
    decide: (s) => ({
      advice: 'consider-anabolic',
      lead: [...s.osteo, ...(s.lowZ ? [s.lowZ] : []), ...s.ev.strong, ...s.ev.borderline][0],
      second: undefined,
      actions: { dxa: dxaAction(s, true), referral: referralAction(s, false), vitaminD: vitaminDAction(s) },
      anabolic: true,
      keys: ['antiresorptive-only', ...s.facts.treatments.map((t) => `tx:${t.source}`).sort()],
    }),
  },
  {
    id: 'treated-and-evaluated',
    topic: undefined,
    indicator: undefined,
    policy:
      "Current treatment (by each drug's dosing interval) and a DXA in the look-back or ordered: evaluation and treatment in place, no card",
    applies: (s) => s.treated && (s.dxaRecent || s.dxaOrdered),
  },
  {
    id: 'partly-in-place',
    topic: 'evaluation-in-progress',
    indicator: 'info',
    policy:
      'Concerning findings with evaluation or treatment partly in place (or a score above the cutoff discordant with a recent DXA)',
    applies: (s) =>
      s.concerning &&
      (s.treated ||
        ((s.osteo.length > 0 || s.lowZ !== undefined) && s.referralInPlace) ||
        s.strongScores.length > 0),
    decide: (s) => {
      const items = [
        ...new Set([...s.osteo, ...(s.lowZ ? [s.lowZ] : []), ...s.ev.strong, ...s.ev.borderline]),
      ];
      // Discordant only with a DXA that classifies density: a BMD-only DXA cannot disagree with anything.
      const discordant = s.strongScores.length > 0 && s.dxaClassified && !s.treated && !s.referralInPlace;
      const noAnabolic = !s.facts.treatments.some((t) => t.drugClass === 'anabolic');
      return {
        // A high score against a recent non-osteoporotic DXA is a borderline finding, not an evaluation.
        topic: discordant ? 'borderline-bone-quality' : 'evaluation-in-progress',
        advice: discordant
          ? 'discordant-with-dxa'
          : s.treated
            ? 'on-treatment-complete-evaluation'
            : 'evaluation-in-progress',
        lead: items[0],
        // The recent DXA the score disagrees with is part of the deciding evidence.
        second: discordant
          ? (s.ev.reassuring.find((e) => e.kind === 'dxa' || e.kind === 'dxa-z') ??
            s.ev.borderline.find((e) => e.kind === 'dxa'))
          : undefined,
        actions: {
          dxa: dxaAction(s, s.treated),
          referral: referralAction(s, false),
          vitaminD: vitaminDAction(s),
        },
        anabolic: s.osteo.length > 0 && s.procedure.longConstruct && noAnabolic,
        keys: keysOf(items),
      };
    },
  },
  {
    id: 'borderline-or-confounded',
    topic: 'borderline-bone-quality',
    indicator: 'info',
    policy:
      "Borderline or confounded findings: a score above the screening cutoff but below the procedure's, a confounded or stale score above it, osteopenia, L1 111-160 HU",
    applies: (s) => s.ev.borderline.length > 0,
    decide: (s) => ({
      advice: s.evaluated ? 'review-borderline' : 'consider-dxa',
      lead: s.ev.borderline[0],
      second: undefined,
      actions: { dxa: dxaAction(s, true), referral: 'not-needed', vitaminD: vitaminDAction(s) },
      keys: keysOf(s.ev.borderline),
    }),
  },
  {
    id: 'cross-region-screening',
    topic: 'borderline-bone-quality',
    indicator: 'info',
    policy:
      "A recent score of another spinal region (a lumbar score before a cervical or thoracic procedure, a cervical one before a lumbar) above its screening cutoff, no DXA in the look-back: evidence of systemic bone quality at the screening level only, never compared with this procedure's cutoffs; DXA suggested",
    applies: (s) => s.crossRegion.length > 0 && !s.dxaRecent,
    decide: (s) => {
      const a = s.crossRegion[0]!;
      const cutoffs = a.screening === undefined ? [] : [a.screening.cutoff];
      const lead: EvidenceItem = {
        kind: 'score',
        key: `cross-region:${a.score.source}:${a.score.value}`,
        role: 'borderline',
        cutoffs,
        assessment: a,
      };
      return {
        advice: 'cross-region-screening',
        lead,
        second: undefined,
        actions: { dxa: dxaAction(s, true), referral: 'not-needed', vitaminD: vitaminDAction(s) },
        keys: [lead.key],
      };
    },
  },
  {
    id: 'on-treatment-baseline-dxa',
    topic: 'evaluation-in-progress',
    indicator: 'info',
    policy: 'Current treatment with no DXA in the look-back and none ordered: a baseline DXA',
    applies: (s) => s.treated && !s.dxaRecent && !s.dxaOrdered,
    decide: (s) => ({
      advice: 'baseline-dxa-on-treatment',
      lead: undefined,
      second: undefined,
      actions: { dxa: 'suggest', referral: 'not-needed', vitaminD: vitaminDAction(s) },
      keys: ['baseline-dxa', ...s.facts.treatments.map((t) => `tx:${t.source}`).sort()],
    }),
  },
];

/**
 * Concerns that stand beside the main finding (each adds its own card whatever the main rules decided):
 * an overdue denosumab dose is a safety matter of its own.
 */
export const CONCURRENT_RULES: readonly DecisionRule[] = [
  {
    id: 'denosumab-overdue',
    topic: 'evaluation-in-progress',
    indicator: 'warning',
    policy:
      'Denosumab with the last dose more than 7 months ago (6-monthly dosing) and no follow-on treatment since: overdue, rebound vertebral-fracture risk; the card names the last dose date',
    applies: (s) => overdueTreatments(s.kb, s.facts, s.now).length > 0,
    decide: (s) => {
      const o = overdueTreatments(s.kb, s.facts, s.now)[0]!;
      return {
        advice: 'denosumab-overdue',
        lead: undefined,
        second: undefined,
        actions: { dxa: 'not-needed', referral: referralAction(s, true), vitaminD: 'not-needed' },
        keys: [`overdue:${o.ingredient}:${o.source}:${o.lastDose}`],
      };
    },
  },
];

/** Data-gap rules, consulted only when no main rule applies; each that applies adds a finding. */
export const GAP_RULES: readonly DecisionRule[] = [
  {
    id: 'preliminary-score-only',
    topic: 'borderline-bone-quality',
    indicator: 'info',
    policy:
      'Only a preliminary score of the planned region (no final, amended or corrected one of that metric): shown as preliminary, never as a result (info at most)',
    applies: (s) => unconfirmedPreliminary(s.facts, s.procedure).length > 0,
    decide: (s) => ({
      advice: 'preliminary-score',
      lead: undefined,
      second: undefined,
      actions: { dxa: 'not-needed', referral: 'not-needed', vitaminD: 'not-needed' },
      keys: unconfirmedPreliminary(s.facts, s.procedure)
        .map((p) => `preliminary:${p.source}:${p.value}`)
        .sort(),
    }),
  },
  {
    id: 'bone-density-not-assessed',
    topic: 'bone-density-not-assessed',
    indicator: 'info',
    policy:
      'Age >= 65 or chronic glucocorticoids, no DXA or CT HU in the look-back, and nothing on record that shows adequate bone quality',
    applies: (s) => gapReason(s) !== undefined,
    decide: (s) => {
      const gap = gapReason(s)!;
      return {
        advice: s.dxaOrdered ? 'dxa-already-ordered' : 'dxa-advised',
        lead: undefined,
        second: undefined,
        gap,
        actions: { dxa: dxaAction(s, true), referral: 'not-needed', vitaminD: vitaminDAction(s) },
        keys: [`age-gap:${s.facts.patient.ageYears ?? 'unknown'}:${s.facts.glucocorticoids.longTerm}`],
      };
    },
  },
  {
    id: 'mri-without-bone-quality',
    topic: 'mri-without-bone-quality',
    indicator: 'info',
    policy: 'A recent spine MR of the planned region with no bone-quality score (and no score at all)',
    applies: (s) =>
      s.scores.length === 0 &&
      unconfirmedPreliminary(s.facts, s.procedure).length === 0 &&
      unscored(s).length > 0,
    decide: (s) => ({
      advice: 'measure-score',
      lead: undefined,
      second: undefined,
      actions: { dxa: 'not-needed', referral: 'not-needed', vitaminD: 'not-needed' },
      keys: unscored(s)
        .map((m) => `mri:${m.source}`)
        .sort(),
    }),
  },
];

function unscored(s: Situation) {
  return s.facts.mrWithoutScore.filter((m) => s.procedure.scoreRegions.includes(m.region));
}

function gapReason(s: Situation): GapReason | undefined {
  const p = s.kb.parameters;
  // Data that already show adequate bone quality: a recent score below screening, or recent CT HU above
  // the low-bone band. Nothing else (no DXA without a T-score, no stale value) counts as adequate.
  const adequate =
    s.scores.some((a) => a.status === 'below-screening' && a.score.ageMonths <= p.staleDataMonths) ||
    (s.ctHuRecent && (s.facts.ctHu?.value ?? 0) > p.ctHuLowBone);
  if (adequate || s.dxaRecent || s.ctHuRecent) return undefined;
  const age = s.facts.patient.ageYears;
  if (age !== undefined && age >= p.ageEvaluationYears) return { kind: 'age', ageYears: age };
  if (s.facts.glucocorticoids.longTerm) return { kind: 'glucocorticoids' };
  return undefined;
}

function situation(kb: KnowledgeBase, facts: Facts, procedure: PlannedProcedure, now: Date): Situation {
  const p = kb.parameters;
  const scores = facts.scores
    .filter((s) => procedure.scoreRegions.includes(s.region))
    .map((s) => assessScore(kb, facts, procedure, s))
    .sort(
      (a, b) => a.score.metric.localeCompare(b.score.metric) || a.score.region.localeCompare(b.score.region),
    );
  const basis = dxaBasis(kb, facts);
  const ev = collectEvidence(kb, facts, scores, basis);
  const osteo = ev.strong.filter((e) => e.kind !== 'score' && e.kind !== 'dxa-z');
  const lowZ = ev.strong.find((e) => e.kind === 'dxa-z');
  const strongScores = scores.filter((s) => s.status === 'above-procedure' && s.confounders.length === 0);
  const dxaRecent = facts.dxa.recent;
  const referralInPlace = facts.referrals.length > 0;
  return {
    kb,
    facts,
    procedure,
    scores,
    ev,
    osteo,
    lowZ,
    basis,
    dxaClassified: dxaClassifies(kb, facts, basis),
    crossRegion: crossRegionScores(kb, facts, procedure),
    now,
    strongScores,
    aboveProcedure: scores.filter((s) => s.status === 'above-procedure'),
    treated: facts.treatments.length > 0,
    referralInPlace,
    dxaRecent,
    dxaOrdered: facts.dxaOrders.length > 0,
    ctHuRecent: facts.ctHu !== undefined && facts.ctHu.ageMonths <= p.dxaLookbackMonths,
    vitaminDRecent: facts.vitaminD !== undefined && facts.vitaminD.ageMonths <= p.vitaminDLookbackMonths,
    evaluated: dxaRecent || referralInPlace,
    concerning: osteo.length > 0 || lowZ !== undefined || strongScores.length > 0 || ev.borderline.length > 0,
  };
}

function contextOf(s: Situation): FindingContext {
  const { facts, kb } = s;
  const v = facts.vitaminD;
  return {
    treatments: facts.treatments,
    dxaOrders: facts.dxaOrders,
    referrals: facts.referrals,
    vitaminD:
      v === undefined
        ? undefined
        : { ...v, low: s.vitaminDRecent && v.value < kb.parameters.vitaminDLowNgPerMl },
    glucocorticoids: facts.glucocorticoids.longTerm,
    excludedScores: facts.excludedScores,
    unscoredStudies: unscored(s),
    dxaLastDate: facts.dxa.lastDate,
    dataIssues: facts.dataIssues,
    dxaBasis: s.basis,
    dxaUnclassified: s.dxaRecent && !s.dxaClassified,
    kidney: kidneyLimit(kb, facts),
    overdue: overdueTreatments(kb, facts, s.now),
    earlierHigher: earlierHigherScores(facts, s.procedure),
    crossRegion: s.crossRegion,
    preliminary: unconfirmedPreliminary(facts, s.procedure),
  };
}

/**
 * The finding, built field by field rather than as `{ ...base, ...draft }`: V8 copies a second spread into
 * an object literal on its slow generic path (tens of µs per finding, most of assess's time).
 */
function toFinding(
  rule: DecisionRule,
  draft: Draft,
  base: Omit<Finding, keyof Draft | 'rule' | 'topic' | 'indicator'>,
): Finding {
  return {
    procedure: base.procedure,
    scores: base.scores,
    evidence: base.evidence,
    caveats: base.caveats,
    context: base.context,
    gap: draft.gap,
    anabolic: draft.anabolic ?? false,
    advice: draft.advice,
    lead: draft.lead,
    second: draft.second,
    actions: draft.actions,
    keys: draft.keys,
    rule: rule.id,
    topic: draft.topic ?? rule.topic!,
    indicator: rule.indicator!,
  };
}

/**
 * Runs the decision table for one hook call and returns at most one finding per concern: the main
 * bone-health finding, or when there is none, the data-gap findings.
 */
export function assess(
  kb: KnowledgeBase,
  facts: Facts,
  procedure: PlannedProcedure,
  /** The call's clock (the same as the facts'): dose recency is counted to it. */
  now: Date,
): Finding[] {
  const s = situation(kb, facts, procedure, now);
  const base = {
    procedure,
    scores: s.scores,
    evidence: [...s.ev.strong, ...s.ev.borderline, ...s.ev.reassuring],
    caveats: caveatsFor(kb, facts, s.scores, s.basis.basis === 't-score'),
    context: contextOf(s),
  };
  const concurrent = CONCURRENT_RULES.filter((rule) => rule.applies(s)).map((rule) =>
    toFinding(rule, rule.decide!(s), base),
  );
  const main = DECISION_RULES.find((rule) => rule.applies(s));
  if (main !== undefined)
    return [...(main.decide ? [toFinding(main, main.decide(s), base)] : []), ...concurrent];
  return [
    ...GAP_RULES.filter((rule) => rule.applies(s)).map((rule) => toFinding(rule, rule.decide!(s), base)),
    ...concurrent,
  ];
}
