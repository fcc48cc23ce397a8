/**
 * All card wording: findings (data) -> the summary's headline and advice, and the detail's lines. A
 * card is read in ten seconds: the deciding values with their dates, the one cutoff that decided with its
 * performance and citation, what is recommended and why, and at most two caveats for this patient.
 * Everything else (other published cutoffs, the full evidence, history) is in the care-team view.
 */
import type { KnowledgeBase } from '../knowledge/index.js';
import type { CaveatName, Cutoff } from '../knowledge/schema.js';
import type { Advice, EvidenceItem, Finding, ScoreAssessment } from '../rules/index.js';
import { compareFieldStrength, type CutoffSelection } from '../rules/cutoffs.js';
import type { PlannedProcedure } from '../rules/procedure.js';
import { num, shortCitation } from '../knowledge/text.js';
import { humanDate, metricLabel, pct } from './format.js';

/** A detail line and how readily it is dropped to fit the card (higher first). */
export interface DetailLine {
  text: string;
  dropOrder: number;
  refs: string[];
}

const COMPARATOR: Record<Cutoff['comparator'], string> = {
  '>=': 'at or above',
  '>': 'above',
  '<=': 'at or below',
  '<': 'below',
};

function procedureOf(cutoff: Cutoff): string {
  return cutoff.procedureLabel === 'any' ? '' : `${cutoff.procedureLabel} `;
}

