/**
 * Cutoff selection: which published (or site-calibrated) cutoff a bone-quality score is compared with,
 * and what a reader must know about that comparison.
 *
 * VBQ is a relative number: the same patient scores about 0.5 higher at 1.5 T than at 3 T, so a cutoff
 * only transfers to scores measured the way its cohort was. For each role (a procedure family's primary
 * cutoff, a region's screening cutoff) the order of preference is:
 * 1. a site-calibrated cutoff (a hospital's override) matching the score's field strength / scanner;
 * 2. a published primary derived at the score's field strength (`fieldStrengthSpecific`);
 * 3. the default primary, with a structured caveat saying it was derived at another (or an unreported)
 *    field strength and which way, and by how much, that moves the comparison (cited).
 * Pure: no I/O, no clock; every number comes from the knowledge base.
 */
import type { KnowledgeBase } from '../knowledge/index.js';
import { num, shortCitation } from '../knowledge/text.js';
import {
  MRI_METRICS,
  type Cutoff,
  type FieldStrength,
  type Metric,
  type ProcedureFamily,
} from '../knowledge/schema.js';

/** The score as cutoff selection sees it (a `BoneQualityScoreFact` satisfies it). */
export interface ScoreForCutoff {
  metric: Metric;
  region: 'lumbar' | 'cervical';
  /** Tesla, as recorded with the measurement; undefined when not recorded. */
  fieldStrengthT: number | undefined;
  scanner: string | undefined;
}

/** A score's field strength as a class: 1.5 T, 3 T, another value (e.g. 1.0 T), or not recorded. */
export type ScoreFieldStrength = '1.5T' | '3T' | 'other' | 'unknown';

export interface CutoffComparison {
  cutoff: Cutoff;
  exceeded: boolean;
}

/** Why this cutoff was chosen for this score. */
export type CutoffBasis = 'site-calibrated' | 'same-field-strength' | 'default';

/** What the field strength does to a comparison, for the card to state. */
export interface FieldStrengthCaveat {
  kind:
    | 'score-field-strength-unknown'
    | 'cutoff-field-strength-unknown'
    | 'cutoff-mixed-field-strength'
    | 'other-field-strength';
  scoreFieldStrength: ScoreFieldStrength;
  cutoffFieldStrength: FieldStrength;
  /** Which way this score sits relative to the cutoff's scale, when known. */
  direction: 'score-reads-higher' | 'score-reads-lower' | 'unknown';
  /** The size of the field-strength shift the source reports (VBQ units), when it applies. */
  shift: number | undefined;
  /** One sentence for the card, with its citation. */
  text: string;
  references: string[];
}

export interface CutoffSelection {
  cutoff: Cutoff;
  basis: CutoffBasis;
  /**
   * Short phrase for the card: "site-calibrated (n = 212, AUC 0.81)", "derived at 3 T, as this score",
   * "derived at 3 T", "field strength of the cohort not reported".
   */
  label: string;
  /** Set when the cutoff was derived at another or an unknown field strength than the score. */
  caveat: FieldStrengthCaveat | undefined;
}

const TESLA_TOLERANCE = 0.05;

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

/** The class of a recorded field strength. */
export function scoreFieldStrength(tesla: number | undefined): ScoreFieldStrength {
  if (tesla === undefined || !Number.isFinite(tesla)) return 'unknown';
  if (Math.abs(tesla - 1.5) < TESLA_TOLERANCE) return '1.5T';
  if (Math.abs(tesla - 3) < TESLA_TOLERANCE) return '3T';
  return 'other';
}

function regionMatches(cutoff: Cutoff, region: ScoreForCutoff['region']): boolean {
  if (cutoff.region === 'any') return true;
  return region === 'cervical' ? cutoff.region === 'cervical' : cutoff.region !== 'cervical';
}

/** A hospital's site-calibrated cutoff (it names the field strength or scanner it applies to). */
export function isSiteCalibrated(cutoff: Cutoff): boolean {
  return cutoff.fieldStrengthT !== undefined || cutoff.scanner !== undefined;
}

