/**
 * The clinical decision logic: facts + knowledge base + planned procedure -> findings, at most one per
 * concern. Pure and deterministic; every number it compares against comes from the knowledge base.
 *
 * Indicator policy (documented in the README):
 * - critical: concordant osteoporosis evidence (DXA T <= -2.5, fragility fracture, L1 HU <= 110, or an
 *   osteoporosis diagnosis) with a score above the procedure's cutoff or a long-segment/deformity
 *   procedure, and no current treatment;
 * - warning: one strong indicator (unconfounded score above the procedure's cutoff, or osteoporosis
 *   evidence) without a completed evaluation or treatment;
 * - info: borderline or confounded findings, partial evaluation, and data gaps;
 * - no card: adequate bone quality, or evaluation and treatment already in place.
 */
import type { BoneQualityScoreFact, Facts, MrStudyFact } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { CardTopic, CaveatName, Cutoff } from '../knowledge/schema.js';
import type { Indicator } from '../cds/types.js';
import {
  meets,
  procedureCutoffs,
  screeningCutoff,
  supportingCutoffs,
  type CutoffComparison,
} from './cutoffs.js';
import { day, metricLabel, num } from './format.js';
import type { PlannedProcedure } from './procedure.js';

export type EvidenceRole = 'strong' | 'borderline' | 'reassuring' | 'context';

export interface EvidenceItem {
  /** Stable key of the datum (kind, source, value): feeds the card uuid. */
  key: string;
  role: EvidenceRole;
  /** Markdown line: the value with its date and source. */
  text: string;
  /** Short phrase with the key number, for summaries. */
  short: string;
  source: string;
  date: string | undefined;
  cutoffs: Cutoff[];
}

export type ScoreStatus = 'above-procedure' | 'above-screening' | 'below-screening' | 'no-cutoff';

export interface ScoreAssessment {
  score: BoneQualityScoreFact;
  procedure: CutoffComparison[];
  screening: CutoffComparison | undefined;
  supporting: CutoffComparison[];
  confounders: ('hyperlipidemia' | 'stale')[];
  status: ScoreStatus;
  /** The exceeded procedure cutoff named in the summary (best AUC), when any. */
  lead: Cutoff | undefined;
}

export type ActionState = 'suggest' | 'ordered' | 'done' | 'not-needed';

export interface Finding {
  topic: CardTopic;
  indicator: Indicator;
  /** Short phrase carrying the key number, e.g. "VBQ 3.42 above the 3.28 TLIF/PLIF cutoff". */
  headline: string;
  /** What the card asks for, e.g. "bone-health workup advised". */
  advice: string;
  procedure: PlannedProcedure;
  scores: ScoreAssessment[];
  evidence: EvidenceItem[];
  caveats: CaveatName[];
  notes: string[];
  actions: { dxa: ActionState; referral: ActionState; vitaminD: ActionState };
  /** AO Spine 2025: anabolic treatment for >= 3 months before a deformity / long fusion. */
  anabolic: boolean;
  /** Stable data keys: patient, topic and these make the card uuid. */
  keys: string[];
}

function ageOk(date: string | undefined, months: number, now: Date): boolean {
  if (date === undefined) return false;
  return (now.getTime() - Date.parse(date)) / 86_400_000 / 30.4375 <= months;
}

