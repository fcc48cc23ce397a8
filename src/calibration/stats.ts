/**
 * The statistics of a site calibration: empirical ROC curve, AUC with its DeLong variance, the
 * Youden-optimal cutoff, stratified bootstrap confidence intervals, accuracy at a cutoff, and the
 * two-sample Kolmogorov-Smirnov test of the drift watch.
 *
 * Conventions (those of R's pROC, so figures can be checked against it): scores are oriented so that a
 * higher score means the event is more likely; a case is test-positive when its score is >= the
 * threshold; ROC thresholds are the midpoints between consecutive distinct observed scores; ties count
 * one half in the AUC (Mann-Whitney). Normal quantiles and CDF come from stdlib; the algorithms here are
 * checked in test/calibration/ against values computed by other implementations (R pROC, R ks.test)
 * and against published worked examples.
 */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import type { ReproducibleRandom } from './random.js';

const ascending = (a: number, b: number): number => a - b;

/** Sorted copy, ascending. */
export function sorted(values: readonly number[]): number[] {
  return [...values].sort(ascending);
}

/** The 100p-th percentile of ascending-sorted data, R's default (type 7) definition. */
export function quantileSorted(sortedValues: readonly number[], p: number): number {
  const n = sortedValues.length;
  if (n === 0) throw new RangeError('quantile of an empty sample');
  if (p < 0 || p > 1) throw new RangeError('p must be within [0, 1]');
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const a = sortedValues[lo]!;
  const b = sortedValues[Math.min(lo + 1, n - 1)]!;
  return a + (h - lo) * (b - a);
}

/** z such that P(Z <= z) = p for the standard normal. */
export function zQuantile(p: number): number {
  return normalQuantile(p, 0, 1);
}

/** Standard normal CDF. */
export function zCdf(z: number): number {
  return normalCdf(z, 0, 1);
}

export interface RocPoint {
  /** Test positive when score >= threshold; -Infinity and +Infinity are the trivial ends. */
  threshold: number;
  sensitivity: number;
  specificity: number;
}

/**
 * Empirical ROC curve from ascending-sorted event and non-event scores, one point per threshold
 * (-Infinity, each midpoint between consecutive distinct scores, +Infinity), thresholds ascending.
 */
export function rocFromSorted(events: ArrayLike<number>, nonEvents: ArrayLike<number>): RocPoint[] {
  const m = events.length;
  const n = nonEvents.length;
  const points: RocPoint[] = [{ threshold: -Infinity, sensitivity: 1, specificity: 0 }];
  let i = 0; // events <= current value
  let j = 0; // non-events <= current value
  while (i < m || j < n) {
    const v = Math.min(i < m ? events[i]! : Infinity, j < n ? nonEvents[j]! : Infinity);
    while (i < m && events[i] === v) i++;
    while (j < n && nonEvents[j] === v) j++;
    const next = Math.min(i < m ? events[i]! : Infinity, j < n ? nonEvents[j]! : Infinity);
    points.push({
      threshold: next === Infinity ? Infinity : (v + next) / 2,
      sensitivity: (m - i) / m,
      specificity: j / n,
    });
  }
  return points;
}

export interface YoudenPoint extends RocPoint {
  youden: number;
}

/**
 * The threshold maximising Youden's J = sensitivity + specificity - 1 among finite thresholds. Ties (equal
 * J) go to the lowest threshold, the more sensitive rule, as a screening cutoff should.
 */
export function youdenOptimal(points: readonly RocPoint[]): YoudenPoint {
  let best: YoudenPoint | undefined;
  for (const p of points) {
    if (!Number.isFinite(p.threshold)) continue;
    const j = p.sensitivity + p.specificity - 1;
    // 1e-12 absorbs float noise so equal J really ties.
    if (best === undefined || j > best.youden + 1e-12) best = { ...p, youden: j };
  }
  if (best === undefined) throw new RangeError('no finite threshold: every score is equal');
  return best;
}

/**
 * The Youden-optimal threshold straight from sorted samples, without building the curve (the bootstrap
 * calls it thousands of times); same thresholds and tie rule as `youdenOptimal(rocFromSorted(...))`.
 * NaN when every score is equal.
 */
export function youdenThresholdFromSorted(events: ArrayLike<number>, nonEvents: ArrayLike<number>): number {
  const m = events.length;
  const n = nonEvents.length;
  let i = 0;
  let j = 0;
  let bestJ = -Infinity;
  let best = NaN;
  while (i < m || j < n) {
    const v = Math.min(i < m ? events[i]! : Infinity, j < n ? nonEvents[j]! : Infinity);
    while (i < m && events[i] === v) i++;
    while (j < n && nonEvents[j] === v) j++;
    const next = Math.min(i < m ? events[i]! : Infinity, j < n ? nonEvents[j]! : Infinity);
    if (next === Infinity) break;
    const youden = (m - i) / m + j / n - 1;
    if (youden > bestJ + 1e-12) {
      bestJ = youden;
      best = (v + next) / 2;
    }
  }
  return best;
}

