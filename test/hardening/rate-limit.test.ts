/**
 * Issue 9, abusive clients: per-client rate and concurrency limits answer 429 with Retry-After and an
 * OperationOutcome, apply per client iss (after authentication), and, on PostgreSQL, are shared by every
 * instance using the same database.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsClientInput } from '../../src/config/clients.js';
import { standInServices } from '../helpers/services.js';
import { openDb, postgresPool } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { scopedPostgresUrl } from '../helpers/store.js';

const PATH = '/cds-services/spine-surgery-bone-health';
const services = () => standInServices(() => []);

async function send(svc: TestService, client: TestClient, body: unknown = orderSignRequest()) {
  return svc.post(PATH, body, { token: await client.sign({ aud: svc.baseUrl + PATH }) });
}

async function expect429(res: Response, code: string): Promise<void> {
  expect(res.status).toBe(429);
  expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await res.json()) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  expect(body.issue[0]?.code).toBe('throttled');
  expect(body.issue[0]?.details?.coding?.[0]?.code).toBe(code);
}

describe('per-client limits (in memory)', () => {
  let svc: TestService;
  let greedy: TestClient;
  let polite: TestClient;
  let hanging: http.Server;
  let hangingUrl: string;

  beforeAll(async () => {
    greedy = await createTestClient({ alg: 'ES384' });
    polite = await createTestClient({ alg: 'ES384' });
    hanging = http.createServer(() => undefined);
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/fhir`;
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: services(),
      fhirTimeoutMs: 800,
      clients: [
        { iss: greedy.iss, jwks: greedy.jwks, fhirServers: [hangingUrl] } as CdsClientInput,
        { iss: polite.iss, jwks: polite.jwks } as CdsClientInput,
      ],
      clientLimits: { requests: 4, windowSeconds: 60, maxConcurrent: 1 },
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    hanging.closeAllConnections();
    await new Promise((r) => hanging.close(r));
  });

  it('over the rate: 429 rate-limited with Retry-After; another client is unaffected', async () => {
    for (let i = 0; i < 4; i++) expect((await send(svc, greedy)).status).toBe(200);
    await expect429(await send(svc, greedy), 'rate-limited');
    expect((await send(svc, polite)).status).toBe(200);
    expect(svc.logs.some((l) => l.includes('"code":"rate-limited"'))).toBe(true);
  });

  it('over the concurrency cap: 429 too-many-concurrent-requests while one is in flight', async () => {
    // polite has 3 requests left in the window; one hangs on its FHIR server (timeout 800 ms).
    const slowClient = await createTestClient({ alg: 'ES384' });
    const svc2 = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: services(),
      fhirTimeoutMs: 800,
      clients: [{ iss: slowClient.iss, jwks: slowClient.jwks, fhirServers: [hangingUrl] } as CdsClientInput],
      clientLimits: { requests: 100, windowSeconds: 60, maxConcurrent: 1 },
    });
    try {
      const req = orderSignRequest();
      delete (req.prefetch as Record<string, unknown>).conditions;
      const slowBody = {
        ...req,
        fhirServer: hangingUrl,
        fhirAuthorization: {
          access_token: 't',
          token_type: 'Bearer',
          expires_in: 300,
          scope: 'user/*.read',
          subject: 'cds',
        },
      };
      const first = send(svc2, slowClient, slowBody);
      await new Promise((r) => setTimeout(r, 200));
      await expect429(await send(svc2, slowClient), 'too-many-concurrent-requests');
      expect((await first).status).toBe(412);
      // Released once answered.
      expect((await send(svc2, slowClient)).status).toBe(200);
    } finally {
      await svc2.close();
      await svc2.store.close();
    }
  });
});

const pgUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!pgUrl)(
  'per-client rate limit shared by two instances on one PostgreSQL (needs TEST_DATABASE_URL; .ci/run sets it)',
  () => {
    let a: TestService;
    let b: TestService;
    let client: TestClient;

    beforeAll(async () => {
      client = await createTestClient({ alg: 'ES384' });
      const url = await scopedPostgresUrl(pgUrl!);
      const start = async () => {
        const store = new Store(await openDb({ databaseUrl: url, dataDir: 'unused' }));
        return startTestService({
          store,
          services: services(),
          clients: [{ iss: client.iss, jwks: client.jwks } as CdsClientInput],
          clientLimits: { requests: 5, windowSeconds: 60, maxConcurrent: 0, pool: postgresPool(store.db) },
        });
      };
      a = await start();
      b = await start();
    });
    afterAll(async () => {
      for (const svc of [a, b]) {
        await svc?.close();
        await svc?.store.close();
      }
    });

    it('5 requests per window in total, whichever instance answers', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await send(i % 2 === 0 ? a : b, client)).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200]);
      await expect429(await send(a, client), 'rate-limited');
      await expect429(await send(b, client), 'rate-limited');
    });
  },
);
