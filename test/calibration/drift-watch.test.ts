/**
 * The drift watch's runtime pieces: which recent scores it reads from the store (on every store
 * back-end), its status before and after a check and after a failed one, its configuration, and a
 * bad baseline file failing the start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDriftWatchRuntime,
  loadDriftBaseline,
  outboxRecentScores,
} from '../../src/calibration/drift-watch.js';
import type { DriftBaseline } from '../../src/calibration/drift.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime } from '../../src/server.js';
import type { Store } from '../../src/store/store.js';
import { OBSERVATION_OUTBOX_KIND, observationDedupeKey } from '../../src/writeback/outbox-worker.js';
import { score } from '../fixtures/scenarios/builders.js';
import { storeBackends } from '../helpers/store.js';

const DAY = 86_400_000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);

const baseline: DriftBaseline = {
  kind: 'vbq-calibration-baseline',
  metric: 'vbq-l1-l4',
  outcome: 'osteoporosis-dxa',
  derivedOn: '2026-01-15',
  strata: [{ fieldStrengthT: 3, scanner: null, scores: Array.from({ length: 60 }, (_, i) => 2.4 + i / 100) }],
};

function capture() {
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
  return { logger, lines: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

for (const backend of storeBackends()) {
  describe(`recent scores from the write-back outbox (${backend.name})`, () => {
    const stores: Store[] = [];
    afterAll(async () => {
      for (const s of stores) await s.close();
    });

    it('one score per study and metric (the latest measurement), acquired within the window, never a dead item', async () => {
      const store = await backend.open();
      stores.push(store);
      const queue = async (id: string, value: number, date: string, study: string, metric = 'vbq-l1-l4') => {
        const obs = score(id, `pt-${id}`, metric, value, date, { fieldStrength: 3, scanner: 'Skyra', study });
        return store.enqueue(OBSERVATION_OUTBOX_KIND, observationDedupeKey(obs), obs);
      };
      await queue('a', 2.8, day(-2), 'study-1');
      await queue('a-remeasured', 2.95, day(-2), 'study-1'); // the same study, corrected ROIs: replaces it
      await queue('b', 3.1, `${day(-5)}T10:00:00Z`, 'study-2');
      await queue('old-study', 3.5, day(-90), 'study-3'); // measured today, acquired long ago
      await queue('ebq', 3.0, day(-1), 'study-4', 'ebq'); // another metric
      const dead = await queue('dead', 9.9, day(-1), 'study-5');
      await store.failOutbox(dead.id, 'HTTP 422', null);
      await store.enqueue('dicom-sr', 'sr-1', { resourceType: 'Observation', value: 1 }); // another kind

      const recent = await outboxRecentScores(store, 'vbq-l1-l4')(new Date(Date.now() - 30 * DAY));
      expect(recent.map((r) => r.value).sort()).toEqual([2.95, 3.1]);
      expect(recent[0]).toEqual({
        metric: 'vbq-l1-l4',
        value: 2.95,
        fieldStrengthT: 3,
        scanner: 'Skyra',
        measuredOn: day(-2),
      });
      // Items queued before the window are not read at all.
      expect(await outboxRecentScores(store, 'vbq-l1-l4')(new Date(Date.now() + DAY))).toEqual([]);
    });
  });
}

describe('drift watch runtime', () => {
  it('status: nothing before the first check, the strata after it, the last results kept when a check fails', async () => {
    const { logger, lines } = capture();
    let fail = false;
    const registry = new Registry();
    const watch = createDriftWatchRuntime({
      baseline,
      logger,
      registry,
      settings: { windowDays: 14, thresholds: { alpha: 0.01, minMedianShift: 0.15, minRecent: 10 } },
      now: () => new Date('2026-11-30T00:00:00Z'),
      source: async () => {
        if (fail) throw new Error('database unavailable');
        return Array.from({ length: 20 }, (_, i) => ({
          metric: 'vbq-l1-l4' as const,
          value: 3.2 + i / 100,
          fieldStrengthT: 3,
          scanner: null,
        }));
      },
    });
    expect(watch.status()).toMatchObject({ checkedAt: null, strata: [], windowDays: 14, lastError: null });
    const first = await watch.runOnce();
    expect(first.checkedAt).toBe('2026-11-30T00:00:00.000Z');
    expect(first.strata).toEqual([expect.objectContaining({ status: 'drift', recentN: 20 })]);
    expect(first.thresholds.minRecent).toBe(10);
    expect(
      await registry.getSingleMetricAsString('cds_calibration_drift_last_check_timestamp_seconds'),
    ).toContain(String(Date.parse('2026-11-30T00:00:00Z') / 1000));
    fail = true;
    const second = await watch.runOnce();
    expect(second.lastError).toBe('database unavailable');
    expect(second.strata).toEqual(first.strata);
    expect(lines().some((l) => l.level === 50 && l.msg === 'calibration drift check failed')).toBe(true);
    // Concurrent calls share one check.
    fail = false;
    const [x, y] = [watch.runOnce(), watch.runOnce()];
    expect(x).toBe(y);
    await x;
    watch.start();
    await watch.stop();
  });

  it('a baseline file that is not one fails with the file and the problem named', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'drift-baseline-'));
    const bad = path.join(dir, 'baseline.json');
    writeFileSync(bad, JSON.stringify({ ...baseline, kind: 'something-else' }));
    expect(() => loadDriftBaseline(bad)).toThrow(
      /DRIFT_BASELINE_FILE .*baseline\.json is not a calibration baseline.*kind/,
    );
    writeFileSync(bad, '{ not json');
    expect(() => loadDriftBaseline(bad)).toThrow(/DRIFT_BASELINE_FILE .*baseline\.json: /);
    const good = path.join(dir, 'good.json');
    writeFileSync(good, JSON.stringify(baseline));
    expect(loadDriftBaseline(good).strata).toHaveLength(1);
  });

  it('the service does not start on a bad baseline file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'drift-start-'));
    const file = path.join(dir, 'baseline.json');
    writeFileSync(file, JSON.stringify({ kind: 'vbq-calibration-baseline' }));
    const config = loadConfig({
      DATA_DIR: dir,
      DEMO_MODE: 'off',
      FHIR_WRITE_BASE_URL: 'http://127.0.0.1:9/fhir',
      DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:mrn',
      DRIFT_BASELINE_FILE: file,
    });
    await expect(createRuntime(config, { logger: createLogger('silent') })).rejects.toThrow(
      /DRIFT_BASELINE_FILE/,
    );
  });
});

describe('drift watch configuration', () => {
  const base = {
    DEMO_MODE: 'off',
    FHIR_WRITE_BASE_URL: 'http://fhir.example/r4',
    DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:mrn',
  };

  it('off without DRIFT_BASELINE_FILE; defaults with it', () => {
    expect(loadConfig(base).drift).toBeUndefined();
    expect(loadConfig({ ...base, DRIFT_BASELINE_FILE: 'b.json' }).drift).toEqual({
      baselineFile: path.resolve('b.json'),
      intervalMs: 86_400_000,
      windowDays: 30,
      alpha: 0.01,
      minMedianShift: 0.15,
      minRecent: 30,
    });
    expect(
      loadConfig({
        ...base,
        DRIFT_BASELINE_FILE: 'b.json',
        DRIFT_CHECK_INTERVAL_MS: '3600000',
        DRIFT_WINDOW_DAYS: '90',
        DRIFT_ALPHA: '0.05',
        DRIFT_MIN_MEDIAN_SHIFT: '0.2',
        DRIFT_MIN_RECENT: '50',
      }).drift,
    ).toMatchObject({
      intervalMs: 3_600_000,
      windowDays: 90,
      alpha: 0.05,
      minMedianShift: 0.2,
      minRecent: 50,
    });
  });

  it('every bad setting is named', () => {
    const attempt = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return '';
      } catch (err) {
        return (err as Error).message;
      }
    };
    const message = attempt({
      ...base,
      DRIFT_BASELINE_FILE: 'b.json',
      DRIFT_CHECK_INTERVAL_MS: '9999999999',
      DRIFT_WINDOW_DAYS: '0',
      DRIFT_ALPHA: '0',
      DRIFT_MIN_MEDIAN_SHIFT: '-1',
      DRIFT_MIN_RECENT: '2',
    });
    for (const name of [
      'DRIFT_CHECK_INTERVAL_MS',
      'DRIFT_WINDOW_DAYS',
      'DRIFT_ALPHA',
      'DRIFT_MIN_MEDIAN_SHIFT',
      'DRIFT_MIN_RECENT',
    ])
      expect(message).toContain(name);
    expect(attempt({ DEMO_MODE: 'off', DRIFT_ALPHA: '0.05' })).toMatch(
      /DRIFT_ALPHA set but DRIFT_BASELINE_FILE is not/,
    );
    expect(attempt({ DEMO_MODE: 'off', DRIFT_BASELINE_FILE: 'b.json' })).toMatch(
      /DRIFT_BASELINE_FILE needs FHIR_WRITE_BASE_URL/,
    );
  });
});
