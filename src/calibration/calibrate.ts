/**
 * Site calibration: for one metric and one outcome, splits the local cohort into strata (field strength,
 * then scanner model where there is enough data), and for each stratum derives the Youden-optimal cutoff
 * with its bootstrap CI, the AUC with its DeLong CI (cross-checked by bootstrap), accuracy at the local
 * cutoff and at every published cutoff for the same question, and the calibration-in-the-large of the
 * published cutoffs on the local data.
 *
 * Guards refuse a stratum, with the reason, instead of producing a cutoff nobody should trust: too few
 * events or non-events, a reference standard too far in time from the score, a cutoff CI wider than the
 * limit, or an unknown field strength. There is no fallback: a refused stratum yields no cutoff.
 */
import type { KnowledgeBase } from '../knowledge/index.js';
import type { Cutoff, ScoreMetric } from '../knowledge/schema.js';
import { CohortError, monthsBetween, type CohortRow } from './cohort.js';
import type { CalibrationOutcome } from './outcomes.js';
import { reproducibleRandom } from './random.js';
import {
  bootstrap,
  confusionAt,
  delong,
  rocFromSorted,
  sorted,
  wilson,
  youdenOptimal,
  type Confusion,
  type DeLongResult,
  type RocPoint,
} from './stats.js';

/** Defaults of the guards and of the bootstrap (documented in the README, overridable per run). */
export const CALIBRATION_DEFAULTS = {
  /** Fewer events (or non-events) than this in a stratum: refused. Youden cutoffs from smaller samples are unstable. */
  minEvents: 30,
  /** Reference standard more than this many months from the score: refused. */
  maxGapMonths: 12,
  /** Bootstrap 95% CI of the cutoff wider than this (score units): refused. */
  maxCutoffCiWidth: 0.6,
  replicates: 2000,
  seed: 20_240_601,
  /** DeLong and bootstrap AUC CI bounds further apart than this are reported as disagreeing. */
  aucCrossCheckTolerance: 0.03,
} as const;

/** Bone-quality scores rise as bone quality falls: test-positive is score >= cutoff for every metric here. */
export const SCORE_COMPARATOR = '>=' as const;

export interface CalibrationOptions {
  metric: ScoreMetric;
  outcome: string;
  /** Only this field strength (tesla). */
  fieldStrengthT?: number | undefined;
  minEvents?: number;
  maxGapMonths?: number;
  maxCutoffCiWidth?: number;
  replicates?: number;
  seed?: number;
}

export type RefusalCode =
  | 'field-strength-unknown'
  | 'too-few-events'
  | 'too-few-non-events'
  | 'reference-too-far'
  | 'cutoff-ci-too-wide'
  | 'no-threshold';

export interface Refusal {
  code: RefusalCode;
  message: string;
}

export interface StratumKey {
  fieldStrengthT: number | null;
  scanner: string | null;
}

export interface PublishedComparison {
  cutoffId: string;
  reference: string;
  citation: string;
  threshold: number;
  comparator: Cutoff['comparator'];
  published: { sensitivity: number | null; specificity: number | null; auc: number | null };
  /** Accuracy of the published cutoff on this stratum. */
  local: Confusion;
  /**
   * Calibration-in-the-large of the cutoff: the share of this stratum it flags (observed) against the
   * share it should flag at the local prevalence given its published sensitivity and specificity
   * (expected = sens * prev + (1 - spec) * (1 - prev)); null when the paper reports neither.
   */
  calibrationInTheLarge: {
    observedPositiveRate: number;
    observedPositiveRateCi95: [number, number];
    expectedPositiveRate: number | null;
    observedMinusExpected: number | null;
    observedOverExpected: number | null;
  };
}

export interface StratumAnalysis {
  roc: RocPoint[];
  auc: DeLongResult;
  bootstrap: {
    replicates: number;
    seed: number;
    aucCi95: [number, number];
    cutoffCi95: [number, number];
  };
  /** DeLong and bootstrap AUC CIs agree within the tolerance. */
  aucCrossCheck: { agree: boolean; maxBoundDifference: number };
  cutoff: { threshold: number; comparator: typeof SCORE_COMPARATOR; youden: number; ci95: [number, number] };
  atCutoff: Confusion;
  published: PublishedComparison[];
}