/** Mann-Whitney AUC from sorted samples (ties count one half), in one merge pass. */
export function aucFromSorted(events: ArrayLike<number>, nonEvents: ArrayLike<number>): number {
  const m = events.length;
  const n = nonEvents.length;
  let below = 0; // non-events strictly below events[i]
  let equal = 0; // non-events equal to events[i]
  let total = 0;
  let j = 0;
  for (let i = 0; i < m; i++) {
    const x = events[i]!;
    if (i === 0 || x !== events[i - 1]) {
      while (j < n && nonEvents[j]! < x) j++;
      below = j;
      let k = j;
      while (k < n && nonEvents[k] === x) k++;
      equal = k - j;
    }
    total += below + equal / 2;
  }
  return total / (m * n);
}

export interface DeLongResult {
  auc: number;
  /** Standard error of the AUC by DeLong, DeLong & Clarke-Pearson (1988). */
  se: number;
  ci95: [number, number];
}

/** Count of ascending-sorted values < x and == x (binary search). */
function countBelowEqual(sortedValues: readonly number[], x: number): [number, number] {
  let lo = 0;
  let hi = sortedValues.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sortedValues[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  let up = lo;
  hi = sortedValues.length;
  while (up < hi) {
    const mid = (up + hi) >> 1;
    if (sortedValues[mid]! <= x) up = mid + 1;
    else hi = mid;
  }
  return [lo, up - lo];
}

function sampleVariance(values: readonly number[], mean: number): number {
  let s = 0;
  for (const v of values) s += (v - mean) * (v - mean);
  return s / (values.length - 1);
}

/**
 * AUC with its DeLong standard error and a Wald 95% CI truncated to [0, 1], from the structural
 * components (placement values) V10 of each event and V01 of each non-event.
 */
export function delong(events: readonly number[], nonEvents: readonly number[], level = 0.95): DeLongResult {
  const m = events.length;
  const n = nonEvents.length;
  if (m < 2 || n < 2) throw new RangeError('DeLong needs at least two events and two non-events');
  const e = sorted(events);
  const ne = sorted(nonEvents);
  const v10 = e.map((x) => {
    const [below, equal] = countBelowEqual(ne, x);
    return (below + equal / 2) / n;
  });
  const v01 = ne.map((y) => {
    const [below, equal] = countBelowEqual(e, y);
    return (m - below - equal + equal / 2) / m;
  });
  const auc = v10.reduce((a, b) => a + b, 0) / m;
  const variance = sampleVariance(v10, auc) / m + sampleVariance(v01, auc) / n;
  const se = Math.sqrt(variance);
  const z = zQuantile(1 - (1 - level) / 2);
  return { auc, se, ci95: [Math.max(0, auc - z * se), Math.min(1, auc + z * se)] };
}

export interface Confusion {
  threshold: number;
  truePositives: number;
  falseNegatives: number;
  falsePositives: number;
  trueNegatives: number;
  sensitivity: number;
  specificity: number;
  /** null when no case is test-positive (or negative). */
  ppv: number | null;
  npv: number | null;
  /** Share of all cases that are test-positive. */
  positiveRate: number;
}

/** Accuracy of the rule "score >= threshold" on this sample. */
export function confusionAt(
  events: readonly number[],
  nonEvents: readonly number[],
  threshold: number,
): Confusion {
  const tp = events.filter((x) => x >= threshold).length;
  const fp = nonEvents.filter((x) => x >= threshold).length;
  const fn = events.length - tp;
  const tn = nonEvents.length - fp;
  return {
    threshold,
    truePositives: tp,
    falseNegatives: fn,
    falsePositives: fp,
    trueNegatives: tn,
    sensitivity: tp / events.length,
    specificity: tn / nonEvents.length,
    ppv: tp + fp === 0 ? null : tp / (tp + fp),
    npv: tn + fn === 0 ? null : tn / (tn + fn),
    positiveRate: (tp + fp) / (events.length + nonEvents.length),
  };
}

export interface BootstrapResult {
  replicates: number;
  seed: number;
  auc: { ci95: [number, number]; se: number };
  cutoff: { ci95: [number, number]; values: number[] };
}

/** Replicates computed between two yields to the event loop (a few milliseconds of work). */
const REPLICATES_PER_SLICE = 50;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Stratified bootstrap (events and non-events resampled separately, keeping the cohort's event count, as
 * pROC does by default): percentile 95% CIs of the AUC and of the Youden-optimal cutoff. Asynchronous
 * only to yield to the event loop between slices, so a calibration run inside the service never stalls
 * the hooks for seconds; the result depends on the seed alone.
 */
export async function bootstrap(
  events: readonly number[],
  nonEvents: readonly number[],
  options: { replicates: number; random: ReproducibleRandom; seed: number },
): Promise<BootstrapResult> {
  const m = events.length;
  const n = nonEvents.length;
  const aucs: number[] = [];
  const cutoffs: number[] = [];
  const e = new Float64Array(m);
  const ne = new Float64Array(n);
  for (let b = 0; b < options.replicates; b++) {
    if (b > 0 && b % REPLICATES_PER_SLICE === 0) await yieldToEventLoop();
    for (let i = 0; i < m; i++) e[i] = events[options.random.index(m)]!;
    for (let j = 0; j < n; j++) ne[j] = nonEvents[options.random.index(n)]!;
    e.sort();
    ne.sort();
    aucs.push(aucFromSorted(e, ne));
    const threshold = youdenThresholdFromSorted(e, ne);
    // A resample with every score equal has no finite threshold; it carries no cutoff.
    if (!Number.isNaN(threshold)) cutoffs.push(threshold);
  }
  aucs.sort(ascending);
  cutoffs.sort(ascending);
  const mean = aucs.reduce((a, b) => a + b, 0) / aucs.length;
  return {
    replicates: options.replicates,
    seed: options.seed,
    auc: {
      ci95: [quantileSorted(aucs, 0.025), quantileSorted(aucs, 0.975)],
      se: Math.sqrt(sampleVariance(aucs, mean)),
    },
    cutoff: { ci95: [quantileSorted(cutoffs, 0.025), quantileSorted(cutoffs, 0.975)], values: cutoffs },
  };
}

/** Median of a sample. */
export function median(values: readonly number[]): number {
  return quantileSorted(sorted(values), 0.5);
}

/**
 * Survival function of the Kolmogorov distribution, P(K > x), by the two series R's `pkstwo` uses
 * (the theta-function form below 1, the alternating series above).
 */
export function kolmogorovSurvival(x: number): number {
  if (x <= 0) return 1;
  if (x < 1) {
    const z = -(Math.PI * Math.PI) / (8 * x * x);
    let s = 0;
    for (let k = 1; k < 100; k += 2) {
      const term = Math.exp(k * k * z);
      s += term;
      if (term < 1e-17) break;
    }
    return Math.min(1, Math.max(0, 1 - (Math.sqrt(2 * Math.PI) / x) * s));
  }
  let sum = 0;
  for (let k = 1; k < 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * x * x);
    sum += term;
    if (Math.abs(term) < 1e-17) break;
  }
  return Math.min(1, Math.max(0, sum));
}

