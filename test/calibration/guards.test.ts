/** Each guard refuses a stratum with its coded reason, and a refused stratum yields no cutoff. */
import { describe, expect, it } from 'vitest';
import { calibrate, type CalibrationOptions } from '../../src/calibration/calibrate.js';
import { buildOverrides } from '../../src/calibration/overrides.js';
import type { CohortRow } from '../../src/calibration/cohort.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { cohort, shippedOutcomes, stratum } from './helpers.js';

const outcome = () => shippedOutcomes().outcomes['osteoporosis-dxa']!;
const run = (rows: CohortRow[], options: Partial<CalibrationOptions> = {}) =>
  calibrate(rows, shippedKnowledgeBase(), outcome(), {
    metric: 'vbq-l1-l4',
    outcome: 'osteoporosis-dxa',
    replicates: 500,
    ...options,
  });

describe('guards', () => {
  it('too few events: refused below the documented default of 30, accepted at 30', async () => {
    const few = await run(cohort(3, [stratum({ events: 29, nonEvents: 200 })]));
    expect(few.strata[0]!.status).toBe('refused');
    expect(few.strata[0]!.refusals).toEqual([
      { code: 'too-few-events', message: '29 events, at least 30 are needed' },
    ]);
    expect(few.strata[0]!.analysis).toBeNull();
    const enough = await run(cohort(3, [stratum({ events: 30, nonEvents: 200, mu1: 3.6 })]));
    expect(enough.strata[0]!.refusals.map((r) => r.code)).not.toContain('too-few-events');
  });

  it('too few non-events, and --min-events moves the bar', async () => {
    const rows = cohort(4, [stratum({ events: 60, nonEvents: 25, mu1: 3.6 })]);
    expect((await run(rows)).strata[0]!.refusals.map((r) => r.code)).toEqual(['too-few-non-events']);
    expect((await run(rows, { minEvents: 20, maxCutoffCiWidth: 5 })).strata[0]!.status).toBe('accepted');
  });

  it('reference standard too far from the score: refused, naming the rows and the largest gap', async () => {
    const rows = cohort(5, [stratum({ mu1: 3.6 })]);
    rows[3] = { ...rows[3]!, outcomeOn: '2027-06-01' };
    const r = await run(rows, { maxCutoffCiWidth: 5 });
    const s = r.strata[0]!;
    expect(s.status).toBe('refused');
    expect(s.refusals).toHaveLength(1);
    expect(s.refusals[0]!.code).toBe('reference-too-far');
    expect(s.refusals[0]!.message).toMatch(/^1 of 200 rows have the reference standard more than 12 months/);
    expect(s.refusals[0]!.message).toContain(`rows ${rows[3]!.row}`);
    // Configurable: a longer window accepts the same cohort.
    expect((await run(rows, { maxGapMonths: 60, maxCutoffCiWidth: 5 })).strata[0]!.status).toBe('accepted');
    // The figures are still computed for the report.
    expect(s.analysis).not.toBeNull();
  });

  it('cutoff CI wider than the limit: refused (a weak marker gives an unstable cutoff)', async () => {
    const weak = cohort(6, [stratum({ events: 40, nonEvents: 60, mu1: 2.75 })]);
    const r = await run(weak);
    const s = r.strata[0]!;
    expect(s.refusals.map((x) => x.code)).toEqual(['cutoff-ci-too-wide']);
    const [lo, hi] = s.analysis!.cutoff.ci95;
    expect(hi - lo).toBeGreaterThan(0.6);
    expect(s.refusals[0]!.message).toContain('more than the limit 0.6');
    expect((await run(weak, { maxCutoffCiWidth: hi - lo + 0.01 })).strata[0]!.status).toBe('accepted');
  });

  it('unknown field strength: refused, never calibrated as if it applied to every scanner', async () => {
    const r = await run(
      cohort(8, [stratum({ fieldStrengthT: null, events: 100, nonEvents: 100, mu1: 3.6 })]),
    );
    expect(r.strata[0]!.refusals.map((x) => x.code)).toEqual(['field-strength-unknown']);
    expect(r.accepted).toBe(0);
  });

  it('all strata refused: no overrides document can be built (no silent fallback)', async () => {
    const r = await run(cohort(9, [stratum({ events: 10 }), stratum({ fieldStrengthT: 1.5, events: 12 })]));
    expect(r.accepted).toBe(0);
    expect(() =>
      buildOverrides(r, {
        kb: shippedKnowledgeBase(),
        outcome: outcome(),
        site: 'Test',
        derivedOn: new Date(),
        software: 'test',
      }),
    ).toThrow(/no accepted stratum/);
  });

  it('scanner strata only where each scanner has enough data; the rest are listed as not attempted', async () => {
    const r = await run(
      cohort(10, [
        stratum({ scanner: 'Scanner A', events: 60, nonEvents: 100, mu1: 3.6 }),
        stratum({ scanner: 'Scanner B', events: 10, nonEvents: 40, mu1: 3.6 }),
      ]),
      { maxCutoffCiWidth: 5 },
    );
    expect(r.strata.map((s) => s.label)).toEqual(['3 T', '3 T, Scanner A']);
    expect(r.skipped).toEqual([
      expect.objectContaining({
        label: '3 T, Scanner B',
        reason: expect.stringContaining('10 events, 40 non-events'),
      }),
    ]);
  });
});