/** "sens 85.6%, spec 70.1%, AUC 0.81" (what was published; nothing when nothing was). */
export function performance(cutoff: Cutoff): string | undefined {
  const parts = [
    cutoff.sensitivity === undefined ? undefined : `sens ${pct(cutoff.sensitivity)}`,
    cutoff.specificity === undefined ? undefined : `spec ${pct(cutoff.specificity)}`,
    cutoff.auc === undefined ? undefined : `AUC ${num(cutoff.auc)}`,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

function cited(kb: KnowledgeBase, cutoff: Cutoff): string {
  const perf = performance(cutoff);
  const ref = kb.references[cutoff.reference];
  const review = ref?.reviewedIn === undefined ? '' : `, reviewed in ${shortCitation(kb, ref.reviewedIn)}`;
  return `(${perf === undefined ? '' : `${perf}; `}${shortCitation(kb, cutoff.reference)}${review})`;
}

/** "; from a single retrospective cohort (n = 256, 67 events)" when the knowledge base records the design. */
function design(cutoff: Cutoff): string {
  const c = cutoff.cohort;
  if (c?.design === undefined) return '';
  const n = c.n === undefined ? '' : ` (n = ${c.n}${c.events === undefined ? '' : `, ${c.events} events`})`;
  return `, from a ${c.design}${n}`;
}

/** How a score's comparison with a cutoff reads: its field-strength label, and a caveat line when needed. */
export function fieldStrengthOf(kb: KnowledgeBase, cutoff: Cutoff, a: ScoreAssessment): CutoffSelection {
  return compareFieldStrength(kb, cutoff, a.score);
}

/** "VBQ 3.42 above the 3.28 TLIF cage subsidence cutoff": the score with the cutoff that decided. */
export function scoreShort(a: ScoreAssessment, procedure: PlannedProcedure): string {
  const label = metricLabel(a.score.metric, a.score.region);
  if (a.lead !== undefined)
    return `${label} ${num(a.score.value)} above the ${num(a.lead.threshold)} ${procedureOf(a.lead)}${a.lead.outcome} cutoff`;
  if (a.screening?.exceeded === true)
    return `${label} ${num(a.score.value)} above the ${num(a.screening.cutoff.threshold)} screening cutoff`;
  return `${label} ${num(a.score.value)} (${procedure.label})`;
}

/** The key number of a datum, for summaries. */
export function evidenceShort(item: EvidenceItem, procedure: PlannedProcedure): string {
  switch (item.kind) {
    case 'dxa':
      return item.role === 'borderline'
        ? `osteopenia (DXA T ${num(item.fact.value)})`
        : `DXA T ${num(item.fact.value)}`;
    case 'dxa-z':
      return item.role === 'strong'
        ? `DXA Z ${num(item.fact.value)} (below the expected range for age)`
        : `DXA Z ${num(item.fact.value)}`;
    case 'fragility-fracture':
      return 'prior fragility fracture';
    case 'osteoporosis-diagnosis':
      return 'osteoporosis diagnosis';
    case 'osteopenia-diagnosis':
      return 'osteopenia on the problem list';
    case 'ct-hu':
      return `L1 ${num(item.fact.value)} HU`;
    case 'score':
      return scoreShort(item.assessment, procedure);
  }
}

function region(finding: Finding): string {
  return finding.procedure.scoreRegions.includes('cervical') &&
    !finding.procedure.scoreRegions.includes('lumbar')
    ? 'Cervical'
    : 'Lumbar';
}

/** The summary's first part: the finding and its key number. */
export function headline(kb: KnowledgeBase, finding: Finding): string {
  const { procedure, lead, second } = finding;
  const leadShort = lead === undefined ? undefined : evidenceShort(lead, procedure);
  switch (finding.advice) {
    case 'treat-before-surgery':
      return second === undefined
        ? `${leadShort} before ${procedure.label}`
        : `${leadShort} and ${evidenceShort(second, procedure)}`;
    case 'referral':
      return `${leadShort}: likely osteoporosis before ${procedure.label}`;
    case 'dxa-advised':
    case 'dxa-already-ordered': {
      const years = Math.round(kb.parameters.dxaLookbackMonths / 12);
      const why =
        finding.gap?.kind === 'age'
          ? `Age ${finding.gap.ageYears}`
          : `Glucocorticoids >= ${Math.round(kb.parameters.glucocorticoidMinDays / 30)} months`;
      return `${why}, no bone density assessment in ${years} years`;
    }
    case 'z-score-referral':
      return `${leadShort} before ${procedure.label}`;
    case 'denosumab-overdue': {
      const o = finding.context.overdue[0];
      return `${capitalised(o?.ingredient ?? 'treatment')} overdue: last dose ${humanDate(o?.lastDose)}`;
    }
    case 'consider-anabolic':
      return `On ${drugs(finding)} only before ${procedure.label}`;
    case 'baseline-dxa-on-treatment': {
      const years = Math.round(kb.parameters.dxaLookbackMonths / 12);
      return `On ${drugs(finding)}, no DXA in ${years} years`;
    }
    case 'cross-region-screening': {
      const a = lead?.kind === 'score' ? lead.assessment : undefined;
      const where = a?.score.region === 'cervical' ? 'Cervical' : 'Lumbar';
      return `${where} ${leadShort ?? 'score'} before ${procedure.label}`;
    }
    case 'preliminary-score': {
      const p = finding.context.preliminary[0];
      return p === undefined
        ? 'Preliminary score'
        : `Preliminary ${metricLabel(p.metric, p.region)} ${num(p.value)} (${humanDate(p.date)}), not final`;
    }
    case 'measure-score': {
      const study = finding.context.unscoredStudies[0];
      return `${study?.region === 'cervical' ? 'Cervical' : region(finding)} MR of ${humanDate(study?.date)} has no bone-quality score`;
    }
    default:
      return leadShort ?? procedure.label;
  }
}

function capitalised(text: string): string {
  return text.length === 0 ? text : `${text[0]!.toUpperCase()}${text.slice(1)}`;
}

/** "alendronate" or "alendronate and denosumab": the current treatment by ingredient. */
function drugs(finding: Finding): string {
  const names = [...new Set(finding.context.treatments.map((t) => t.ingredient))];
  return names.length === 0 ? 'treatment' : names.join(' and ');
}

/** The summary's second part: what the card asks for (a switch: only the wording asked for is written). */
export function adviceText(finding: Finding): string {
  if (finding.context.kidney !== undefined && finding.advice === 'treat-before-surgery')
    return 'untreated; CKD-aware bone-health referral before elective surgery';
  switch (finding.advice) {
    case 'treat-before-surgery':
      return 'untreated, treat before elective surgery';
    case 'referral':
      return 'bone-health referral advised';
    case 'workup':
      return 'bone-health workup advised';
    case 'discordant-with-dxa': {
      // Only a T-score can show a DXA is not osteoporotic; anything else is "a DXA on record".
      const dxa = finding.evidence.find((e) => e.kind === 'dxa');
      return dxa !== undefined && dxa.kind === 'dxa'
        ? `recent DXA T ${num(dxa.fact.value)}; interpret with caution`
        : 'a recent DXA is on record; interpret with caution';
    }
    case 'on-treatment-complete-evaluation':
      return 'on treatment; complete the evaluation';
    case 'evaluation-in-progress':
      return 'evaluation in progress; treatment not yet recorded';
    case 'review-borderline':
      return 'borderline bone quality; review before surgery';
    case 'consider-dxa':
      return 'consider DXA before surgery';
    case 'dxa-advised':
      return 'DXA advised before elective spine surgery';
    case 'dxa-already-ordered':
      return 'DXA already ordered';
    case 'measure-score':
      return `measure ${finding.context.unscoredStudies[0]?.region === 'cervical' ? 'C-VBQ' : 'VBQ'} before surgery`;
    case 'z-score-referral':
      return 'bone-health referral advised';
    case 'denosumab-overdue':
      return 'rebound vertebral-fracture risk';
    case 'consider-anabolic':
      return 'consider anabolic treatment first';
    case 'baseline-dxa-on-treatment':
      return 'baseline DXA advised';
    case 'cross-region-screening':
      return 'screening-level evidence; consider DXA';
    case 'preliminary-score':
      return 'confirm before relying on it';
  }
}

function site(item: Extract<EvidenceItem, { kind: 'dxa' | 'dxa-z' }>): string {
  const s = item.fact.site.replace('-', ' ');
  return item.fact.laterality === undefined ? s : `${item.fact.laterality} ${s}`;
}

/** One line for a deciding datum: its value and date, and the cutoff it met with performance and citation. */
export function valueLine(kb: KnowledgeBase, item: EvidenceItem): DetailLine {
  const cutoff = item.cutoffs[0];
  const refs = item.cutoffs.slice(0, 1).map((c) => c.reference);
  switch (item.kind) {
    case 'score': {
      const a = item.assessment;
      const s = a.score;
      const tesla =
        s.fieldStrengthT === undefined ? 'field strength not recorded' : `${num(s.fieldStrengthT)} T`;
      const value = `**${metricLabel(s.metric, s.region)} ${num(s.value)}** (${humanDate(s.date)}, ${tesla})`;
      const decided = a.lead ?? a.screening?.cutoff;
      if (decided === undefined)
        return { text: `${value}: no published cutoff for this procedure.`, dropOrder: 0, refs: [] };
      const exceeded = a.lead !== undefined || a.screening?.exceeded === true;
      const relation = exceeded ? COMPARATOR[decided.comparator] : 'below';
      const fs = fieldStrengthOf(kb, decided, a);
      const labelled = (sel: CutoffSelection): string =>
        sel.basis === 'site-calibrated'
          ? `, ${sel.label}`
          : sel.caveat === undefined && sel.label !== ''
            ? ` [${sel.label}]`
            : '';
      const missed = a.lead === undefined ? a.procedure[0]?.cutoff : undefined;
      if (missed !== undefined && a.screening?.exceeded === true) {
        // Between the screening and the procedure's cutoff: both numbers decided the card.
        const missedFs = fieldStrengthOf(kb, missed, a);
        return {
          text: `${value}: below the ${num(missed.threshold)} ${procedureOf(missed)}${missed.outcome} cutoff${labelled(missedFs)} (${shortCitation(kb, missed.reference)}), ${relation} the ${num(decided.threshold)} screening cutoff${labelled(fs)} ${cited(kb, decided)}.`,
          dropOrder: 0,
          refs: [missed.reference, decided.reference],
        };
      }
      const what =
        a.lead !== undefined
          ? `the ${decided.outcome} cutoff${procedureOf(decided) === '' ? '' : ` after ${decided.procedureLabel}`}`
          : `the screening cutoff for ${decided.outcome}`;
      return {
        text: `${value}: ${relation} ${num(decided.threshold)}, ${what}${labelled(fs)}${design(decided)} ${cited(kb, decided)}.`,
        dropOrder: 0,
        refs: [
          decided.reference,
          ...(kb.references[decided.reference]?.reviewedIn
            ? [kb.references[decided.reference]!.reviewedIn!]
            : []),
        ],
      };
    }
    case 'dxa': {
      const range =
        item.role === 'strong'
          ? 'osteoporosis range'
          : item.role === 'borderline'
            ? 'osteopenia range'
            : 'not in the osteopenia or osteoporosis range';
      const ref =
        cutoff === undefined
          ? ''
          : ` (T ${cutoff.comparator} ${num(cutoff.threshold)}; ${shortCitation(kb, cutoff.reference)})`;
      return {
        text: `**DXA T-score ${num(item.fact.value)}** (${site(item)}, ${humanDate(item.fact.date)}): ${range}${ref}.`,
        dropOrder: 0,
        refs,
      };
    }
    case 'dxa-z': {
      const z = kb.clinicalData.zScoreRule;
      const ref = z.references[0]!;
      const who = item.basis.sex === 'male' ? 'a man under 50' : 'a woman under 50';
      const boundary = item.basis.ageBoundary ? ' (menopausal status not recorded: age 50 used)' : '';
      const range =
        item.role === 'strong'
          ? `at or below ${z.belowExpectedRangeZ.toFixed(1)}, below the expected range for age`
          : `above ${z.belowExpectedRangeZ.toFixed(1)}, within the expected range for age`;
      return {
        text: `**DXA Z-score ${num(item.fact.value)}** (${site(item)}, ${humanDate(item.fact.date)}): ${range}; the WHO T-score classification does not apply to ${who}${boundary} (${shortCitation(kb, ref)}).`,
        dropOrder: 0,
        refs: [ref],
      };
    }
    case 'fragility-fracture':
      return {
        text: `**Fragility fracture** on record: ${item.fact.display} (${humanDate(item.fact.date)}${statusNote(item.fact.clinicalStatus)}).`,
        dropOrder: 0,
        refs,
      };
    case 'osteoporosis-diagnosis':
      return {
        text: `**Osteoporosis** on the problem list: ${item.fact.display} (${humanDate(item.fact.date)}${statusNote(item.fact.clinicalStatus)}).`,
        dropOrder: 0,
        refs,
      };
    case 'osteopenia-diagnosis':
      return {
        text: `**Osteopenia** on the problem list: ${item.fact.display} (${humanDate(item.fact.date)}).`,
        dropOrder: 0,
        refs,
      };
    case 'ct-hu': {
      const band =
        cutoff === undefined
          ? ''
          : `: ${COMPARATOR[cutoff.comparator]} ${num(cutoff.threshold)} HU, ${cutoff.outcome} ${cited(kb, cutoff)}`;
      return {
        text: `**L1 ${num(item.fact.value)} HU** on CT (${humanDate(item.fact.date)})${band}.`,
        dropOrder: 0,
        refs,
      };
    }
  }
}

/** ", status remission": a problem's clinicalStatus when it is not simply active (it still counts). */
function statusNote(status: string | undefined): string {
  return status === undefined || status === 'active' ? '' : `, status ${status}`;
}

const DECISION_POINT: Record<Advice, string> = {
  'treat-before-surgery': 'osteoporosis-dxa-or-fracture',
  referral: 'osteoporosis-dxa-or-fracture',
  workup: 'score-above-procedure-cutoff',
  'discordant-with-dxa': 'borderline-findings',
  'on-treatment-complete-evaluation': 'evaluation-in-progress',
  'evaluation-in-progress': 'evaluation-in-progress',
  'review-borderline': 'borderline-findings',
  'consider-dxa': 'borderline-findings',
  'dxa-advised': 'elective-reconstruction-evaluation',
  'dxa-already-ordered': 'elective-reconstruction-evaluation',
  'measure-score': 'mri-without-score',
  'z-score-referral': 'z-score-below-expected',
  'denosumab-overdue': 'denosumab-overdue',
  'consider-anabolic': 'antiresorptive-long-construct',
  'baseline-dxa-on-treatment': 'treatment-baseline-dxa',
  'cross-region-screening': 'cross-region-screening',
  'preliminary-score': 'preliminary-score',
};

/** Decision points by id (the first of each id, as a find would give), indexed once per list. */
const decisionPointIndex = new WeakMap<KnowledgeBase['decisionPoints'], Map<string, string[]>>();

function refsOf(kb: KnowledgeBase, decisionPoint: string): string[] {
  let byId = decisionPointIndex.get(kb.decisionPoints);
  if (byId === undefined) {
    byId = new Map();
    for (const d of kb.decisionPoints) if (!byId.has(d.id)) byId.set(d.id, d.references);
    decisionPointIndex.set(kb.decisionPoints, byId);
  }
  return byId.get(decisionPoint) ?? [];
}

function citeAll(kb: KnowledgeBase, refs: string[]): string {
  return refs.length === 0 ? '' : ` (${refs.map((r) => shortCitation(kb, r)).join('; ')})`;
}

function workupParts(finding: Finding): string {
  const parts = [
    finding.actions.dxa === 'suggest' ? 'DXA (hip preferred)' : undefined,
    finding.actions.referral === 'suggest' ? 'a bone-health referral' : undefined,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join(' and ') : 'complete the bone-health evaluation already ordered';
}

/** What is recommended and why, with the knowledge base's citations. */
export function recommendationLine(kb: KnowledgeBase, finding: Finding): DetailLine {
  const ctLead = finding.lead?.kind === 'ct-hu' && finding.lead.role === 'strong';
  const refs = refsOf(kb, ctLead ? 'low-ct-hu' : DECISION_POINT[finding.advice]);
  return {
    text: `**Recommended:** ${recommendation(finding, ctLead)}${citeAll(kb, refs)}.`,
    dropOrder: 0,
    refs,
  };
}

/** The recommendation's words (a switch: only the wording asked for is written). */
function recommendation(finding: Finding, ctLead: boolean): string {
  const dxaToo = finding.actions.dxa === 'suggest';
  switch (finding.advice) {
    case 'treat-before-surgery':
      return finding.context.kidney !== undefined
        ? `bone-health referral aware of CKD-MBD (with nephrology), treatment chosen for the kidney function, before elective surgery${dxaToo ? '; DXA (hip preferred) for a baseline' : ''}`
        : `bone-health / endocrinology referral and osteoporosis treatment before elective surgery${dxaToo ? '; DXA (hip preferred) for a baseline' : ''}`;
    case 'referral':
      return ctLead
        ? 'likely osteoporosis: DXA and a bone-health referral before elective surgery'
        : `bone-health / endocrinology referral${dxaToo ? ' and DXA (hip preferred)' : ''} before elective surgery`;
    case 'workup':
      return `${workupParts(finding)} before elective fusion`;
    case 'discordant-with-dxa':
      return 'weigh the score against the recent DXA; review bone health before surgery';
    case 'on-treatment-complete-evaluation':
      return `confirm the treatment${dxaToo ? ' and get a baseline DXA' : ''} before elective fusion`;
    case 'evaluation-in-progress':
      return 'complete the bone-health evaluation and start or confirm treatment before elective fusion';
    case 'review-borderline':
      return 'review bone health before surgery; interpret the score with the caveats below';
    case 'consider-dxa':
      return 'consider DXA (hip preferred) before elective fusion';
    case 'dxa-advised':
      return 'DXA (hip preferred) before elective spine surgery';
    case 'dxa-already-ordered':
      return 'complete the DXA already ordered before elective spine surgery';
    case 'measure-score': {
      const score = finding.context.unscoredStudies[0]?.region === 'cervical' ? 'C-VBQ' : 'VBQ';
      return `measure ${score} on the existing non-contrast T1-weighted MR before surgery; a high score prompts a bone-health workup`;
    }
    case 'z-score-referral':
      return `bone-health referral to look for secondary causes before elective fusion${dxaToo ? '; DXA (hip preferred)' : ''}`;
    case 'denosumab-overdue':
      return 'give the next dose or start follow-on treatment without delay, then review before elective spine surgery';
    case 'consider-anabolic':
      return `anabolic treatment for >= 3 months before a deformity or long fusion may be considered${dxaToo ? '; DXA (hip preferred) for a baseline' : ''}`;
    case 'baseline-dxa-on-treatment':
      return 'a baseline DXA (hip preferred) to monitor the treatment before elective spine surgery';
    case 'cross-region-screening':
      return "this score is from another spinal region: screening-level evidence only, not compared with this procedure's cutoffs; DXA (hip preferred) before elective surgery";
    case 'preliminary-score':
      return 'the score is preliminary and no cutoff is applied to it; confirm the final score before relying on it';
  }
}

/** Kidney function that rules out assuming a bisphosphonate: the value (or stage) and where to refer. */
export function kidneyLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const k = finding.context.kidney;
  if (k === undefined || finding.advice === 'measure-score' || finding.advice === 'preliminary-score')
    return undefined;
  const renal = kb.clinicalData.renal;
  const refs = [renal.bisphosphonateEgfrMin.reference, renal.ckdMbdReference];
  const what =
    k.egfr !== undefined
      ? `**eGFR ${num(k.egfr.value)} mL/min/1.73 m2** (${humanDate(k.egfr.date)}): below ${num(k.limit)}, the bisphosphonate limit`
      : `**CKD stage ${k.stage!.ckdStage}** on the problem list (${humanDate(k.stage!.date)}): below the bisphosphonate eGFR limit of ${num(k.limit)}`;
  return {
    text: `${what}; do not assume a bisphosphonate: bone-health referral aware of CKD-MBD, with nephrology${citeAll(kb, refs)}.`,
    dropOrder: 0,
    refs,
  };
}

/** The overdue dose: the drug, the last dose date and how late it is. */
export function overdueLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const o = finding.context.overdue[0];
  if (o === undefined || finding.advice !== 'denosumab-overdue') return undefined;
  const row = kb.clinicalData.treatments.find((t) => t.ingredient === o.ingredient);
  const refs = row?.references.filter((r) => r !== 'aace-2020') ?? [];
  const months = Math.round(o.overdueAfterDays / 30.4375);
  return {
    text: `**${capitalised(o.ingredient)}** last dose ${humanDate(o.lastDose)} (${o.daysSince} days ago): more than ${months} months, the next dose is overdue; rebound vertebral-fracture risk${citeAll(kb, refs)}.`,
    dropOrder: 0,
    refs,
  };
}

/** A preliminary score, shown as preliminary: its value and date, never compared with a cutoff. */
export function preliminaryLine(finding: Finding): DetailLine | undefined {
  const p = finding.context.preliminary[0];
  if (p === undefined || finding.advice !== 'preliminary-score') return undefined;
  return {
    text: `**${metricLabel(p.metric, p.region)} ${num(p.value)}** (${humanDate(p.date)}): status preliminary, not a result.`,
    dropOrder: 0,
    refs: [],
  };
}

/** A DXA on record that cannot show whether density is adequate (never read as reassurance). */
export function unclassifiedDxaLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const c = finding.context;
  if (!c.dxaUnclassified) return undefined;
  const zRef = kb.clinicalData.zScoreRule.references[0]!;
  const why =
    c.dxaBasis.basis === 'z-score'
      ? `no recent Z-score, and T-scores do not classify a ${c.dxaBasis.sex === 'male' ? 'man' : 'woman'} under 50 (${shortCitation(kb, zRef)})`
      : 'no T-score (only BMD or Z-scores)';
  return {
    text: `DXA of ${humanDate(c.dxaLastDate)} on record: ${why}; it cannot show whether bone density is adequate.`,
    dropOrder: 1,
    refs: c.dxaBasis.basis === 'z-score' ? [zRef] : [],
  };
}

