/**
 * Issue 9: hostile FHIR servers on loopback. Each misbehaviour is bounded and reported as a fetch failure
 * (412 naming the key and the reason, in the answer and in the log), never taken as "no data", and never a
 * 5xx. The SSRF cases prove an unlisted internal server is never contacted, whatever the spelling.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CdsClientInput } from '../../src/config/clients.js';
import { standInServices } from '../helpers/services.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { orderSignRequest, PREFETCH_KEYS } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const TOKEN = 'ehr-access-token-never-for-internal-services';
const TIMEOUT_MS = 600;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Hostile {
  url: string;
  port: number;
  hits: string[];
  handle: Handler;
  close(): Promise<void>;
}

async function startHostile(host = '127.0.0.1'): Promise<Hostile> {
  const server = http.createServer((req, res) => {
    hostile.hits.push(req.url ?? '');
    hostile.handle(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  const port = (server.address() as AddressInfo).port;
  const hostile: Hostile = {
    url: `http://${host}:${port}/fhir`,
    port,
    hits: [],
    handle: (_req, res) => res.end(),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return hostile;
}

const json = (res: http.ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
};

/** A request with every key supplied except `missing`, to be fetched from `fhirServer`. */
function requestFetching(fhirServer: string, missing: string[]): Record<string, unknown> {
  const req = orderSignRequest('p1');
  const prefetch = { ...(req.prefetch as Record<string, unknown>) };
  for (const key of missing) delete prefetch[key];
  return {
    ...req,
    prefetch,
    fhirServer,
    fhirAuthorization: {
      access_token: TOKEN,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'patient/*.read',
      subject: 'cds',
      patient: 'p1',
    },
  };
}

async function failureText(res: Response): Promise<string> {
  const body = (await res.json()) as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  return body.issue.map((i) => i.diagnostics ?? '').join(' | ');
}

