/**
 * Site calibration end to end, as a hospital runs it: `vbq calibrate` (the real command, a child process)
 * on a seeded binormal cohort written to CSV; the overrides and drift baseline it writes loaded by the
 * composed service (src/server.ts, configured from environment variables, listening on loopback); an
 * order-sign call whose score matches the calibrated field strength and scanner gets a card citing the
 * site-calibrated cutoff, one from another field strength does not. Then the drift watch: scores the
 * service measured (queued in its write-back outbox, delivered to a real FHIR server) shifted on one
 * scanner and not on the other show as drift and as stable in /metrics and the log.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { Bundle, Observation } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrationOverridesSchema } from '../../src/calibration/overrides.js';
import { driftBaselineSchema } from '../../src/calibration/drift.js';
import { cohortToCsv, syntheticCohort } from '../../src/calibration/synthetic.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { ORDER_SIGN_SERVICE_ID } from '../../src/services/order-sign.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { OBSERVATION_OUTBOX_KIND, observationDedupeKey } from '../../src/writeback/outbox-worker.js';
import { score as scoreObservation } from '../fixtures/scenarios/builders.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { loadScenario, toEvaluationInput } from '../rules/scenario-harness.js';
import { cohort, stratum } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const AERA = 'Siemens MAGNETOM Aera';
const SIGNA = 'GE SIGNA Explorer';
const PID_SYSTEM = 'urn:oid:1.2.840.99999.1';
/** Recent measurements in the drift test: 40 per scanner. */
const RECENT = 80;