function assessScore(
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
  const exclude = new Set([...primary.map((p) => p.cutoff.id), ...(screeningCut ? [screeningCut.id] : [])]);
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

function scoreShort(a: ScoreAssessment, procedure: PlannedProcedure): string {
  const label = metricLabel(a.score.metric, a.score.region);
  if (a.lead !== undefined) {
    const procedureLabel = a.lead.procedureLabel === 'any' ? '' : `${a.lead.procedureLabel} `;
    return `${label} ${num(a.score.value)} above the ${num(a.lead.threshold)} ${procedureLabel}${a.lead.outcome} cutoff`;
  }
  if (a.screening?.exceeded === true) {
    return `${label} ${num(a.score.value)} above the ${num(a.screening.cutoff.threshold)} screening cutoff`;
  }
  return `${label} ${num(a.score.value)} (${procedure.label})`;
}

interface Evidence {
  strong: EvidenceItem[];
  borderline: EvidenceItem[];
  reassuring: EvidenceItem[];
}

function collectEvidence(
  kb: KnowledgeBase,
  facts: Facts,
  scores: ScoreAssessment[],
  procedure: PlannedProcedure,
): Evidence {
  const p = kb.parameters;
  const ev: Evidence = { strong: [], borderline: [], reassuring: [] };
  const add = (role: EvidenceRole, item: Omit<EvidenceItem, 'role'>): void => {
    const full = { ...item, role };
    if (role === 'strong') ev.strong.push(full);
    else if (role === 'borderline') ev.borderline.push(full);
    else if (role === 'reassuring') ev.reassuring.push(full);
  };
  const cutoffFor = (metric: 'dxa-t-score' | 'ct-hu-l1', threshold: number): Cutoff[] =>
    kb.cutoffs.filter((c) => c.metric === metric && c.threshold === threshold);

  const lowest = facts.dxa.lowest;
  if (lowest !== undefined) {
    const site = `${lowest.laterality === undefined ? '' : `${lowest.laterality} `}${lowest.site.replace('-', ' ')}`;
    const item = {
      key: `dxa:${lowest.source}:${lowest.value}`,
      text: `Lowest DXA T-score ${num(lowest.value)} (${site}, ${day(lowest.date)}, ${lowest.source})`,
      source: lowest.source,
      date: lowest.date,
    };
    if (lowest.value <= p.tScoreOsteoporosis) {
      add('strong', {
        ...item,
        short: `DXA T ${num(lowest.value)}`,
        cutoffs: cutoffFor('dxa-t-score', p.tScoreOsteoporosis),
      });
    } else if (lowest.value < p.tScoreOsteopenia) {
      add('borderline', {
        ...item,
        short: `osteopenia (DXA T ${num(lowest.value)})`,
        cutoffs: cutoffFor('dxa-t-score', p.tScoreOsteopenia),
      });
    } else {
      add('reassuring', { ...item, short: `DXA T ${num(lowest.value)}`, cutoffs: [] });
    }
  }
  for (const fracture of facts.conditions['fragility-fracture']) {
    add('strong', {
      key: `fracture:${fracture.source}`,
      text: `Fragility fracture on record: ${fracture.display} (${day(fracture.date)}, ${fracture.source})`,
      short: 'prior fragility fracture',
      source: fracture.source,
      date: fracture.date,
      cutoffs: [],
    });
  }
  for (const dx of facts.conditions.osteoporosis) {
    add('strong', {
      key: `osteoporosis:${dx.source}`,
      text: `Osteoporosis on the problem list: ${dx.display} (${day(dx.date)}, ${dx.source})`,
      short: 'osteoporosis diagnosis',
      source: dx.source,
      date: dx.date,
      cutoffs: [],
    });
  }
  const hu = facts.ctHu;
  if (hu !== undefined) {
    const item = {
      key: `ct-hu:${hu.source}:${hu.value}`,
      text: `L1 trabecular CT attenuation ${num(hu.value)} HU (${day(hu.date)}, ${hu.source})`,
      source: hu.source,
      date: hu.date,
    };
    if (hu.value <= p.ctHuOsteoporosis) {
      add('strong', {
        ...item,
        short: `L1 ${num(hu.value)} HU`,
        cutoffs: cutoffFor('ct-hu-l1', p.ctHuOsteoporosis),
      });
    } else if (hu.value <= p.ctHuLowBone) {
      add('borderline', {
        ...item,
        short: `L1 ${num(hu.value)} HU`,
        cutoffs: cutoffFor('ct-hu-l1', p.ctHuLowBone),
      });
    } else {
      add('reassuring', {
        ...item,
        short: `L1 ${num(hu.value)} HU`,
        cutoffs: cutoffFor('ct-hu-l1', p.ctHuNormal),
      });
    }
  }
  for (const dx of facts.conditions.osteopenia) {
    add('borderline', {
      key: `osteopenia:${dx.source}`,
      text: `Osteopenia on the problem list: ${dx.display} (${day(dx.date)}, ${dx.source})`,
      short: 'osteopenia on the problem list',
      source: dx.source,
      date: dx.date,
      cutoffs: [],
    });
  }
  for (const a of scores) {
    const key = `score:${a.score.source}:${a.score.value}:${a.lead?.id ?? a.status}`;
    const item = {
      key,
      text: '',
      short: scoreShort(a, procedure),
      source: a.score.source,
      date: a.score.date,
      cutoffs: [...a.procedure, ...(a.screening ? [a.screening] : [])].map((c) => c.cutoff),
    };
    if (a.status === 'above-procedure' && a.confounders.length === 0) add('strong', item);
    else if (a.status === 'above-procedure' || a.status === 'above-screening') add('borderline', item);
    else if (a.status === 'below-screening') add('reassuring', item);
  }
  return ev;
}

function caveatsFor(kb: KnowledgeBase, facts: Facts, scores: ScoreAssessment[], now: Date): CaveatName[] {
  const caveats = new Set<CaveatName>();
  const used = scores;
  if (used.length > 0) {
    caveats.add('supplementary');
    caveats.add('fieldStrength');
    if (used.some((s) => s.score.fieldStrengthT === undefined)) caveats.add('fieldStrengthUnknown');
    if (facts.conditions.hyperlipidemia.length > 0) caveats.add('hyperlipidemia');
    if ((facts.patient.ageYears ?? 0) >= kb.parameters.vbqAgeCaveatYears) caveats.add('age');
    if (facts.patient.sex === 'male') caveats.add('sex');
  }
  const stale = kb.parameters.staleDataMonths;
  if (
    used.some((s) => s.score.ageMonths > stale) ||
    facts.dxa.stale ||
    (facts.ctHu !== undefined && !ageOk(facts.ctHu.date, stale, now))
  ) {
    caveats.add('stale');
  }
  if (facts.dxa.lumbarOnly) caveats.add('lumbarTScore');
  caveats.add('frax');
  return [...caveats];
}

function fraxInputs(facts: Facts): string {
  const inputs: string[] = [];
  if (facts.patient.ageYears !== undefined) inputs.push(`age ${facts.patient.ageYears}`);
  if (facts.patient.sex !== 'unknown') inputs.push(`sex ${facts.patient.sex}`);
  if (facts.conditions['fragility-fracture'].length > 0) inputs.push('prior fragility fracture');
  if (facts.glucocorticoids.longTerm) inputs.push('glucocorticoids');
  if (facts.conditions['rheumatoid-arthritis'].length > 0) inputs.push('rheumatoid arthritis');
  const neck = facts.dxa.tScores.find((t) => t.site === 'femoral-neck');
  if (neck !== undefined) inputs.push(`femoral neck T ${num(neck.value)}`);
  return inputs.length > 0 ? `FRAX inputs on record: ${inputs.join(', ')}.` : 'No FRAX inputs on record.';
}

function gapNotes(facts: Facts): string[] {
  return facts.mrWithoutScore.map(
    (s: MrStudyFact) =>
      `${s.region === 'cervical' ? 'Cervical' : 'Lumbar'} MR study ${s.source} (${day(s.date)}) has no bone-quality score yet.`,
  );
}

/**
 * Runs the decision logic for one hook call and returns at most one finding per concern: the main
 * bone-health finding, or when there is none, the data-gap findings.
 */
export function assess(kb: KnowledgeBase, facts: Facts, procedure: PlannedProcedure, now: Date): Finding[] {
  const p = kb.parameters;
  const scores = facts.scores
    .filter((s) => procedure.scoreRegions.includes(s.region))
    .map((s) => assessScore(kb, facts, procedure, s))
    .sort(
      (a, b) => a.score.metric.localeCompare(b.score.metric) || a.score.region.localeCompare(b.score.region),
    );
  const ev = collectEvidence(kb, facts, scores, procedure);
  const osteo = ev.strong.filter((e) => !e.key.startsWith('score:'));
  const strongScores = scores.filter((s) => s.status === 'above-procedure' && s.confounders.length === 0);
  const aboveProcedure = scores.filter((s) => s.status === 'above-procedure');
  const treated = facts.treatments.length > 0;
  const referralInPlace = facts.referrals.length > 0;
  const dxaRecent = facts.dxa.recent;
  const dxaOrdered = facts.dxaOrders.length > 0;
  const ctHuRecent = facts.ctHu !== undefined && facts.ctHu.ageMonths <= p.dxaLookbackMonths;
  const vitaminDRecent = facts.vitaminD !== undefined && facts.vitaminD.ageMonths <= p.vitaminDLookbackMonths;
  const vitaminDLow = vitaminDRecent && (facts.vitaminD?.value ?? Infinity) < p.vitaminDLowNgPerMl;
  const caveats = caveatsFor(kb, facts, scores, now);

  const dxaAction = (wanted: boolean): ActionState =>
    dxaRecent ? 'done' : dxaOrdered ? 'ordered' : wanted ? 'suggest' : 'not-needed';
  const referralAction = (wanted: boolean): ActionState =>
    referralInPlace ? 'ordered' : wanted ? 'suggest' : 'not-needed';
  const vitaminDAction = (): ActionState =>
    vitaminDRecent ? 'done' : facts.vitaminDOrders.length > 0 ? 'ordered' : 'suggest';

  const notes: string[] = [];
  if (treated) {
    notes.push(
      `Current osteoporosis treatment: ${facts.treatments.map((t) => `${t.ingredient} (${t.status}, ${t.source})`).join('; ')}.`,
    );
  }
  for (const o of facts.dxaOrders)
    notes.push(`DXA already ordered: ${o.display} (${o.status}, ${day(o.date)}, ${o.source}).`);
  for (const o of facts.referrals)
    notes.push(
      `Bone-health referral already in place: ${o.display} (${o.status}, ${day(o.date)}, ${o.source}).`,
    );
  if (facts.vitaminD !== undefined) {
    const v = facts.vitaminD;
    notes.push(
      `25-OH vitamin D ${num(v.value)} ng/mL (${day(v.date)}, ${v.source})${vitaminDLow ? `: below ${num(p.vitaminDLowNgPerMl)} ng/mL, replete before surgery (Dimar 2021)` : ''}.`,
    );
  } else {
    notes.push(`No 25-OH vitamin D result in the last ${p.vitaminDLookbackMonths} months.`);
  }
  if (facts.glucocorticoids.longTerm) {
    notes.push(
      `Systemic glucocorticoids for >= ${Math.round(p.glucocorticoidMinDays / 30)} months (${facts.glucocorticoids.sources.join(', ')}).`,
    );
  }
  for (const ex of facts.excludedScores) {
    notes.push(
      `Not used: ${ex.metric} ${ex.value === undefined ? '' : `${num(ex.value)} `}(${day(ex.date)}, ${ex.source}): ${ex.reasons.join('; ')}.`,
    );
  }
  notes.push(...gapNotes(facts));
  notes.push(fraxInputs(facts));

  const base = {
    procedure,
    scores,
    caveats,
    notes,
    evidence: [...ev.strong, ...ev.borderline, ...ev.reassuring],
  };
  const leadScore = (list: ScoreAssessment[]): ScoreAssessment | undefined =>
    [...list].sort(
      (a, b) => (b.lead?.auc ?? 0) - (a.lead?.auc ?? 0) || a.score.metric.localeCompare(b.score.metric),
    )[0];
  const keysOf = (items: EvidenceItem[]): string[] => items.map((i) => i.key).sort();

  // critical
  if (osteo.length > 0 && (aboveProcedure.length > 0 || procedure.longConstruct) && !treated) {
    const lead = leadScore(aboveProcedure);
    const first = osteo[0]!;
    const headline =
      lead !== undefined
        ? `${first.short} and ${scoreShort(lead, procedure)}`
        : `${first.short} before ${procedure.label}`;
    return [
      {
        ...base,
        topic: 'osteoporosis-high-risk-surgery',
        indicator: 'critical',
        headline,
        advice: 'untreated, treat before elective surgery',
        actions: { dxa: dxaAction(true), referral: referralAction(true), vitaminD: vitaminDAction() },
        anabolic: procedure.longConstruct,
        keys: keysOf([...osteo, ...ev.strong.filter((e) => e.key.startsWith('score:'))]),
      },
    ];
  }
  // warning: osteoporosis evidence without evaluation or treatment
  if (osteo.length > 0 && !treated && !referralInPlace) {
    return [
      {
        ...base,
        topic: 'osteoporosis-evidence',
        indicator: 'warning',
        headline: `${osteo[0]!.short}: likely osteoporosis before ${procedure.label}`,
        advice: 'bone-health referral advised',
        actions: { dxa: dxaAction(true), referral: referralAction(true), vitaminD: vitaminDAction() },
        anabolic: procedure.longConstruct,
        keys: keysOf(osteo),
      },
    ];
  }
  // warning: unconfounded score above the procedure's cutoff, no evaluation
  if (strongScores.length > 0 && !treated && !dxaRecent && !referralInPlace) {
    const lead = leadScore(strongScores)!;
    return [
      {
        ...base,
        topic: 'bone-quality-above-cutoff',
        indicator: 'warning',
        headline: scoreShort(lead, procedure),
        advice: 'bone-health workup advised',
        actions: { dxa: dxaAction(true), referral: referralAction(true), vitaminD: vitaminDAction() },
        anabolic: false,
        keys: keysOf(ev.strong),
      },
    ];
  }
  const concerning = osteo.length > 0 || strongScores.length > 0 || ev.borderline.length > 0;
  const evaluated = dxaRecent || referralInPlace;
  // no card: evaluation and treatment in place
  if (treated && evaluated) return [];
  // info: partial evaluation or treatment
  if (concerning && (treated || (osteo.length > 0 && referralInPlace) || strongScores.length > 0)) {
    const items = [...osteo, ...ev.strong, ...ev.borderline];
    const first = items[0]!;
    const noAnabolic = !facts.treatments.some((t) => t.drugClass === 'anabolic');
    const discordant = strongScores.length > 0 && dxaRecent && !treated && !referralInPlace;
    return [
      {
        ...base,
        topic: discordant ? 'borderline-bone-quality' : 'evaluation-in-progress',
        indicator: 'info',
        headline: first.short,
        advice: discordant
          ? 'recent DXA not osteoporotic; interpret with caution'
          : treated
            ? 'on treatment; complete the evaluation'
            : 'evaluation in progress; treatment not yet recorded',
        actions: {
          dxa: dxaAction(treated),
          referral: referralAction(false),
          vitaminD: vitaminDAction(),
        },
        anabolic: osteo.length > 0 && procedure.longConstruct && noAnabolic,
        keys: keysOf(items),
      },
    ];
  }
  // info: borderline or confounded
  if (ev.borderline.length > 0) {
    return [
      {
        ...base,
        topic: 'borderline-bone-quality',
        indicator: 'info',
        headline: ev.borderline[0]!.short,
        advice: evaluated ? 'borderline bone quality; review before surgery' : 'consider DXA before surgery',
        actions: { dxa: dxaAction(true), referral: 'not-needed', vitaminD: vitaminDAction() },
        anabolic: false,
        keys: keysOf(ev.borderline),
      },
    ];
  }
  // data gaps (only when nothing above applies)
  const findings: Finding[] = [];
  // Data that already show adequate bone quality: a recent score below screening, or recent CT HU above the low-bone band.
  const adequate =
    scores.some((s) => s.status === 'below-screening' && s.score.ageMonths <= p.staleDataMonths) ||
    (ctHuRecent && (facts.ctHu?.value ?? 0) > p.ctHuLowBone);
  const age = facts.patient.ageYears;
  const riskFactor = facts.glucocorticoids.longTerm;
  if (
    !adequate &&
    !dxaRecent &&
    !ctHuRecent &&
    ((age !== undefined && age >= p.ageEvaluationYears) || riskFactor)
  ) {
    const why =
      age !== undefined && age >= p.ageEvaluationYears
        ? `Age ${age}`
        : `Glucocorticoids >= ${Math.round(p.glucocorticoidMinDays / 30)} months`;
    findings.push({
      ...base,
      topic: 'bone-density-not-assessed',
      indicator: 'info',
      headline: `${why}, no bone density assessment in ${Math.round(p.dxaLookbackMonths / 12)} years`,
      advice: dxaOrdered ? 'DXA already ordered' : 'DXA advised before elective spine surgery',
      actions: { dxa: dxaAction(true), referral: 'not-needed', vitaminD: vitaminDAction() },
      anabolic: false,
      keys: [`age-gap:${age ?? 'unknown'}:${riskFactor}`],
    });
  }
  const unscored = facts.mrWithoutScore.filter((s) => procedure.scoreRegions.includes(s.region));
  if (unscored.length > 0 && scores.length === 0) {
    const study = unscored[0]!;
    findings.push({
      ...base,
      topic: 'mri-without-bone-quality',
      indicator: 'info',
      headline: `${study.region === 'cervical' ? 'Cervical' : 'Lumbar'} MR of ${day(study.date)} has no bone-quality score`,
      advice: `measure ${study.region === 'cervical' ? 'C-VBQ' : 'VBQ'} before surgery`,
      actions: { dxa: 'not-needed', referral: 'not-needed', vitaminD: 'not-needed' },
      anabolic: false,
      keys: unscored.map((s) => `mri:${s.source}`).sort(),
    });
  }
  return findings;
}