export interface KsResult {
  /** D = max |F_a(x) - F_b(x)|. */
  statistic: number;
  /** Asymptotic two-sided p-value (R's `ks.test(a, b, exact = FALSE)`). */
  pValue: number;
  n: [number, number];
}

/** Two-sample Kolmogorov-Smirnov test with the asymptotic p-value. */
export function ksTwoSample(a: readonly number[], b: readonly number[]): KsResult {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('both samples need at least one value');
  const x = sorted(a);
  const y = sorted(b);
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n1 && j < n2) {
    const v = Math.min(x[i]!, y[j]!);
    while (i < n1 && x[i] === v) i++;
    while (j < n2 && y[j] === v) j++;
    d = Math.max(d, Math.abs(i / n1 - j / n2));
  }
  const en = Math.sqrt((n1 * n2) / (n1 + n2));
  return { statistic: d, pValue: kolmogorovSurvival(en * d), n: [n1, n2] };
}

/** Wilson score interval for a proportion (95%): used for observed rates in the report. */
export function wilson(successes: number, total: number, level = 0.95): [number, number] {
  if (total === 0) return [0, 1];
  const z = zQuantile(1 - (1 - level) / 2);
  const p = successes / total;
  const denom = 1 + (z * z) / total;
  const centre = (p + (z * z) / (2 * total)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / total + (z * z) / (4 * total * total))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** True binormal ROC figures: AUC and the Youden-optimal cutoff for N(mu0, s0) vs N(mu1, s1), mu1 > mu0. */
export function binormalTruth(
  mu0: number,
  s0: number,
  mu1: number,
  s1: number,
): { auc: number; cutoff: number; youden: number } {
  const auc = zCdf((mu1 - mu0) / Math.sqrt(s0 * s0 + s1 * s1));
  // J(c) = Phi((c-mu0)/s0) - Phi((c-mu1)/s1) peaks where the two densities are equal.
  let cutoff: number;
  if (Math.abs(s0 - s1) < 1e-12) {
    cutoff = (mu0 + mu1) / 2;
  } else {
    const a = 1 / (s1 * s1) - 1 / (s0 * s0);
    const b = 2 * (mu0 / (s0 * s0) - mu1 / (s1 * s1));
    const c = (mu1 * mu1) / (s1 * s1) - (mu0 * mu0) / (s0 * s0) - 2 * Math.log(s0 / s1);
    const disc = Math.sqrt(b * b - 4 * a * c);
    const roots = [(-b - disc) / (2 * a), (-b + disc) / (2 * a)];
    cutoff = roots.find((r) => r >= mu0 && r <= mu1) ?? roots[0]!;
  }
  const youden = zCdf((cutoff - mu0) / s0) - zCdf((cutoff - mu1) / s1);
  return { auc, cutoff, youden };
}