/** A T-score read for a woman (or sex not recorded): menopause is not recorded, age 50 stood in. */
export function basisLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const c = finding.context;
  const usesT = finding.lead?.kind === 'dxa' || finding.second?.kind === 'dxa';
  if (!usesT || c.dxaBasis.basis !== 't-score' || !c.dxaBasis.ageBoundary) return undefined;
  const z = kb.clinicalData.zScoreRule;
  const ref = z.references[0]!;
  return {
    text: `Menopausal status not recorded: age ${z.ageBoundaryYears} used as the boundary for T-scores (${shortCitation(kb, ref)}).`,
    dropOrder: 3,
    refs: [ref],
  };
}

/** Earlier, higher scores: history only (the latest valid score governs). */
export function historyLine(finding: Finding): DetailLine | undefined {
  const e = finding.context.earlierHigher[0];
  if (e === undefined) return undefined;
  return {
    text: `History: ${metricLabel(e.metric, e.region)} ${num(e.value)} of ${humanDate(e.date)} was higher; the latest valid score governs.`,
    dropOrder: 3,
    refs: [],
  };
}

/** AO Spine 2025: anabolic treatment before a deformity or long fusion. */
export function anabolicLine(kb: KnowledgeBase): DetailLine {
  const refs = refsOf(kb, 'osteoporosis-long-construct');
  return {
    text: `Anabolic treatment for >= 3 months before surgery may be considered for a deformity or long fusion${citeAll(kb, refs)}.`,
    dropOrder: 1,
    refs,
  };
}

