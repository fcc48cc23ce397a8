/**
 * The imaging API as the composed service runs it (src/server.ts wiring): configured from environment
 * variables like a hospital deployment, a radiology pipeline's JWT, an upload with write=true, and the
 * background write-back worker delivering exactly one conforming Observation to a real FHIR server.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, Observation, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { lumbarRois, makePhantom, type Phantom } from '../helpers/phantom.js';

const PID_SYSTEM = 'urn:oid:1.2.840.99999.1';
const PATIENT: Patient = {
  resourceType: 'Patient',
  id: 'pt-1',
  identifier: [{ system: PID_SYSTEM, value: 'PHANTOM-001' }],
};

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('imaging upload with write-back through the composed service', () => {
  let fhir: TestFhirServer;
  let server: http.Server;
  let runtime: Runtime;
  let base: string;
  let pipeline: TestClient;
  let phantom: Phantom;

  beforeAll(async () => {
    phantom = await makePhantom({ uidRoot: '2.25.7701' });
    const validator = getProfileValidator();
    fhir = await startFhirServer({
      validate: (r) => validator.validate(r),
      seed: [
        {
          resourceType: 'Bundle',
          type: 'collection',
          entry: [{ resource: PATIENT }],
        },
      ],
    });
    pipeline = await createTestClient({ alg: 'ES384', iss: 'urn:radiology-pipeline' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-img-'));
    const clientsFile = path.join(dir, 'clients.json');
    fs.writeFileSync(clientsFile, JSON.stringify([{ iss: pipeline.iss, jwks: pipeline.jwks }]));
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      PUBLIC_BASE_URL: base,
      DATA_DIR: dir,
      CDS_CLIENTS_FILE: clientsFile,
      FHIR_WRITE_BASE_URL: fhir.baseUrl,
      DICOM_PATIENT_IDENTIFIER_SYSTEM: PID_SYSTEM,
      OUTBOX_POLL_MS: '100',
      LOG_LEVEL: 'silent',
    });
    runtime = await createRuntime(config, { logger: createLogger('silent') });
    server.on('request', runtime.app);
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await runtime.close();
    await fhir.stop();
  });

  async function upload(token?: string): Promise<Response> {
    const form = new FormData();
    phantom.files.forEach((data, i) =>
      form.append('files', new Blob([data], { type: 'application/dicom' }), `slice-${i + 1}.dcm`),
    );
    form.append(
      'rois',
      new Blob([JSON.stringify(lumbarRois(phantom))], { type: 'application/json' }),
      'rois.json',
    );
    form.append('write', 'true');
    const url = `${base}/imaging/vbq`;
    return fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token ?? (await pipeline.sign({ aud: url }))}` },
      body: form,
    });
  }

  it('is mounted behind the same client authentication as the hooks', async () => {
    expect((await upload('not-a-jwt')).status).toBe(401);
  });

  it('measures, queues, and the background worker writes exactly one conforming Observation', async () => {
    const first = await upload();
    expect(first.status).toBe(200);
    const body = (await first.json()) as {
      writes: { metric: string; status: string; identifier: { system: string; value: string } }[];
    };
    const vbq = body.writes.find((w) => w.metric === 'vbq-l1-l4');
    expect(vbq?.status).toBe('queued');
    expect((await upload()).status).toBe(200);

    const query = `${fhir.baseUrl}/Observation?identifier=${encodeURIComponent(`${vbq!.identifier.system}|${vbq!.identifier.value}`)}`;
    const found = await until(async () => {
      const bundle = (await (await fetch(query)).json()) as Bundle<Observation>;
      return (bundle.entry?.length ?? 0) > 0 ? bundle : undefined;
    });
    await new Promise((r) => setTimeout(r, 500));
    const again = (await (await fetch(query)).json()) as Bundle<Observation>;
    expect(again.entry).toHaveLength(1);
    const obs = found.entry![0]!.resource!;
    expect(obs.subject?.reference).toBe('Patient/pt-1');
    expect(
      getProfileValidator()
        .validate(obs)
        .filter((i) => i.severity === 'error'),
    ).toEqual([]);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/writeback_attempts_total\{kind="fhir-observation",outcome="done"/);
  });
});
