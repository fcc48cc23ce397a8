/**
 * Recovery of known truth: cohorts drawn from a binormal model with a fixed seed, whose true AUC and true
 * Youden-optimal cutoff are known in closed form. The estimates must fall within their own 95% CIs, and
 * over many seeded cohorts the CIs must cover the truth about as often as they claim.
 */
import { describe, expect, it } from 'vitest';
import { calibrate } from '../../src/calibration/calibrate.js';
import { reproducibleRandom } from '../../src/calibration/random.js';
import {
  binormalTruth,
  bootstrap,
  delong,
  sorted,
  youdenOptimal,
  rocFromSorted,
} from '../../src/calibration/stats.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { cohort, shippedOutcomes, stratum } from './helpers.js';

const outcome = () => shippedOutcomes().outcomes['osteoporosis-dxa']!;

describe('binormal cohorts with known ROC', () => {
  it('recovers AUC and cutoff within their CIs at 3 T and 1.5 T (the 1.5 T cutoff 0.5 higher)', async () => {
    const rows = cohort(20_240_101, [
      stratum({ fieldStrengthT: 3, events: 150, nonEvents: 350 }),
      stratum({ fieldStrengthT: 1.5, events: 150, nonEvents: 350, mu0: 3.1, mu1: 3.7 }),
    ]);
    const result = await calibrate(rows, shippedKnowledgeBase(), outcome(), {
      metric: 'vbq-l1-l4',
      outcome: 'osteoporosis-dxa',
    });
    expect(result.strata.map((s) => [s.label, s.status])).toEqual([
      ['1.5 T', 'accepted'],
      ['3 T', 'accepted'],
    ]);
    for (const s of result.strata) {
      const truth =
        s.key.fieldStrengthT === 3
          ? binormalTruth(2.6, 0.45, 3.2, 0.45)
          : binormalTruth(3.1, 0.45, 3.7, 0.45);
      const a = s.analysis!;
      expect(truth.auc).toBeGreaterThanOrEqual(a.auc.ci95[0]);
      expect(truth.auc).toBeLessThanOrEqual(a.auc.ci95[1]);
      expect(truth.auc).toBeGreaterThanOrEqual(a.bootstrap.aucCi95[0]);
      expect(truth.auc).toBeLessThanOrEqual(a.bootstrap.aucCi95[1]);
      expect(truth.cutoff).toBeGreaterThanOrEqual(a.cutoff.ci95[0]);
      expect(truth.cutoff).toBeLessThanOrEqual(a.cutoff.ci95[1]);
      expect(a.aucCrossCheck.agree).toBe(true);
    }
    const [at15, at3] = result.strata.map((s) => s.analysis!.cutoff.threshold) as [number, number];
    expect(at15 - at3).toBeGreaterThan(0.2);
  });

  it('is reproducible: the same seed gives the same cutoff CI, another seed a different one', async () => {
    const rows = cohort(7, [stratum()]);
    const run = (seed: number) =>
      calibrate(rows, shippedKnowledgeBase(), outcome(), {
        metric: 'vbq-l1-l4',
        outcome: 'osteoporosis-dxa',
        seed,
        replicates: 500,
        maxCutoffCiWidth: 5,
      });
    const [a, b, c] = await Promise.all([run(11), run(11), run(12)]);
    expect(a.strata[0]!.analysis!.cutoff.ci95).toEqual(b.strata[0]!.analysis!.cutoff.ci95);
    expect(a.strata[0]!.analysis!.cutoff.ci95).not.toEqual(c.strata[0]!.analysis!.cutoff.ci95);
  });

  it('DeLong and bootstrap CIs cover the true AUC and cutoff in most of 40 seeded cohorts', async () => {
    const truth = binormalTruth(2.6, 0.45, 3.2, 0.45);
    let aucCovered = 0;
    let cutoffCovered = 0;
    const n = 40;
    for (let seed = 1; seed <= n; seed++) {
      const random = reproducibleRandom(1000 + seed);
      const e = Array.from({ length: 80 }, () => random.normal(3.2, 0.45));
      const ne = Array.from({ length: 120 }, () => random.normal(2.6, 0.45));
      const d = delong(e, ne);
      if (truth.auc >= d.ci95[0] && truth.auc <= d.ci95[1]) aucCovered++;
      const b = await bootstrap(e, ne, { replicates: 400, random, seed });
      if (truth.cutoff >= b.cutoff.ci95[0] && truth.cutoff <= b.cutoff.ci95[1]) cutoffCovered++;
      // The point estimate is a real Youden point of the sample.
      expect(youdenOptimal(rocFromSorted(sorted(e), sorted(ne))).youden).toBeGreaterThan(0);
    }
    // Nominal 95%: at least 34 of 40 (a binomial(40, 0.95) falls below 34 with probability < 1%).
    expect(aucCovered).toBeGreaterThanOrEqual(34);
    expect(cutoffCovered).toBeGreaterThanOrEqual(34);
  });
});