/** Vitamin D: unknown in the look-back (suggested), or low and to be repleted. */
export function vitaminDLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const refs = refsOf(kb, 'vitamin-d');
  const v = finding.context.vitaminD;
  const p = kb.parameters;
  if (v?.low === true)
    return {
      text: `25-OH vitamin D ${num(v.value)} ng/mL (${humanDate(v.date)}): below ${num(p.vitaminDLowNgPerMl)} ng/mL, replete before surgery${citeAll(kb, refs)}.`,
      dropOrder: 3,
      refs,
    };
  if (finding.actions.vitaminD === 'suggest')
    return {
      text: `25-OH vitamin D: none in the last ${p.vitaminDLookbackMonths} months; check and replete${citeAll(kb, refs)}.`,
      dropOrder: 6,
      refs,
    };
  return undefined;
}

/** What is already ordered or in place (acknowledged, not suggested again). No resource ids. */
export function inPlaceLine(finding: Finding): DetailLine | undefined {
  const c = finding.context;
  const parts: string[] = [];
  for (const t of c.treatments)
    parts.push(`${t.ingredient} (${t.status}${t.start ? `, since ${humanDate(t.start)}` : ''})`);
  for (const o of c.dxaOrders) parts.push(`DXA ordered (${o.status}, ${humanDate(o.date)})`);
  for (const o of c.referrals) parts.push(`bone-health referral (${o.status}, ${humanDate(o.date)})`);
  if (finding.actions.dxa === 'done' && c.dxaLastDate !== undefined)
    parts.push(`DXA done ${humanDate(c.dxaLastDate)}`);
  if (parts.length === 0) return undefined;
  return { text: `Already in place: ${parts.join('; ')}.`, dropOrder: 5, refs: [] };
}