function calibratedFor(cutoff: Cutoff, score: ScoreForCutoff | undefined): boolean {
  if (!isSiteCalibrated(cutoff) || score === undefined) return false;
  const fieldOk =
    cutoff.fieldStrengthT === undefined ||
    (score.fieldStrengthT !== undefined &&
      Math.abs(score.fieldStrengthT - cutoff.fieldStrengthT) < TESLA_TOLERANCE);
  const scannerOk =
    cutoff.scanner === undefined ||
    (score.scanner !== undefined && score.scanner.toLowerCase().includes(cutoff.scanner.toLowerCase()));
  return fieldOk && scannerOk;
}

function cohortFieldStrength(cutoff: Cutoff): FieldStrength {
  return cutoff.cohort?.fieldStrength ?? 'unknown';
}

function tesla(fs: FieldStrength | ScoreFieldStrength): string {
  return fs === '1.5T' ? '1.5 T' : fs === '3T' ? '3 T' : fs;
}

/** "site-calibrated (n = 212, AUC 0.81)" from the provenance the calibration wrote. */
function siteLabel(cutoff: Cutoff): string {
  const p = cutoff.provenance;
  const parts = [
    p === undefined ? undefined : `n = ${p.cohortSize}`,
    p?.auc === undefined ? undefined : `AUC ${num(p.auc)}`,
  ].filter((x): x is string => x !== undefined);
  const where = [
    cutoff.fieldStrengthT === undefined ? undefined : `${num(cutoff.fieldStrengthT)} T`,
    cutoff.scanner,
  ].filter((x): x is string => x !== undefined);
  return `site-calibrated${parts.length > 0 ? ` (${parts.join(', ')})` : ''}${where.length > 0 ? ` for ${where.join(' ')}` : ''}`;
}

/**
 * The field-strength comparison of any cutoff with a score: the label and caveat a card shows. Cutoffs
 * of non-MRI metrics (CT HU, DXA) have neither.
 */
export function compareFieldStrength(
  kb: KnowledgeBase,
  cutoff: Cutoff,
  score: ScoreForCutoff | undefined,
  basis?: CutoffBasis,
): CutoffSelection {
  if (!MRI_METRICS.includes(cutoff.metric))
    return { cutoff, basis: basis ?? 'default', label: '', caveat: undefined };
  if (isSiteCalibrated(cutoff)) {
    return { cutoff, basis: 'site-calibrated', label: siteLabel(cutoff), caveat: undefined };
  }
  const effect = kb.clinicalData.fieldStrengthEffect;
  const cite = shortCitation(kb, effect.reference);
  const shift = effect.statedShift;
  const scoreFs = scoreFieldStrength(score?.fieldStrengthT);
  const cutoffFs = cohortFieldStrength(cutoff);
  const derived =
    cutoffFs === 'unknown'
      ? 'field strength of the cohort not reported'
      : cutoffFs === 'mixed'
        ? 'derived on a mixed 1.5 T / 3 T cohort'
        : `derived at ${tesla(cutoffFs)}`;
  const resolvedBasis: CutoffBasis =
    basis ?? (scoreFs !== 'unknown' && scoreFs === cutoffFs ? 'same-field-strength' : 'default');
  const caveat = (
    kind: FieldStrengthCaveat['kind'],
    direction: FieldStrengthCaveat['direction'],
    text: string,
  ): FieldStrengthCaveat => ({
    kind,
    scoreFieldStrength: scoreFs,
    cutoffFieldStrength: cutoffFs,
    direction,
    shift,
    text,
    references: [effect.reference],
  });
  const general = `1.5 T scores run ~${num(shift)} higher than 3 T (${cite})`;
  if (score === undefined) return { cutoff, basis: resolvedBasis, label: derived, caveat: undefined };
  if (scoreFs === 'unknown') {
    return {
      cutoff,
      basis: resolvedBasis,
      label: derived,
      caveat: caveat(
        'score-field-strength-unknown',
        'unknown',
        `${derived}; the score's field strength is not recorded and ${general}, so the comparison can be off by about that much`,
      ),
    };
  }
  if (scoreFs === cutoffFs) {
    return { cutoff, basis: resolvedBasis, label: `${derived}, as this score`, caveat: undefined };
  }
  if (cutoffFs === 'unknown') {
    return {
      cutoff,
      basis: resolvedBasis,
      label: derived,
      caveat: caveat(
        'cutoff-field-strength-unknown',
        'unknown',
        `${derived}; this score was measured at ${tesla(scoreFs)} and ${general}`,
      ),
    };
  }
  if (cutoffFs === 'mixed') {
    return {
      cutoff,
      basis: resolvedBasis,
      label: derived,
      caveat: caveat(
        'cutoff-mixed-field-strength',
        'unknown',
        `${derived}; this score was measured at ${tesla(scoreFs)} and ${general}`,
      ),
    };
  }
  if (scoreFs === 'other') {
    return {
      cutoff,
      basis: resolvedBasis,
      label: derived,
      caveat: {
        kind: 'other-field-strength',
        scoreFieldStrength: scoreFs,
        cutoffFieldStrength: cutoffFs,
        direction: 'unknown',
        shift: undefined,
        text: `${derived}; this score was measured at ${num(score.fieldStrengthT ?? 0)} T, for which no shift is published`,
        references: [effect.reference],
      },
    };
  }
  // One is 1.5 T and the other 3 T: the published shift applies, in a known direction.
  const higher = scoreFs === '1.5T';
  return {
    cutoff,
    basis: resolvedBasis,
    label: derived,
    caveat: caveat(
      'other-field-strength',
      higher ? 'score-reads-higher' : 'score-reads-lower',
      `${derived}; ${tesla(scoreFs)} scores run ~${num(shift)} ${higher ? 'higher' : 'lower'} (${cite})`,
    ),
  };
}