/** How the cards print a number (3 decimals at most, no trailing zeros). */
const num = (x: number) => String(Number(x.toFixed(3)));

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('site calibration through the running service', () => {
  let dir: string;
  let overridesFile: string;
  let fhir: TestFhirServer;
  let server: http.Server;
  let runtime: Runtime;
  let base: string;
  let ehr: TestClient;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'calibration-e2e-'));
    // Two 1.5 T scanners with enough events each for their own cutoff (and one for 1.5 T as a whole).
    // Equal variances: the true Youden cutoff is the midpoint, 3.0, below the 3.28 TLIF cutoff.
    const csv = path.join(dir, 'cohort.csv');
    writeFileSync(
      csv,
      cohortToCsv(
        cohort(1616, [
          stratum({ fieldStrengthT: 1.5, scanner: AERA, mu0: 2.7, mu1: 3.3, s0: 0.35, s1: 0.35 }),
          stratum({ fieldStrengthT: 1.5, scanner: SIGNA, mu0: 2.7, mu1: 3.3, s0: 0.35, s1: 0.35 }),
        ]),
      ),
    );
    overridesFile = path.join(dir, 'site-overrides.json');
    const baselineFile = path.join(dir, 'baseline.json');
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'src/imaging/cli.ts'),
        'calibrate',
        '--csv',
        csv,
        '--metric',
        'vbq-l1-l4',
        '--outcome',
        'osteoporosis-dxa',
        '--site',
        'Test Hospital',
        '--replicates',
        '1000',
        '--out',
        overridesFile,
        '--baseline',
        baselineFile,
      ],
      { cwd: ROOT, timeout: 240_000 },
    );
    expect(stdout).toContain(`wrote ${overridesFile} (3 cutoffs)`);

    // The patients of the recent measurements (drift test), so their write-back is delivered.
    fhir = await startFhirServer({
      seed: [
        {
          resourceType: 'Bundle',
          type: 'collection',
          entry: Array.from({ length: RECENT }, (_, i) => ({
            resource: { resourceType: 'Patient' as const, id: `pt-recent-${i}` },
          })),
        },
      ],
    });
    ehr = await createTestClient({ alg: 'ES384', iss: 'urn:test-ehr' });
    const clientsFile = path.join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([{ iss: ehr.iss, jwks: ehr.jwks }]));
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      PUBLIC_BASE_URL: base,
      DATA_DIR: dir,
      CDS_CLIENTS_FILE: clientsFile,
      KNOWLEDGE_OVERRIDES_FILE: overridesFile,
      FHIR_WRITE_BASE_URL: fhir.baseUrl,
      DICOM_PATIENT_IDENTIFIER_SYSTEM: PID_SYSTEM,
      OUTBOX_POLL_MS: '200',
      DRIFT_BASELINE_FILE: baselineFile,
      DRIFT_CHECK_INTERVAL_MS: '1000',
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    });
    runtime = await createRuntime(config, { logger: createLogger('info', sink) });
    server.on('request', runtime.app);
  }, 300_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await runtime?.close();
    await fhir?.stop();
  });

  /** The TLIF scenario's order-sign call with its VBQ score replaced. */
  async function orderSign(value: number, fieldStrengthT: number, scanner: string) {
    const { bundle, expected } = loadScenario('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const patched = structuredClone(bundle) as Bundle;
    for (const entry of patched.entry ?? []) {
      const obs = entry.resource as Observation | undefined;
      if (obs?.resourceType !== 'Observation') continue;
      obs.valueQuantity!.value = value;
      const fs = obs.component!.find((c) => c.code.coding?.[0]?.code === 'field-strength')!;
      fs.valueQuantity!.value = fieldStrengthT;
      obs.component!.push({
        code: {
          coding: [
            { system: 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality', code: 'scanner' },
          ],
        },
        valueString: scanner,
      });
    }
    const input = toEvaluationInput(
      patched,
      expected,
      prefetchTemplates(shippedKnowledgeBase(), PATIENT_VIEW_KEYS),
    );
    const url = `${base}/cds-services/${ORDER_SIGN_SERVICE_ID}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${await ehr.sign({ aud: url })}`,
      },
      body: JSON.stringify({
        hook: 'order-sign',
        hookInstance: randomUUID(),
        context: input.context,
        prefetch: input.prefetch,
      }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { cards: { summary: string; detail?: string }[] };
    return body.cards.map((c) => `${c.summary}\n${c.detail ?? ''}`).join('\n---\n');
  }

  it('a matching score is compared with the site-calibrated cutoff, and the card cites it', async () => {
    const doc = calibrationOverridesSchema.parse(JSON.parse(readFileSync(overridesFile, 'utf8')));
    const aera = doc.cutoffs.find((c) => c.scanner === AERA)!;
    const whole = doc.cutoffs.find((c) => c.fieldStrengthT === 1.5 && c.scanner === undefined)!;
    expect(aera.provenance.cohortSize).toBe(200);
    expect(whole.provenance.cohortSize).toBe(400);
    // The design keeps the calibrated cutoffs below the 3.28 TLIF cutoff, so the screening cutoff decides.
    const value = Math.max(aera.threshold, whole.threshold) + 0.05;
    expect(value).toBeLessThan(3.28);

    const onAera = await orderSign(value, 1.5, AERA);
    expect(onAera).toContain(
      `above the ${num(aera.threshold)} screening cutoff, site-calibrated (n = 200, AUC ${num(aera.provenance.auc)}) for 1.5 T ${AERA}`,
    );
    // Another 1.5 T scanner: the cutoff calibrated for 1.5 T as a whole.
    const elsewhere = await orderSign(value, 1.5, 'Philips Achieva');
    expect(elsewhere).toContain(`site-calibrated (n = 400, AUC ${num(whole.provenance.auc)}) for 1.5 T`);
    expect(elsewhere).not.toContain(AERA);
  });

  it('a score from another field strength keeps the published cutoff', async () => {
    const at3t = await orderSign(3.2, 3, AERA);
    expect(at3t).not.toContain('site-calibrated');
    expect(at3t).toMatch(/screening cutoff/);
    const kb = runtime.kb;
    const published = kb.cutoffs.find(
      (c) =>
        c.role === 'screening' &&
        c.metric === 'vbq-l1-l4' &&
        c.primaryScreening &&
        c.provenance === undefined,
    );
    expect(published).toBeDefined();
    expect(at3t).toContain(`${num(published!.threshold)} screening cutoff`);
  });

  it('drift watch: scores shifted on one scanner show as drift, the other scanner stays stable', async () => {
    const baseline = driftBaselineSchema.parse(
      JSON.parse(readFileSync(path.join(dir, 'baseline.json'), 'utf8')),
    );
    expect(baseline.strata.map((s) => s.scanner).sort()).toEqual([AERA, SIGNA, null].sort());
    // Recent scores as the measurement writes them: from the same model on the GE scanner, 0.5 higher on
    // the Siemens one (a protocol change), acquired in the last days, queued for write-back.
    const recent = syntheticCohort({
      seed: 2929,
      metric: 'vbq-l1-l4',
      outcome: 'osteoporosis-dxa',
      start: '2026-01-01',
      strata: [
        stratum({
          fieldStrengthT: 1.5,
          scanner: AERA,
          events: 12,
          nonEvents: 28,
          mu0: 3.2,
          mu1: 3.8,
          s0: 0.35,
          s1: 0.35,
        }),
        stratum({
          fieldStrengthT: 1.5,
          scanner: SIGNA,
          events: 12,
          nonEvents: 28,
          mu0: 2.7,
          mu1: 3.3,
          s0: 0.35,
          s1: 0.35,
        }),
      ],
    });
    expect(recent).toHaveLength(RECENT);
    const acquired = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    for (const [i, row] of recent.entries()) {
      const obs = scoreObservation(`recent-${i}`, `pt-recent-${i}`, 'vbq-l1-l4', row.value, acquired, {
        fieldStrength: 1.5,
        scanner: row.scanner!,
        study: `study-recent-${i}`,
      });
      delete obs.id;
      await runtime.store.enqueue(OBSERVATION_OUTBOX_KIND, observationDedupeKey(obs), obs);
    }
    const labels = (scanner: string) => `metric="vbq-l1-l4",field_strength="1.5",scanner="${scanner}"`;
    const text = await until(async () => {
      const t = await (await fetch(`${base}/metrics`)).text();
      return t.includes(`cds_calibration_drift_recent_scores{${labels(AERA)}} 40`) &&
        t.includes(`cds_calibration_drift_recent_scores{${labels(SIGNA)}} 40`)
        ? t
        : undefined;
    });
    expect(text).toContain(`cds_calibration_drift{${labels(AERA)}} 1`);
    expect(text).toContain(`cds_calibration_drift{${labels(SIGNA)}} 0`);
    const shift = Number(
      new RegExp(`cds_calibration_drift_median_shift\\{${labels(AERA)}\\} (\\S+)`).exec(text)?.[1],
    );
    expect(shift).toBeGreaterThan(0.3);
    const p = Number(
      new RegExp(`cds_calibration_drift_p_value\\{${labels(SIGNA)}\\} (\\S+)`).exec(text)?.[1],
    );
    expect(p).toBeGreaterThan(0.01);

    // Delivered to the FHIR server meanwhile (done items still count: the measurement happened).
    await until(async () => ((await runtime.store.outboxCounts()).done === RECENT ? true : undefined));
    expect((await runtime.drift!.runOnce()).strata.find((s) => s.scanner === AERA)?.recentN).toBe(40);

    const status = runtime.drift!.status();
    expect(status.checkedAt).not.toBeNull();
    expect(status.strata.find((s) => s.scanner === AERA)?.status).toBe('drift');
    expect(status.strata.find((s) => s.scanner === SIGNA)?.status).toBe('stable');

    const lines = logs
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const warnings = lines.filter((l) => l.level === 40 && String(l.msg).startsWith('calibration drift'));
    expect(warnings.some((w) => w.scanner === AERA && w.status === 'drift')).toBe(true);
    expect(warnings.some((w) => w.scanner === SIGNA)).toBe(false);
    // No patient data in the drift log lines: figures and strata only.
    for (const w of lines.filter((l) => String(l.msg).startsWith('calibration drift')))
      expect(JSON.stringify(w)).not.toMatch(/pt-recent|Patient\//);
  }, 60_000);
});