/** Scores on record that could not be used, and why (so nobody wonders where they went). */
export function excludedLine(finding: Finding): DetailLine | undefined {
  // A preliminary-score card already shows its preliminary score; list only the others.
  const shown =
    finding.advice === 'preliminary-score' ? finding.context.preliminary.map((p) => p.source) : [];
  const ex = finding.context.excludedScores.filter((e) => !shown.includes(e.source));
  if (ex.length === 0) return undefined;
  const first = ex[0]!;
  const value = first.value === undefined ? '' : ` ${num(first.value)}`;
  const label =
    first.metric === 'c-vbq'
      ? 'C-VBQ'
      : first.metric === 'ebq'
        ? 'EBQ'
        : first.metric === 'vbq-s1'
          ? 'S1 VBQ'
          : 'VBQ';
  const more = ex.length > 1 ? ` (and ${ex.length - 1} more)` : '';
  return {
    text: `Not used: ${label}${value} of ${humanDate(first.date)}, ${first.reasons.join('; ')}${more}.`,
    dropOrder: 7,
    refs: [],
  };
}

/**
 * Received data left out (malformed elements, units or ranges that cannot be used, another patient's
 * records): said once, by resource type and count, never with resource ids, so the reader knows the
 * advice rests on less than the chart holds.
 */