/**
 * Picks one cutoff for a role from its candidates (all primaries for that role and metric):
 * site-calibrated for this score, else derived at this score's field strength, else the default.
 */
export function selectCutoff(
  kb: KnowledgeBase,
  candidates: readonly Cutoff[],
  score: ScoreForCutoff | undefined,
): CutoffSelection | undefined {
  const pick = pickCutoff(candidates, score);
  return pick === undefined ? undefined : compareFieldStrength(kb, pick.cutoff, score, pick.basis);
}

/**
 * selectCutoff's choice without the label and caveat wording: the evaluation compares scores with
 * cutoffs for every call and needs only the cutoff, and building the wording was most of its time.
 */
function pickCutoff(
  candidates: readonly Cutoff[],
  score: ScoreForCutoff | undefined,
): { cutoff: Cutoff; basis: CutoffBasis | undefined } | undefined {
  const calibrated = candidates
    .filter((c) => calibratedFor(c, score))
    // A cutoff calibrated for the scanner as well as the field strength is the closer match.
    .sort(
      (a, b) => Number(b.scanner !== undefined) - Number(a.scanner !== undefined) || a.id.localeCompare(b.id),
    );
  if (calibrated[0] !== undefined) return { cutoff: calibrated[0], basis: 'site-calibrated' };
  const published = candidates.filter((c) => !isSiteCalibrated(c));
  const scoreFs = scoreFieldStrength(score?.fieldStrengthT);
  const sameField = published.find(
    (c) => c.fieldStrengthSpecific === true && scoreFs !== 'unknown' && cohortFieldStrength(c) === scoreFs,
  );
  if (sameField !== undefined) return { cutoff: sameField, basis: 'same-field-strength' };
  const fallback = published.find((c) => c.fieldStrengthSpecific !== true);
  return fallback === undefined ? undefined : { cutoff: fallback, basis: undefined };
}

/**
 * The knowledge base's cutoffs by metric, in file order, indexed once per cutoff list: every score of
 * every call filters them several times (per family, screening, supporting), and a metric has a handful
 * of the ~50 cutoffs. Keyed by the list itself, which the loader builds once and nothing changes after.
 */
const byMetric = new WeakMap<readonly Cutoff[], Map<Metric, Cutoff[]>>();

function cutoffsOf(kb: KnowledgeBase, metric: Metric): readonly Cutoff[] {
  let index = byMetric.get(kb.cutoffs);
  if (index === undefined) {
    index = new Map();
    for (const c of kb.cutoffs) {
      const list = index.get(c.metric);
      if (list === undefined) index.set(c.metric, [c]);
      else list.push(c);
    }
    byMetric.set(kb.cutoffs, index);
  }
  return index.get(metric) ?? [];
}

function procedureCandidates(kb: KnowledgeBase, score: ScoreForCutoff, family: ProcedureFamily): Cutoff[] {
  return cutoffsOf(kb, score.metric).filter(
    (c) =>
      c.role === 'procedure-specific' &&
      c.metric === score.metric &&
      c.primaryFor?.includes(family) === true &&
      regionMatches(c, score.region),
  );
}