describe('hostile FHIR servers', () => {
  let svc: TestService;
  let fhir: Hostile;
  let other: Hostile;
  let internal: Hostile;
  let unlistedClient: TestClient;

  beforeAll(async () => {
    fhir = await startHostile();
    other = await startHostile();
    // An internal service on another loopback address: never to be contacted.
    internal = await startHostile('127.0.0.2');
    internal.handle = (_req, res) => json(res, { resourceType: 'Bundle', type: 'searchset', entry: [] });
    unlistedClient = await createTestClient({ alg: 'ES384' });
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: standInServices(() => []),
      fhirTimeoutMs: TIMEOUT_MS,
      fhirServers: [fhir.url],
      fhirLimits: { maxResponseBytes: 64 * 1024, maxEntries: 50, maxPages: 5 },
      // A client without fhirServers: public addresses only.
      clients: [{ iss: unlistedClient.iss, jwks: unlistedClient.jwks } as CdsClientInput],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await Promise.all([fhir.close(), other.close(), internal.close()]);
  });
  beforeEach(() => {
    fhir.hits.length = 0;
    other.hits.length = 0;
    internal.hits.length = 0;
  });

  async function expectFetchFailure(missing: string, reason: RegExp): Promise<void> {
    const started = Date.now();
    const res = await svc.post(SIGN, requestFetching(fhir.url, [missing]));
    expect(res.status).toBe(412);
    const text = await failureText(res);
    expect(text).toContain(`${missing}:`);
    expect(text).toMatch(reason);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3000);
    // The reason is in the log too, never the token.
    const log = svc.logs.join('');
    expect(log).toContain(`"prefetchKey":"${missing}"`);
    expect(log).not.toContain(TOKEN);
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
  }

  it('a sign-on page (HTML 200) is a fetch failure, not "no data"', async () => {
    fhir.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>Please sign on</body></html>');
    };
    await expectFetchFailure('conditions', /not JSON/);
  });

  it('a JSON error object (no resourceType) is a fetch failure', async () => {
    fhir.handle = (_req, res) => json(res, { error: 'invalid_token' });
    await expectFetchFailure('conditions', /not a FHIR resource/);
  });

  it('a read answered with another resource type is a fetch failure', async () => {
    fhir.handle = (_req, res) => json(res, { resourceType: 'Observation', id: 'x', status: 'final' });
    await expectFetchFailure('patient', /Observation where a Patient was asked for/);
  });

  it('a search answered with something other than a searchset Bundle is a fetch failure', async () => {
    fhir.handle = (_req, res) => json(res, { resourceType: 'Bundle', type: 'collection', entry: [] });
    await expectFetchFailure('conditions', /searchset/);
    fhir.handle = (_req, res) => json(res, { resourceType: 'OperationOutcome', issue: [] });
    await expectFetchFailure('conditions', /OperationOutcome where a search Bundle/);
    fhir.handle = (_req, res) => json(res, { resourceType: 'Bundle', type: 'searchset', entry: { a: 1 } });
    await expectFetchFailure('conditions', /malformed Bundle \(entry: must be an array\)/);
  });

  it('a cross-origin redirect is not followed', async () => {
    other.handle = (_req, res) => json(res, { resourceType: 'Bundle', type: 'searchset', entry: [] });
    fhir.handle = (req, res) => {
      res.writeHead(302, { location: `${other.url}${req.url ?? ''}` });
      res.end();
    };
    await expectFetchFailure('conditions', /302 \(a redirect; redirects are not followed\)/);
    expect(other.hits).toEqual([]);
  });

  it('an oversized answer is cut off at FHIR_MAX_RESPONSE_BYTES (declared or streamed)', async () => {
    const big = { resourceType: 'Bundle', type: 'searchset', entry: [], padding: 'x'.repeat(200_000) };
    fhir.handle = (_req, res) => json(res, big);
    await expectFetchFailure('conditions', /larger than the 65536-byte limit/);
    // No Content-Length: chunks until the limit is passed.
    fhir.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      const chunk = 'x'.repeat(16 * 1024);
      res.write('{"resourceType":"Bundle","type":"searchset","padding":"');
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed || sent > 100) {
          clearInterval(timer);
          if (!res.destroyed) res.end('"}');
          return;
        }
        sent++;
        res.write(chunk);
      }, 1);
    };
    await expectFetchFailure('conditions', /larger than the 65536-byte limit/);
  });

  it('a paging loop is a fetch failure after a bounded number of requests', async () => {
    fhir.handle = (_req, res) =>
      json(res, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [],
        link: [{ relation: 'next', url: `${fhir.url}/Condition?page=again` }],
      });
    await expectFetchFailure('conditions', /paging loop/);
    expect(fhir.hits.length).toBeLessThanOrEqual(3);
    // Ever-new next links stop at FHIR_MAX_PAGES.
    let n = 0;
    fhir.handle = (_req, res) =>
      json(res, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: [],
        link: [{ relation: 'next', url: `${fhir.url}/Condition?page=${++n}` }],
      });
    fhir.hits.length = 0;
    await expectFetchFailure('conditions', /more than 5 pages/);
    expect(fhir.hits.length).toBe(5);
  });

  it('too many entries for one key is a fetch failure, never a silent truncation', async () => {
    fhir.handle = (_req, res) =>
      json(res, {
        resourceType: 'Bundle',
        type: 'searchset',
        entry: Array.from({ length: 51 }, (_, i) => ({
          resource: { resourceType: 'Condition', id: `c${i}` },
        })),
      });
    await expectFetchFailure('conditions', /more than 50 entries/);
  });

  it('a hanging server (no answer, or headers then nothing) is cut off at FHIR_TIMEOUT_MS', async () => {
    fhir.handle = () => undefined;
    await expectFetchFailure('conditions', /timed out/);
    fhir.handle = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/fhir+json' });
      res.write('{"resourceType":"Bundle",');
    };
    await expectFetchFailure('conditions', /timed out/);
  });

  it('an unlisted fhirServer is refused before any connection (client with a list)', async () => {
    const res = await svc.post(SIGN, requestFetching(internal.url, ['conditions']));
    expect(res.status).toBe(412);
    expect(await failureText(res)).toMatch(/not one of the client's fhirServers/);
    expect(internal.hits).toEqual([]);
  });

  it('a client without a list cannot reach loopback / private addresses, however spelled', async () => {
    const spellings = [
      internal.url,
      `http://2130706434:${internal.port}/fhir`, // 127.0.0.2 as one decimal number
      `http://0x7f.0.0.2:${internal.port}/fhir`, // hex
      `http://0177.0.0.2:${internal.port}/fhir`, // octal
      `http://localhost:${fhir.port}/fhir`, // a DNS name resolving to loopback
      `http://[::ffff:127.0.0.2]:${internal.port}/fhir`, // IPv4-mapped IPv6
    ];
    for (const fhirServer of spellings) {
      const path = SIGN;
      const res = await fetch(svc.baseUrl + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await unlistedClient.sign({ aud: svc.baseUrl + path })}`,
        },
        body: JSON.stringify(requestFetching(fhirServer, ['conditions'])),
      });
      expect(res.status, fhirServer).toBe(412);
      expect(await failureText(res), fhirServer).toMatch(/loopback, private or link-local/);
    }
    expect(internal.hits).toEqual([]);
    expect(fhir.hits).toEqual([]);
  });

  it('every key fetched at once from a misbehaving server still answers in bounded time', async () => {
    fhir.handle = () => undefined;
    const started = Date.now();
    const res = await svc.post(SIGN, requestFetching(fhir.url, [...PREFETCH_KEYS]));
    expect(res.status).toBe(412);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 3000);
  });
});