export function leftOutLine(finding: Finding): DetailLine | undefined {
  const issues = finding.context.dataIssues;
  if (issues.length === 0) return undefined;
  const types = new Map<string, number>();
  for (const issue of issues) {
    // The log's closing summary line ("N further data issue(s) not listed") counts N items.
    const further = issue.source === 'data' ? /^(\d+) further/.exec(issue.reason) : null;
    const type = further ? 'other' : (/^[A-Z][A-Za-z]+(?=\/|$)/.exec(issue.source)?.[0] ?? 'other');
    types.set(type, (types.get(type) ?? 0) + (further ? Number(further[1]) : 1));
  }
  const list = [...types.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([type, n]) => `${n} ${type}`)
    .join(', ');
  return {
    text: `Left out as unreadable or unusable: ${list}${types.size > 3 ? ', …' : ''}; check the chart.`,
    // Kept before the caveats: advice resting on less than the chart holds is a safety matter.
    dropOrder: 1,
    refs: [],
  };
}

/** The field-strength caveat of the deciding comparison (it qualifies the number that decided). */
export function fieldStrengthCaveatLine(kb: KnowledgeBase, finding: Finding): DetailLine | undefined {
  const item =
    finding.lead?.kind === 'score'
      ? finding.lead
      : finding.second?.kind === 'score'
        ? finding.second
        : undefined;
  if (item === undefined || item.kind !== 'score') return undefined;
  const a = item.assessment;
  const decided = a.lead ?? a.screening?.cutoff;
  if (decided === undefined) return undefined;
  const caveat = fieldStrengthOf(kb, decided, a).caveat;
  if (caveat === undefined) return undefined;
  return {
    text: `_Caveat:_ ${caveat.text[0]!.toUpperCase()}${caveat.text.slice(1)}.`,
    dropOrder: 2,
    refs: caveat.references,
  };
}