/** The selected procedure cutoff of each planned family, with basis and caveat (deduplicated). */
export function selectProcedureCutoffs(
  kb: KnowledgeBase,
  score: ScoreForCutoff,
  families: readonly ProcedureFamily[],
): CutoffSelection[] {
  const chosen = new Map<string, CutoffSelection>();
  for (const family of families) {
    const selection = selectCutoff(kb, procedureCandidates(kb, score, family), score);
    if (selection !== undefined) chosen.set(selection.cutoff.id, selection);
  }
  return [...chosen.values()];
}

/** The selected screening cutoff for a metric and region, with basis and caveat. */
export function selectScreeningCutoff(
  kb: KnowledgeBase,
  metric: Metric,
  region: ScoreForCutoff['region'],
  score?: ScoreForCutoff,
): CutoffSelection | undefined {
  return selectCutoff(kb, screeningCandidates(kb, metric, region), score);
}

function screeningCandidates(kb: KnowledgeBase, metric: Metric, region: ScoreForCutoff['region']): Cutoff[] {
  return cutoffsOf(kb, metric).filter(
    (c) =>
      c.role === 'screening' &&
      c.primaryScreening === true &&
      c.metric === metric &&
      regionMatches(c, region),
  );
}

/** The primary procedure cutoff of each planned family for this score's metric (deduplicated). */
export function procedureCutoffs(
  kb: KnowledgeBase,
  score: ScoreForCutoff,
  families: readonly ProcedureFamily[],
): Cutoff[] {
  // selectProcedureCutoffs' choice and order, without building each selection's wording.
  const chosen = new Map<string, Cutoff>();
  for (const family of families) {
    const pick = pickCutoff(procedureCandidates(kb, score, family), score);
    if (pick !== undefined) chosen.set(pick.cutoff.id, pick.cutoff);
  }
  return [...chosen.values()];
}

/** The primary screening cutoff for a metric and region (VBQ, S1 VBQ, C-VBQ; DXA and HU use parameters). */
export function screeningCutoff(
  kb: KnowledgeBase,
  metric: Metric,
  region: ScoreForCutoff['region'],
  score?: ScoreForCutoff,
): Cutoff | undefined {
  return pickCutoff(screeningCandidates(kb, metric, region), score)?.cutoff;
}

/**
 * Further published cutoffs for the score's metric and the planned families, for the detail text.
 * Fracture-discrimination cutoffs (patients with vs without a fragility fracture) are context only for
 * vertebral augmentation; they predict no procedure's outcome.
 */
export function supportingCutoffs(
  kb: KnowledgeBase,
  score: ScoreForCutoff,
  families: readonly ProcedureFamily[],
  exclude: ReadonlySet<string>,
): Cutoff[] {
  const augmentation = families.includes('vertebral-augmentation');
  return cutoffsOf(kb, score.metric).filter(
    (c) =>
      !exclude.has(c.id) &&
      (c.role === 'procedure-specific' || (augmentation && c.role === 'fracture-discrimination')) &&
      c.metric === score.metric &&
      !isSiteCalibrated(c) &&
      regionMatches(c, score.region) &&
      c.procedureFamilies.some((f) => f === 'any' || families.includes(f)),
  );
}

/**
 * Puts a VBQ value in the context of the normative mean for the patient's decade (VBQ rises with age),
 * e.g. "mean VBQ at 60-69 is 3.27 (SD 0.57; VBQ normative data (serial MRI))". Undefined outside the
 * decades the norms cover or for other metrics.
 */
export function ageContext(
  kb: KnowledgeBase,
  metric: Metric,
  ageYears: number | undefined,
): string | undefined {
  const norms = kb.clinicalData.vbqNorms;
  if (metric !== norms.metric || ageYears === undefined) return undefined;
  const decade = norms.byDecade.find((d) => ageYears >= d.ageFrom && ageYears <= d.ageTo);
  if (decade === undefined) return undefined;
  return `mean VBQ at age ${decade.ageFrom}-${decade.ageTo} is ${num(decade.mean)} (SD ${num(decade.sd)}; ${shortCitation(kb, norms.reference)})`;
}
