/**
 * Drift watch: are new local scores still distributed like the calibration cohort's? A protocol change, a
 * software upgrade or a new coil shifts VBQ, and a site-calibrated cutoff silently goes wrong with it.
 * Per field strength (and scanner, where the baseline has a scanner stratum) the recent scores are
 * compared with the baseline by a two-sample Kolmogorov-Smirnov test and the shift in median; drift is
 * flagged when both the test is significant and the median moved more than a set amount (with hundreds
 * of scores a trivial shift is "significant", and a large shift in a handful of scores is noise).
 *
 * `assessDrift` is pure; `createDriftWatch` runs it once over a source of recent scores and publishes the
 * result as Prometheus gauges and one log line per stratum; src/calibration/drift-watch.ts runs that
 * periodically inside the service.
 */
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Logger } from '../http/logger.js';
import { driftGauges, type DriftGauges } from '../http/metrics.js';
import { SCORE_METRICS, type ScoreMetric } from '../knowledge/schema.js';
import type { CalibrationResult } from './calibrate.js';
import { ksTwoSample, median, sorted } from './stats.js';

/** The calibration cohort's scores per accepted stratum (no patient data: scores only). */
export const driftBaselineSchema = z
  .object({
    kind: z.literal('vbq-calibration-baseline'),
    metric: z.enum(SCORE_METRICS),
    outcome: z.string().min(1),
    derivedOn: z.iso.date(),
    strata: z
      .array(
        z
          .object({
            fieldStrengthT: z.number().positive(),
            scanner: z.string().min(1).nullable(),
            scores: z.array(z.number().finite()).min(2),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();
export type DriftBaseline = z.infer<typeof driftBaselineSchema>;

/** The baseline of the accepted strata of a calibration run. */
export function driftBaseline(result: CalibrationResult, derivedOn: Date): DriftBaseline {
  return {
    kind: 'vbq-calibration-baseline',
    metric: result.metric,
    outcome: result.outcome,
    derivedOn: derivedOn.toISOString().slice(0, 10),
    strata: result.strata
      .filter((s) => s.status === 'accepted' && s.key.fieldStrengthT !== null)
      .map((s) => ({
        fieldStrengthT: s.key.fieldStrengthT!,
        scanner: s.key.scanner,
        scores: sorted([...s.scores.events, ...s.scores.nonEvents]),
      })),
  };
}

export interface RecentScore {
  metric: ScoreMetric;
  value: number;
  fieldStrengthT: number | null;
  scanner: string | null;
  /** Acquisition date (YYYY-MM-DD) when known. */
  measuredOn?: string | null;
}

export interface DriftThresholds {
  /** KS p-value below which the distributions differ (default 0.01). */
  alpha: number;
  /** Smallest |median shift| (score units) that counts as drift (default 0.15, about a third of a VBQ SD). */
  minMedianShift: number;
  /** Fewer recent scores than this: not assessed (default 30). */
  minRecent: number;
}

export const DRIFT_DEFAULTS: DriftThresholds = { alpha: 0.01, minMedianShift: 0.15, minRecent: 30 };

export interface DriftResult {
  metric: ScoreMetric;
  fieldStrengthT: number;
  scanner: string | null;
  baselineN: number;
  recentN: number;
  status: 'stable' | 'drift' | 'insufficient-data';
  ksStatistic: number | null;
  pValue: number | null;
  baselineMedian: number;
  recentMedian: number | null;
  medianShift: number | null;
}

const FIELD_TOLERANCE_T = 0.05;

/**
 * Compares recent scores with the baseline, stratum by stratum. A recent score counts towards the scanner
 * stratum whose name its scanner contains (as the cards match scanners), and always towards its field
 * strength's stratum.
 */
export function assessDrift(
  baseline: DriftBaseline,
  recent: readonly RecentScore[],
  thresholds: Partial<DriftThresholds> = {},
): DriftResult[] {
  const t = { ...DRIFT_DEFAULTS, ...thresholds };
  return baseline.strata.map((stratum) => {
    const values = recent
      .filter(
        (r) =>
          r.metric === baseline.metric &&
          r.fieldStrengthT !== null &&
          Math.abs(r.fieldStrengthT - stratum.fieldStrengthT) < FIELD_TOLERANCE_T &&
          (stratum.scanner === null ||
            (r.scanner !== null && r.scanner.toLowerCase().includes(stratum.scanner.toLowerCase()))),
      )
      .map((r) => r.value);
    const base = {
      metric: baseline.metric,
      fieldStrengthT: stratum.fieldStrengthT,
      scanner: stratum.scanner,
      baselineN: stratum.scores.length,
      recentN: values.length,
      baselineMedian: median(stratum.scores),
    };
    if (values.length < t.minRecent) {
      return {
        ...base,
        status: 'insufficient-data',
        ksStatistic: null,
        pValue: null,
        recentMedian: values.length ? median(values) : null,
        medianShift: null,
      };
    }
    const ks = ksTwoSample(stratum.scores, values);
    const recentMedian = median(values);
    const shift = recentMedian - base.baselineMedian;
    return {
      ...base,
      status: ks.pValue < t.alpha && Math.abs(shift) >= t.minMedianShift ? 'drift' : 'stable',
      ksStatistic: ks.statistic,
      pValue: ks.pValue,
      recentMedian,
      medianShift: shift,
    };
  });
}

/** The drift watch's gauges on an app's registry (defined with the other metrics in src/http/metrics.ts). */
export function createDriftGauges(registry: Registry): DriftGauges {
  return driftGauges(registry);
}

/** Where the job reads recent scores from: a store query, or a FHIR search (`fhirRecentScores`). */
export type RecentScoresSource = (since: Date) => Promise<RecentScore[]>;

export interface DriftWatchOptions {
  baseline: DriftBaseline;
  source: RecentScoresSource;
  logger: Logger;
  gauges?: DriftGauges;
  thresholds?: Partial<DriftThresholds>;
  /** Scores from this many days back are "recent" (default 30). */
  windowDays?: number;
  now?: () => Date;
}

export interface DriftWatch {
  runOnce(): Promise<DriftResult[]>;
  /** The last results (empty before the first run). */
  latest(): DriftResult[];
}

export function createDriftWatch(options: DriftWatchOptions): DriftWatch {
  const now = options.now ?? (() => new Date());
  let last: DriftResult[] = [];
  const runOnce = async (): Promise<DriftResult[]> => {
    const since = new Date(now().getTime() - (options.windowDays ?? 30) * 86_400_000);
    const recent = await options.source(since);
    const results = assessDrift(options.baseline, recent, options.thresholds);
    const g = options.gauges;
    if (g) {
      // A stratum that now has too few scores must not keep showing last month's p-value.
      for (const gauge of [g.drift, g.pValue, g.ksStatistic, g.medianShift, g.recentScores]) gauge.reset();
      g.lastCheck.set(now().getTime() / 1000);
    }
    for (const r of results) {
      const labels = {
        metric: r.metric,
        field_strength: String(r.fieldStrengthT),
        scanner: r.scanner ?? 'any',
      };
      g?.drift.set(labels, r.status === 'drift' ? 1 : r.status === 'stable' ? 0 : -1);
      g?.recentScores.set(labels, r.recentN);
      if (r.pValue !== null) g?.pValue.set(labels, r.pValue);
      if (r.ksStatistic !== null) g?.ksStatistic.set(labels, r.ksStatistic);
      if (r.medianShift !== null) g?.medianShift.set(labels, r.medianShift);
      const line = {
        metric: r.metric,
        fieldStrengthT: r.fieldStrengthT,
        scanner: r.scanner,
        status: r.status,
        recentN: r.recentN,
        ks: r.ksStatistic,
        p: r.pValue,
        medianShift: r.medianShift,
      };
      if (r.status === 'drift')
        options.logger.warn(line, 'calibration drift: recent scores differ from the calibration cohort');
      else options.logger.info(line, 'calibration drift check');
    }
    last = results;
    return results;
  };
  return { runOnce, latest: () => last };
}
