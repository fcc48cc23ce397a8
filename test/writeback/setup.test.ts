import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { smartSettingsFromEnv } from '../../src/config/writeback.js';
import { createFhirWriteback } from '../../src/writeback/setup.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { observationsLike, patientSeed, vbqObservation } from './fixtures.js';

describe('smartSettingsFromEnv', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'writeback-key-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('is off without variables, and names what is missing when only some are set', () => {
    expect(smartSettingsFromEnv({})).toBeUndefined();
    expect(() => smartSettingsFromEnv({ FHIR_WRITE_CLIENT_ID: 'c' })).toThrow(
      /FHIR_WRITE_TOKEN_URL, FHIR_WRITE_PRIVATE_KEY_FILE/,
    );
    expect(() =>
      smartSettingsFromEnv({
        FHIR_WRITE_CLIENT_ID: 'c',
        FHIR_WRITE_TOKEN_URL: 'ftp://x',
        FHIR_WRITE_PRIVATE_KEY_FILE: 'k',
      }),
    ).toThrow(/http\(s\) URL/);
    expect(() =>
      smartSettingsFromEnv({
        FHIR_WRITE_CLIENT_ID: 'c',
        FHIR_WRITE_TOKEN_URL: 'https://auth.example/token',
        FHIR_WRITE_PRIVATE_KEY_FILE: path.join(dir, 'missing.pem'),
      }),
    ).toThrow(/cannot read FHIR_WRITE_PRIVATE_KEY_FILE \(ENOENT\)/);
  });

  it('reads the key file and the optional kid and scope', () => {
    const file = path.join(dir, 'key.pem');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-384' })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString();
    writeFileSync(file, pem);
    expect(
      smartSettingsFromEnv({
        FHIR_WRITE_CLIENT_ID: 'c',
        FHIR_WRITE_TOKEN_URL: 'https://auth.example/token',
        FHIR_WRITE_PRIVATE_KEY_FILE: file,
        FHIR_WRITE_KEY_ID: 'k1',
        FHIR_WRITE_SCOPE: 'system/Observation.c system/Patient.rs',
      }),
    ).toEqual({
      tokenUrl: 'https://auth.example/token',
      clientId: 'c',
      privateKey: pem,
      kid: 'k1',
      scope: 'system/Observation.c system/Patient.rs',
    });
  });
});

describe('createFhirWriteback', () => {
  let fhir: TestFhirServer;
  let store: Store;
  beforeAll(async () => {
    fhir = await startFhirServer({ seed: [patientSeed([['p1', 'PAT-001']])] });
    store = new Store(await openDb({ dataDir: 'memory://' }));
  });
  afterAll(async () => {
    await store.close();
    await fhir.stop();
  });

  it('wires auth, writer and outbox, and reports attempts and queue sizes as metrics', async () => {
    const registry = new Registry();
    const writeback = await createFhirWriteback({
      baseUrl: fhir.baseUrl,
      auth: { token: 'write-token' },
      store,
      logger: createLogger('silent'),
      registry,
    });
    expect(writeback.auth.kind).toBe('static');
    const obs = vbqObservation('1.2.77.1');
    await writeback.enqueueObservation(obs);
    await writeback.enqueueObservation(vbqObservation('1.2.77.2', { reference: 'Patient/does-not-matter' }));
    const { code: _c, ...broken } = vbqObservation('1.2.77.3', { reference: 'Patient/p1' });
    await writeback.enqueueObservation(broken as typeof obs);
    expect(await writeback.runOnce()).toEqual({ done: 2, retried: 0, dead: 1 });
    expect(fhir.requests.every((r) => r.authorization === 'Bearer write-token')).toBe(true);
    expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);

    const text = await registry.metrics();
    expect(text).toContain('writeback_attempts_total{kind="fhir-observation",outcome="done",code="none"} 2');
    expect(text).toContain(
      'writeback_attempts_total{kind="fhir-observation",outcome="dead",code="rejected"} 1',
    );
    expect(text).toContain('writeback_outbox_items{status="done"} 2');
    expect(text).toContain('writeback_outbox_items{status="dead"} 1');
    expect(text).toContain('writeback_outbox_items{status="pending"} 0');
  });
});