/** Short, patient-specific caveat wording; the knowledge base holds the full text and citations. */
export function caveatLine(kb: KnowledgeBase, caveat: CaveatName, rank: number): DetailLine | undefined {
  const words = caveatWords(kb, caveat);
  if (words === undefined) return undefined;
  const refs = kb.caveats[caveat].references.slice(0, 1);
  return { text: `_Caveat:_ ${words}${citeAll(kb, refs)}.`, dropOrder: rank === 0 ? 2 : 7, refs };
}

/** The wording of one caveat (a switch: only the wording asked for is written). */
function caveatWords(kb: KnowledgeBase, caveat: CaveatName): string | undefined {
  switch (caveat) {
    case 'hyperlipidemia':
      return 'Hyperlipidemia is on the problem list: it falsely elevates VBQ; prefer DXA or CT HU';
    case 'stale':
      return `A value used is older than the ${kb.parameters.staleDataMonths}-month staleness window`;
    case 'fieldStrengthUnknown':
      return 'The field strength of this measurement is not recorded: cutoff transfer is uncertain';
    case 'lumbarTScore':
      return 'Only a lumbar-spine T-score is on record: degeneration can make it falsely high; hip preferred';
    case 'sex':
      return 'VBQ is less accurate in men than in women';
    case 'age':
      return kb.caveats.age.text.replace(/\.$/, '');
    case 'supplementary':
      return 'VBQ is supplementary: it prompts a workup and does not diagnose osteoporosis';
    case 'fieldStrength':
      return 'VBQ depends on scanner and field strength (1.5 T scores run higher than 3 T)';
    default:
      return undefined;
  }
}
