/**
 * The statistics against values computed independently: published worked examples (Hanley & McNeil
 * 1982; the pROC documentation's aSAH example, Robin et al. 2011) and values computed with R 4.2.2
 * (pROC 1.18.0 `roc`, `var(method = "delong")`, `ci.auc(method = "delong")`, `coords(best.method =
 * "youden")`; stats `ks.test(exact = FALSE)`, `quantile()`), typed in here.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { reproducibleRandom } from '../../src/calibration/random.js';
import {
  aucFromSorted,
  binormalTruth,
  bootstrap,
  confusionAt,
  delong,
  kolmogorovSurvival,
  ksTwoSample,
  quantileSorted,
  rocFromSorted,
  sorted,
  youdenOptimal,
  youdenThresholdFromSorted,
  zCdf,
} from '../../src/calibration/stats.js';

const rep = (counts: number[]): number[] => counts.flatMap((n, i) => Array<number>(n).fill(i + 1));

// Hanley & McNeil, Radiology 1982;143:29-36, Table 1: CT ratings (1 definitely normal .. 5 definitely
// abnormal) of 58 normal and 51 abnormal patients. Published area 0.893, standard error 0.032.
const hmNormal = rep([33, 6, 6, 11, 2]);
const hmAbnormal = rep([3, 2, 2, 11, 33]);

// pROC's aSAH data set (Turck et al. 2010): S100B of 72 patients with a good and 41 with a poor outcome.
// pROC's documentation: "Area under the curve: 0.7314, 95% CI: 0.6301-0.8326 (DeLong)".
const s100bGood = [
  0.13, 0.14, 0.1, 0.04, 0.47, 0.18, 0.1, 0.1, 0.04, 0.08, 0.04, 0.09, 0.11, 0.07, 0.17, 0.07, 0.11, 0.13,
  0.19, 0.05, 0.16, 0.14, 0.34, 0.09, 0.5, 0.46, 0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.08, 0.06, 0.13,
  0.1, 0.14, 0.15, 0.06, 0.05, 0.09, 0.04, 0.09, 0.08, 0.16, 0.09, 0.08, 0.33, 0.11, 0.28, 0.07, 0.1, 0.32,
  0.07, 0.05, 0.24, 0.38, 0.1, 0.15, 0.08, 0.14, 0.1, 0.07, 0.04, 0.19, 0.15, 0.47, 0.17, 0.15, 0.5, 0.48,
];
const s100bPoor = [
  0.13, 0.1, 0.16, 0.12, 0.44, 0.71, 0.49, 0.07, 0.33, 0.09, 0.07, 0.41, 0.35, 0.48, 0.96, 0.25, 0.86, 0.52,
  2.07, 0.07, 0.77, 0.3, 0.03, 0.09, 0.23, 0.7, 0.27, 0.71, 0.08, 0.26, 0.13, 0.1, 0.11, 0.22, 0.56, 0.14,
  0.58, 0.32, 0.82, 0.74, 0.44,
];

describe('AUC and DeLong CI', () => {
  it('reproduces Hanley & McNeil 1982 (AUC 0.893, SE 0.032) and pROC on the same ratings', () => {
    const r = delong(hmAbnormal, hmNormal);
    expect(r.auc).toBeCloseTo(0.893, 3);
    // Hanley-McNeil's SE uses its exponential approximation; DeLong's is close to it.
    expect(Math.abs(r.se - 0.032)).toBeLessThan(0.002);
    // pROC: var = 0.000943989270262985, CI 0.832952327658172-0.953389795397947.
    expect(r.auc).toBeCloseTo(0.893171061528059, 12);
    expect(r.se ** 2).toBeCloseTo(0.000943989270262985, 12);
    expect(r.ci95[0]).toBeCloseTo(0.832952327658172, 9);
    expect(r.ci95[1]).toBeCloseTo(0.953389795397947, 9);
  });

  it('reproduces the pROC aSAH example (AUC 0.7314, DeLong 95% CI 0.6301-0.8326)', () => {
    const r = delong(s100bPoor, s100bGood);
    expect(r.auc.toFixed(4)).toBe('0.7314');
    expect(r.ci95.map((v) => v.toFixed(4))).toEqual(['0.6301', '0.8326']);
    expect(r.se ** 2).toBeCloseTo(0.00266868245717244, 12);
    expect(aucFromSorted(sorted(s100bPoor), sorted(s100bGood))).toBeCloseTo(0.731368563685637, 12);
  });

  it('the bootstrap AUC CI cross-checks the DeLong CI', async () => {
    const r = delong(s100bPoor, s100bGood);
    const b = await bootstrap(s100bPoor, s100bGood, {
      replicates: 2000,
      random: reproducibleRandom(42),
      seed: 42,
    });
    expect(Math.abs(b.auc.ci95[0] - r.ci95[0])).toBeLessThan(0.03);
    expect(Math.abs(b.auc.ci95[1] - r.ci95[1])).toBeLessThan(0.03);
    expect(Math.abs(b.auc.se - r.se)).toBeLessThan(0.006);
  });
});

describe('ROC curve and Youden cutoff', () => {
  it("matches pROC's thresholds, the Youden-optimal cutoff and accuracy at it (aSAH)", () => {
    const roc = rocFromSorted(sorted(s100bPoor), sorted(s100bGood));
    // pROC coords(r, "all"): first thresholds -Inf, 0.035, 0.045, 0.055, 0.065, 0.075, 0.085, 0.095.
    expect(roc.slice(0, 8).map((p) => p.threshold)).toEqual(
      [-Infinity, 0.035, 0.045, 0.055, 0.065, 0.075, 0.085, 0.095].map((t) =>
        Number.isFinite(t) ? expect.closeTo(t, 12) : t,
      ),
    );
    expect(roc[2]!.sensitivity).toBeCloseTo(0.9756098, 7);
    expect(roc[2]!.specificity).toBeCloseTo(0.06944444, 7);
    expect(roc[5]!.sensitivity).toBeCloseTo(0.902439, 6);
    const best = youdenOptimal(roc);
    // pROC coords(r, "best", best.method = "youden"): 0.205, sens 0.6341463, spec 0.8055556, ppv 0.65, npv 0.7945205.
    expect(best.threshold).toBeCloseTo(0.205, 12);
    const at = confusionAt(s100bPoor, s100bGood, best.threshold);
    expect(at.sensitivity).toBeCloseTo(0.6341463, 7);
    expect(at.specificity).toBeCloseTo(0.8055556, 7);
    expect(at.ppv).toBeCloseTo(0.65, 12);
    expect(at.npv).toBeCloseTo(0.7945205, 7);
  });

  it('the bootstrap shortcut finds the same Youden threshold as the full curve', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 40 }),
        (a, b) => {
          const e = sorted(a.map((x) => x / 10));
          const ne = sorted(b.map((x) => x / 10));
          const roc = rocFromSorted(e, ne);
          if (roc.length <= 2) return Number.isNaN(youdenThresholdFromSorted(e, ne));
          return youdenThresholdFromSorted(e, ne) === youdenOptimal(roc).threshold;
        },
      ),
    );
  });

  it('binormal truth: the cutoff maximises J (checked on a grid) and the AUC is Phi(d/sqrt(s0^2+s1^2))', () => {
    for (const [mu0, s0, mu1, s1] of [
      [2.6, 0.45, 3.2, 0.45],
      [2.6, 0.4, 3.3, 0.6],
    ] as const) {
      const t = binormalTruth(mu0, s0, mu1, s1);
      let bestC = 0;
      let bestJ = -1;
      for (let c = 1; c <= 5; c += 0.0005) {
        const j = zCdf((c - mu0) / s0) - zCdf((c - mu1) / s1);
        if (j > bestJ) [bestJ, bestC] = [j, c];
      }
      expect(t.cutoff).toBeCloseTo(bestC, 3);
      expect(t.youden).toBeCloseTo(bestJ, 6);
    }
    expect(binormalTruth(0, 1, 1, 1).auc).toBeCloseTo(0.7602499, 6);
  });
});

describe('Kolmogorov-Smirnov and quantiles', () => {
  it('matches R ks.test(x, y, exact = FALSE)', () => {
    const x = [
      0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77,
      1.09, -1.28, 2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47,
    ];
    const y = [
      2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.3, 0.66, 2.31, 3.29, -0.27, -0.37, 0.38, 0.7,
      0.52, -0.71,
    ];
    const k = ksTwoSample(x, y);
    expect(k.statistic).toBeCloseTo(0.23, 12);
    expect(k.pValue).toBeCloseTo(0.599195592411992, 6);
    const k2 = ksTwoSample(s100bGood, s100bPoor);
    expect(k2.statistic).toBeCloseTo(0.43970189701897, 12);
    expect(k2.pValue).toBeCloseTo(8.20384146394959e-5, 9);
  });

  it('the Kolmogorov survival function is continuous where its two series meet and has the known 5% point', () => {
    // The density near 1 is about 1.07, so points 2e-6 apart differ by about 2e-6.
    expect(kolmogorovSurvival(0.999999)).toBeCloseTo(kolmogorovSurvival(1.000001), 5);
    // The classical critical value: P(K > 1.358) = 0.05.
    expect(kolmogorovSurvival(1.358)).toBeCloseTo(0.05, 3);
  });

  it('quantiles follow R type 7', () => {
    const s = sorted([3, 1, 4, 1, 5, 9, 2, 6]);
    // R: quantile(c(3,1,4,1,5,9,2,6), c(0.025, 0.5, 0.975)) = 1.000 3.500 8.475
    expect(quantileSorted(s, 0.025)).toBeCloseTo(1, 12);
    expect(quantileSorted(s, 0.5)).toBeCloseTo(3.5, 12);
    expect(quantileSorted(s, 0.975)).toBeCloseTo(8.475, 12);
  });
});
