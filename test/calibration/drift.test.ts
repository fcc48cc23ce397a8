/** Drift watch: the pure comparison, and the periodic job publishing gauges and log lines. */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  assessDrift,
  createDriftGauges,
  createDriftWatch,
  type DriftBaseline,
  type RecentScore,
} from '../../src/calibration/drift.js';
import { reproducibleRandom } from '../../src/calibration/random.js';
import { createLogger } from '../../src/http/logger.js';

const random = reproducibleRandom(99);
const draw = (n: number, mu: number, sd: number) => Array.from({ length: n }, () => random.normal(mu, sd));

const baseline: DriftBaseline = {
  kind: 'vbq-calibration-baseline',
  metric: 'vbq-l1-l4',
  outcome: 'osteoporosis-dxa',
  derivedOn: '2026-01-15',
  strata: [
    { fieldStrengthT: 3, scanner: null, scores: draw(400, 2.8, 0.5) },
    { fieldStrengthT: 3, scanner: 'Skyra', scores: draw(200, 2.8, 0.5) },
    { fieldStrengthT: 1.5, scanner: null, scores: draw(300, 3.3, 0.5) },
  ],
};

const recent = (n: number, mu: number, fs: number, scanner: string | null): RecentScore[] =>
  draw(n, mu, 0.5).map((value) => ({ metric: 'vbq-l1-l4', value, fieldStrengthT: fs, scanner }));

describe('drift watch', () => {
  it('flags a shifted scanner, keeps a stable field strength, and says when there are too few scores', () => {
    const results = assessDrift(baseline, [
      ...recent(150, 3.2, 3, 'Siemens MAGNETOM Skyra'), // +0.4 after, say, a protocol change
      ...recent(20, 3.3, 1.5, null),
    ]);
    const [all3t, skyra, at15] = results;
    expect(skyra).toMatchObject({ scanner: 'Skyra', status: 'drift', recentN: 150 });
    expect(skyra!.pValue!).toBeLessThan(0.001);
    expect(skyra!.medianShift!).toBeGreaterThan(0.25);
    expect(all3t!.status).toBe('drift');
    expect(at15).toMatchObject({ status: 'insufficient-data', recentN: 20, ksStatistic: null });
  });

  it('a sample from the same distribution is stable; a tiny shift in many scores is not called drift', () => {
    const same = assessDrift(baseline, recent(300, 2.8, 3, 'GE'));
    expect(same[0]!.status).toBe('stable');
    // 5000 scores 0.1 higher: KS is "significant" but the median moved less than the threshold.
    const tiny = assessDrift(baseline, recent(5000, 2.9, 3, 'GE'));
    expect(tiny[0]!.medianShift!).toBeLessThan(0.15);
    expect(tiny[0]!.pValue!).toBeLessThan(0.05);
    expect(tiny[0]!.status).toBe('stable');
    expect(assessDrift(baseline, recent(5000, 2.9, 3, 'GE'), { minMedianShift: 0.01 })[0]!.status).toBe(
      'drift',
    );
  });

  it('the job sets the gauges and writes one log line per stratum, a warning for drift', async () => {
    const registry = new Registry();
    const lines: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk: Buffer, _e, cb) {
          lines.push(chunk.toString('utf8'));
          cb();
        },
      }),
    );
    let asked: Date | undefined;
    const watch = createDriftWatch({
      baseline,
      logger,
      gauges: createDriftGauges(registry),
      windowDays: 30,
      now: () => new Date('2026-11-30T00:00:00Z'),
      source: async (since) => {
        asked = since;
        return recent(150, 3.3, 3, 'Skyra');
      },
    });
    const results = await watch.runOnce();
    expect(asked?.toISOString()).toBe('2026-10-31T00:00:00.000Z');
    expect(watch.latest()).toBe(results);
    const text = await registry.metrics();
    expect(text).toContain('cds_calibration_drift{metric="vbq-l1-l4",field_strength="3",scanner="Skyra"} 1');
    expect(text).toContain('cds_calibration_drift{metric="vbq-l1-l4",field_strength="1.5",scanner="any"} -1');
    expect(text).toMatch(
      /cds_calibration_drift_median_shift\{metric="vbq-l1-l4",field_strength="3",scanner="Skyra"\} 0\.\d+/,
    );
    const parsed = lines.map((l) => JSON.parse(l) as { level: number; msg: string; status: string });
    expect(parsed).toHaveLength(3);
    expect(parsed.filter((l) => l.level === 40).map((l) => l.status)).toEqual(['drift', 'drift']);
  });
});
