/**
 * POST /calibration over real HTTP: the real app, the real JWT authenticator with a signed test client,
 * an embedded store for the replay guard.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createCalibrationRouter, CALIBRATION_REFUSAL_SYSTEM } from '../../src/calibration/api.js';
import { calibrationOverridesSchema } from '../../src/calibration/overrides.js';
import { cohortToCsv } from '../../src/calibration/synthetic.js';
import type { CdsClientInput } from '../../src/config/clients.js';
import { ERROR_CODE_SYSTEM } from '../../src/errors.js';
import { createClientAuthenticator } from '../../src/http/auth/authenticator.js';
import { createLogger } from '../../src/http/logger.js';
import type { Store } from '../../src/store/store.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { storeBackends } from '../helpers/store.js';
import { cohort, shippedOutcomes, stratum } from './helpers.js';

let server: http.Server;
let baseUrl: string;
let client: TestClient;
let store: Store;
const logs: string[] = [];

beforeAll(async () => {
  store = await storeBackends()[0]!.open();
  client = await createTestClient({ alg: 'ES384' });
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const authenticator = createClientAuthenticator({
    clients: [{ iss: client.iss, jwks: client.jwks } as CdsClientInput],
    publicBaseUrl: baseUrl,
    replayGuard: { claim: (iss, jti, exp) => store.claimJti(iss, jti, exp) },
    logger,
  });
  const router = createCalibrationRouter({
    authenticator,
    logger,
    kb: shippedKnowledgeBase(),
    outcomes: shippedOutcomes(),
    site: 'Test Hospital',
    maxBodyBytes: 200_000,
    now: () => new Date('2026-11-30T12:00:00Z'),
  });
  const app = createApp({
    config: { maxRequestBytes: 1024 * 1024, fhirTimeoutMs: 2000 },
    logger,
    store,
    services: [],
    authenticator,
    mounts: [{ path: '/', router, label: '/calibration' }],
  });
  server.on('request', app);
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await store.close();
});

async function post(query: string, body: string, init: { token?: string | null; type?: string } = {}) {
  const token = init.token === undefined ? await client.sign({ aud: `${baseUrl}/calibration` }) : init.token;
  return fetch(`${baseUrl}/calibration?${query}`, {
    method: 'POST',
    headers: {
      'content-type': init.type ?? 'text/csv',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body,
  });
}

const csv = cohortToCsv(cohort(31, [stratum({ events: 60, nonEvents: 120, mu1: 3.5 })]));
const Q = 'metric=vbq-l1-l4&outcome=osteoporosis-dxa&replicates=500';

describe('POST /calibration', () => {
  it('returns the figures and the overrides document for an accepted stratum', async () => {
    const res = await post(`${Q}&report=true`, csv);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      figures: { site: string; strata: { status: string; analysis: { roc: unknown[] } }[] };
      overrides: unknown;
      report: string;
    };
    expect(body.figures.site).toBe('Test Hospital');
    expect(body.figures.strata[0]!.status).toBe('accepted');
    expect(body.figures.strata[0]!.analysis.roc.length).toBeLessThanOrEqual(101);
    expect(calibrationOverridesSchema.parse(body.overrides).cutoffs[0]!.provenance.derivedOn).toBe(
      '2026-11-30',
    );
    expect(body.report).toMatch(/^<!doctype html>/);
    expect(JSON.stringify(body)).not.toContain('SYN-');
    expect(logs.join('')).not.toContain('SYN-');
  });

  it('401 without a valid client JWT', async () => {
    const res = await post(Q, csv, { token: null });
    expect(res.status).toBe(401);
  });

  it('422 calibration-refused with one coded issue per refusal when every stratum is refused', async () => {
    const small = cohortToCsv(cohort(32, [stratum({ events: 10, nonEvents: 100 })]));
    const res = await post(Q, small);
    expect(res.status).toBe(422);
    const oo = (await res.json()) as { issue: { details: { coding: { system: string; code: string }[] } }[] };
    expect(oo.issue.map((i) => i.details.coding)).toEqual([
      [
        { system: ERROR_CODE_SYSTEM, code: 'calibration-refused' },
        { system: CALIBRATION_REFUSAL_SYSTEM, code: 'too-few-events' },
      ],
    ]);
  });

  it('400 invalid-cohort naming row and column; 400 invalid-request for bad options', async () => {
    const res = await post(Q, 'patient,metric\nP1,vbq-l1-l4\n');
    expect(res.status).toBe(400);
    const oo = (await res.json()) as { issue: { details: { coding: { code: string }[]; text: string } }[] };
    expect(oo.issue[0]!.details.coding[0]!.code).toBe('invalid-cohort');
    expect(oo.issue[0]!.details.text).toContain('row 1: the header lacks columns');
    const badOption = await post('metric=vbq-l1-l4&outcome=nonsense', csv);
    expect(badOption.status).toBe(400);
    expect(await badOption.text()).toContain('invalid-request');
    const badNumber = await post(`${Q}&minEvents=abc`, csv);
    expect(badNumber.status).toBe(400);
  });

  it('415 for a body that is not CSV, 413 above the body limit, 405 for other methods', async () => {
    expect((await post(Q, '{}', { type: 'application/json' })).status).toBe(415);
    expect((await post(Q, 'x'.repeat(250_000))).status).toBe(413);
    const get = await fetch(`${baseUrl}/calibration`);
    expect(get.status).toBe(405);
  });
});