export interface StratumResult {
  key: StratumKey;
  label: string;
  status: 'accepted' | 'refused';
  refusals: Refusal[];
  n: number;
  events: number;
  nonEvents: number;
  prevalence: number;
  period: { start: string; end: string };
  /** Largest gap between score and reference standard in the stratum (months). */
  largestGapMonths: number;
  analysis: StratumAnalysis | null;
  scores: { events: number[]; nonEvents: number[] };
}

export interface CalibrationResult {
  metric: ScoreMetric;
  outcome: string;
  outcomeTitle: string;
  referenceStandard: string;
  settings: Required<Omit<CalibrationOptions, 'fieldStrengthT'>> & { fieldStrengthT: number | null };
  strata: StratumResult[];
  /** Scanner strata not attempted, with why (the field-strength stratum still covers their scans). */
  skipped: { key: StratumKey; label: string; reason: string }[];
  accepted: number;
}

const FIELD_TOLERANCE_T = 0.05;

export function stratumLabel(key: StratumKey): string {
  const fs = key.fieldStrengthT === null ? 'field strength unknown' : `${key.fieldStrengthT} T`;
  return key.scanner === null ? fs : `${fs}, ${key.scanner}`;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function citationOf(kb: KnowledgeBase, cutoff: Cutoff): string {
  const ref = kb.references[cutoff.reference];
  if (ref === undefined) return cutoff.reference;
  const first = ref.short ?? ref.authors.split(/[ ,]/)[0] ?? cutoff.reference;
  return `${first} ${ref.year}`;
}

/** Published cutoffs (not site overrides) for the same metric and question. */
export function publishedCutoffsFor(
  kb: KnowledgeBase,
  metric: ScoreMetric,
  outcome: CalibrationOutcome,
): Cutoff[] {
  return kb.cutoffs.filter(
    (c) =>
      c.metric === metric &&
      outcome.publishedOutcomes.includes(c.outcome) &&
      c.fieldStrengthT === undefined &&
      c.scanner === undefined &&
      c.comparator === SCORE_COMPARATOR,
  );
}

function comparePublished(
  kb: KnowledgeBase,
  cutoff: Cutoff,
  events: number[],
  nonEvents: number[],
): PublishedComparison {
  const local = confusionAt(events, nonEvents, cutoff.threshold);
  const n = events.length + nonEvents.length;
  const prev = events.length / n;
  const positives = local.truePositives + local.falsePositives;
  const expected =
    cutoff.sensitivity !== undefined && cutoff.specificity !== undefined
      ? cutoff.sensitivity * prev + (1 - cutoff.specificity) * (1 - prev)
      : null;
  return {
    cutoffId: cutoff.id,
    reference: cutoff.reference,
    citation: citationOf(kb, cutoff),
    threshold: cutoff.threshold,
    comparator: cutoff.comparator,
    published: {
      sensitivity: cutoff.sensitivity ?? null,
      specificity: cutoff.specificity ?? null,
      auc: cutoff.auc ?? null,
    },
    local,
    calibrationInTheLarge: {
      observedPositiveRate: local.positiveRate,
      observedPositiveRateCi95: wilson(positives, n),
      expectedPositiveRate: expected,
      observedMinusExpected: expected === null ? null : local.positiveRate - expected,
      observedOverExpected: expected === null || expected === 0 ? null : local.positiveRate / expected,
    },
  };
}

async function analyse(
  rows: CohortRow[],
  key: StratumKey,
  ctx: {
    kb: KnowledgeBase;
    published: Cutoff[];
    settings: CalibrationResult['settings'];
  },
): Promise<StratumResult> {
  const events = rows.filter((r) => r.event).map((r) => r.value);
  const nonEvents = rows.filter((r) => !r.event).map((r) => r.value);
  const dates = rows.map((r) => r.measuredOn).sort();
  const gaps = rows.map((r) => ({ row: r.row, gap: monthsBetween(r.measuredOn, r.outcomeOn) }));
  const largestGap = gaps.reduce((a, g) => Math.max(a, g.gap), 0);
  const { settings } = ctx;
  const base: StratumResult = {
    key,
    label: stratumLabel(key),
    status: 'refused',
    refusals: [],
    n: rows.length,
    events: events.length,
    nonEvents: nonEvents.length,
    prevalence: rows.length === 0 ? 0 : events.length / rows.length,
    period: { start: dates[0] ?? '', end: dates[dates.length - 1] ?? '' },
    largestGapMonths: round(largestGap, 1),
    analysis: null,
    scores: { events, nonEvents },
  };
  const refuse = (code: RefusalCode, message: string): void => {
    base.refusals.push({ code, message });
  };

  if (key.fieldStrengthT === null) {
    refuse(
      'field-strength-unknown',
      `${rows.length} scores have no field strength: a cutoff without one would replace the published cutoff for every scanner; record field_strength_t`,
    );
    return base;
  }
  if (events.length < settings.minEvents) {
    refuse('too-few-events', `${events.length} events, at least ${settings.minEvents} are needed`);
  }
  if (nonEvents.length < settings.minEvents) {
    refuse('too-few-non-events', `${nonEvents.length} non-events, at least ${settings.minEvents} are needed`);
  }
  const far = gaps.filter((g) => g.gap > settings.maxGapMonths);
  if (far.length > 0) {
    const listed = far.slice(0, 10).map((g) => g.row);
    refuse(
      'reference-too-far',
      `${far.length} of ${rows.length} rows have the reference standard more than ${settings.maxGapMonths} months from the score (largest ${round(largestGap, 1)} months; rows ${listed.join(', ')}${far.length > listed.length ? ', ...' : ''})`,
    );
  }
  if (base.refusals.some((r) => r.code === 'too-few-events' || r.code === 'too-few-non-events')) return base;

  const e = sorted(events);
  const ne = sorted(nonEvents);
  const roc = rocFromSorted(e, ne);
  if (roc.length <= 2) {
    refuse('no-threshold', 'every score in the stratum is equal: there is no cutoff to derive');
    return base;
  }
  const best = youdenOptimal(roc);
  const auc = delong(e, ne);
  const boot = await bootstrap(e, ne, {
    replicates: settings.replicates,
    random: reproducibleRandom(settings.seed),
    seed: settings.seed,
  });
  const maxBoundDifference = Math.max(
    Math.abs(auc.ci95[0] - boot.auc.ci95[0]),
    Math.abs(auc.ci95[1] - boot.auc.ci95[1]),
  );
  const width = boot.cutoff.ci95[1] - boot.cutoff.ci95[0];
  if (width > settings.maxCutoffCiWidth) {
    refuse(
      'cutoff-ci-too-wide',
      `the cutoff's bootstrap 95% CI ${boot.cutoff.ci95[0].toFixed(3)}-${boot.cutoff.ci95[1].toFixed(3)} is ${width.toFixed(3)} wide, more than the limit ${settings.maxCutoffCiWidth}`,
    );
  }
  base.analysis = {
    roc,
    auc,
    bootstrap: {
      replicates: boot.replicates,
      seed: boot.seed,
      aucCi95: boot.auc.ci95,
      cutoffCi95: boot.cutoff.ci95,
    },
    aucCrossCheck: {
      agree: maxBoundDifference <= CALIBRATION_DEFAULTS.aucCrossCheckTolerance,
      maxBoundDifference,
    },
    cutoff: {
      threshold: best.threshold,
      comparator: SCORE_COMPARATOR,
      youden: best.youden,
      ci95: boot.cutoff.ci95,
    },
    atCutoff: confusionAt(e, ne, best.threshold),
    published: ctx.published.map((c) => comparePublished(ctx.kb, c, e, ne)),
  };
  if (base.refusals.length === 0) base.status = 'accepted';
  return base;
}

/**
 * Runs the calibration of one metric against one outcome on the cohort rows. Throws `CohortError` when
 * the cohort holds no row for them (nothing to calibrate is an input problem, not a refusal).
 */
export async function calibrate(
  rows: readonly CohortRow[],
  kb: KnowledgeBase,
  outcome: CalibrationOutcome,
  options: CalibrationOptions,
): Promise<CalibrationResult> {
  const settings: CalibrationResult['settings'] = {
    metric: options.metric,
    outcome: options.outcome,
    fieldStrengthT: options.fieldStrengthT ?? null,
    minEvents: options.minEvents ?? CALIBRATION_DEFAULTS.minEvents,
    maxGapMonths: options.maxGapMonths ?? CALIBRATION_DEFAULTS.maxGapMonths,
    maxCutoffCiWidth: options.maxCutoffCiWidth ?? CALIBRATION_DEFAULTS.maxCutoffCiWidth,
    replicates: options.replicates ?? CALIBRATION_DEFAULTS.replicates,
    seed: options.seed ?? CALIBRATION_DEFAULTS.seed,
  };
  if (!Number.isInteger(settings.minEvents) || settings.minEvents < 2) {
    throw new RangeError('the minimum number of events must be an integer of at least 2');
  }
  const selected = rows.filter(
    (r) =>
      r.metric === options.metric &&
      r.outcome === options.outcome &&
      (settings.fieldStrengthT === null ||
        (r.fieldStrengthT !== null &&
          Math.abs(r.fieldStrengthT - settings.fieldStrengthT) < FIELD_TOLERANCE_T)),
  );
  if (selected.length === 0) {
    const present = [...new Set(rows.map((r) => `${r.metric}/${r.outcome}`))].slice(0, 10);
    throw new CohortError(
      `the cohort has no row for metric ${options.metric} and outcome ${options.outcome}${settings.fieldStrengthT === null ? '' : ` at ${settings.fieldStrengthT} T`}`,
      [`metric/outcome pairs present: ${present.join(', ')}`],
    );
  }
  const published = publishedCutoffsFor(kb, options.metric, outcome);
  const ctx = { kb, published, settings };

  // Field strengths as recorded, grouped within the tolerance (1.494 and 1.5 are one stratum).
  const groups = new Map<string, { fs: number | null; rows: CohortRow[] }>();
  for (const r of selected) {
    const fs = r.fieldStrengthT === null ? null : round(r.fieldStrengthT, 1);
    const k = fs === null ? 'unknown' : String(fs);
    const g = groups.get(k) ?? { fs, rows: [] };
    g.rows.push(r);
    groups.set(k, g);
  }
  const strata: StratumResult[] = [];
  const skipped: CalibrationResult['skipped'] = [];
  const ordered = [...groups.values()].sort((a, b) => (a.fs ?? Infinity) - (b.fs ?? Infinity));
  for (const g of ordered) {
    strata.push(await analyse(g.rows, { fieldStrengthT: g.fs, scanner: null }, ctx));
    if (g.fs === null) continue;
    const byScanner = new Map<string, { name: string; rows: CohortRow[] }>();
    for (const r of g.rows) {
      if (r.scanner === null) continue;
      const k = r.scanner.toLowerCase();
      const s = byScanner.get(k) ?? { name: r.scanner, rows: [] };
      s.rows.push(r);
      byScanner.set(k, s);
    }
    // One scanner model covering the whole field strength adds nothing to the field-strength stratum.
    if (byScanner.size < 2 && [...byScanner.values()].every((s) => s.rows.length === g.rows.length)) continue;
    for (const s of [...byScanner.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const key = { fieldStrengthT: g.fs, scanner: s.name };
      const ev = s.rows.filter((r) => r.event).length;
      const nonEv = s.rows.length - ev;
      if (ev < settings.minEvents || nonEv < settings.minEvents) {
        skipped.push({
          key,
          label: stratumLabel(key),
          reason: `not enough data for a scanner-specific cutoff (${ev} events, ${nonEv} non-events; ${settings.minEvents} of each needed)`,
        });
        continue;
      }
      strata.push(await analyse(s.rows, key, ctx));
    }
  }
  return {
    metric: options.metric,
    outcome: options.outcome,
    outcomeTitle: outcome.title,
    referenceStandard: outcome.referenceStandard,
    settings,
    strata,
    skipped,
    accepted: strata.filter((s) => s.status === 'accepted').length,
  };
}
