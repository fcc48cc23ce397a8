/**
 * The radiology worklist against a real Orthanc: spine MR studies with a measurable sagittal T1 series and
 * no VBQ yet, requested studies first (soonest surgery), then newest first, with the viewer link; served
 * at GET /imaging/worklist behind the client JWT.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import type { CdsClientInput } from '../../src/config/clients.js';
import { storeInstances } from '../../src/dicomweb/client.js';
import { createClientAuthenticator } from '../../src/http/auth/authenticator.js';
import { createLogger } from '../../src/http/logger.js';
import { createWorklistRouter } from '../../src/pacs-watch/router.js';
import { WatchStore } from '../../src/pacs-watch/watch-store.js';
import { buildWorklist, type MeasurementRequest, type WorklistEntry } from '../../src/pacs-watch/worklist.js';
import type { Store } from '../../src/store/store.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { findOrthanc, startOrthanc, type OrthancHandle } from '../helpers/orthanc.js';
import { makePhantom } from '../helpers/phantom.js';
import { storeBackends } from '../helpers/store.js';

const skip = !findOrthanc() && !process.env.CI;
const title = skip
  ? 'radiology worklist against Orthanc — SKIPPED: Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm); under CI this fails instead'
  : 'radiology worklist against a real Orthanc';

const TEMPLATE = 'http://viewer.test/viewer?StudyInstanceUIDs={StudyInstanceUID}';

describe.skipIf(skip)(title, () => {
  let orthanc: OrthancHandle;
  let store: Store;
  let ws: WatchStore;
  let client: TestClient;
  let server: http.Server;
  let base: string;
  const requests: MeasurementRequest[] = [];

  /** Stores a one-series study; returns its Study Instance UID. */
  async function addStudy(
    uidRoot: string,
    date: string,
    header: Record<string, unknown> = {},
  ): Promise<string> {
    const p = await makePhantom({
      slices: 1,
      uidRoot,
      header: { StudyDate: date, SeriesDate: date, AcquisitionDate: date, ...header },
    });
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, p.files);
    return p.studyInstanceUID;
  }

  let older: string;
  let newer: string;
  let t2Only: string;
  let knee: string;
  let measured: string;
  let requestedLate: string;
  let requestedSoon: string;

  beforeAll(async () => {
    [orthanc, store, client] = await Promise.all([
      startOrthanc(),
      storeBackends()[0]!.open(),
      createTestClient({ alg: 'ES384' }),
    ]);
    ws = new WatchStore(store.db);
    older = await addStudy('2.25.7201', '20250101');
    newer = await addStudy('2.25.7202', '20250301');
    t2Only = await addStudy('2.25.7203', '20250401', {
      SeriesDescription: 't2_tse_sag',
      RepetitionTime: '3500',
      EchoTime: '100',
    });
    knee = await addStudy('2.25.7204', '20250402', {
      StudyDescription: 'MRI KNEE',
      SeriesDescription: 't1_tse_sag',
      BodyPartExamined: 'KNEE',
    });
    measured = await addStudy('2.25.7205', '20250403');
    requestedLate = await addStudy('2.25.7206', '20240101');
    requestedSoon = await addStudy('2.25.7207', '20240102');
    // The watcher measured one study already.
    await ws.saveLineage(
      `${measured}|x`,
      measured,
      { metric: 'vbq-l1-l4', identifierValue: 'v', srSopInstanceUID: '2.25.1', contentKey: '', revision: 0 },
      new Date(),
    );
    requests.push(
      { studyInstanceUID: requestedLate, task: 'Task/late', plannedSurgeryDate: '2025-06-30' },
      { studyInstanceUID: requestedSoon, task: 'Task/soon', plannedSurgeryDate: '2025-05-02' },
    );

    const logger = createLogger('silent');
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const authenticator = createClientAuthenticator({
      clients: [{ iss: client.iss, jwks: client.jwks } as CdsClientInput],
      publicBaseUrl: base,
      replayGuard: { claim: (iss, jti, exp) => store.claimJti(iss, jti, exp) },
      logger,
    });
    const router = createWorklistRouter({
      authenticator,
      worklist: (opts) =>
        buildWorklist({
          dicomweb: { baseUrl: orthanc.dicomWebUrl },
          store: ws,
          requests: async () => requests,
          viewerUrlTemplate: TEMPLATE,
          ...opts,
        }),
    });
    const app = createApp({
      config: { maxRequestBytes: 1024 * 1024, fhirTimeoutMs: 2000 },
      logger,
      store,
      services: [],
      authenticator,
      mounts: [{ path: '/imaging', router, label: '/imaging/*' }],
    });
    server.on('request', app);
  }, 60_000);

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    await orthanc?.stop();
    await store?.close();
  });

  const get = async (path: string, token?: string | null) =>
    fetch(base + path, {
      headers:
        token === null
          ? {}
          : { authorization: `Bearer ${token ?? (await client.sign({ aud: base + path.split('?')[0] }))}` },
    });

  it('lists requested studies first (soonest surgery), then the rest newest first, each with its viewer link', async () => {
    const res = await get('/imaging/worklist');
    expect(res.status).toBe(200);
    const { entries } = (await res.json()) as { entries: WorklistEntry[] };
    expect(entries.map((e) => e.studyInstanceUID)).toEqual([requestedSoon, requestedLate, newer, older]);
    expect(entries[0]).toMatchObject({
      requested: { task: 'Task/soon', plannedSurgeryDate: '2025-05-02' },
      series: { region: 'lumbar', description: 't1_tse_sag' },
      studyDate: '2024-01-02',
      patientId: 'PHANTOM-001',
      viewerUrl: `http://viewer.test/viewer?StudyInstanceUIDs=${requestedSoon}`,
    });
    // Not listed: no T1 series, not a spine study, VBQ already measured.
    for (const uid of [t2Only, knee, measured])
      expect(entries.map((e) => e.studyInstanceUID)).not.toContain(uid);
  });

  it('lists requested studies even when they are not among the studies the PACS search returns', async () => {
    const res = await get('/imaging/worklist?limit=1');
    expect(res.status).toBe(200);
    const { entries } = (await res.json()) as { entries: WorklistEntry[] };
    expect(entries.slice(0, 2).map((e) => e.studyInstanceUID)).toEqual([requestedSoon, requestedLate]);
    expect(entries.length).toBeLessThanOrEqual(3);
  });

  it('needs the client JWT and refuses a bad limit with a stable code', async () => {
    expect((await get('/imaging/worklist', null)).status).toBe(401);
    const bad = await get('/imaging/worklist?limit=0');
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as {
      resourceType: string;
      issue: { details?: { coding?: { code?: string }[] } }[];
    };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.details?.coding?.[0]?.code).toBe('invalid-request');
    const post = await fetch(`${base}/imaging/worklist`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await client.sign({ aud: `${base}/imaging/worklist` })}` },
    });
    expect(post.status).toBe(405);
  });
});
