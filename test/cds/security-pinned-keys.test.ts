/**
 * Issue 9, "pinned keys win": a client configured with inline keys is verified with its pinned key when the
 * token's kid matches one, whatever the jku header says (the CDS Hooks sandbox always sends a jku), and the
 * foreign jku is never fetched. An unlisted jku with an unknown kid is still refused without any fetch.
 * Over real HTTP against the running service, with real JWKS servers on loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsClientInput } from '../../src/config/clients.js';
import { standInServices } from '../helpers/services.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';

const PATH = '/cds-services/spine-surgery-bone-health';

describe('pinned keys win over jku', () => {
  let svc: TestService;
  let sandbox: TestClient;
  let foreign: JwksServer;
  let listed: JwksServer;
  let listedClient: TestClient;

  beforeAll(async () => {
    sandbox = await createTestClient({ alg: 'ES384', iss: 'https://sandbox.cds-hooks.org' });
    listedClient = await createTestClient({ alg: 'RS384', iss: 'https://ehr.example.org' });
    // The "foreign" jku serves the very same key: if it were fetched, the token would verify anyway, so
    // only its hit counter tells whether it was contacted.
    foreign = await startJwksServer(sandbox.jwks);
    listed = await startJwksServer(listedClient.jwks);
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: standInServices(() => []),
      clients: [
        { iss: sandbox.iss, jwks: sandbox.jwks } as CdsClientInput,
        { iss: listedClient.iss, jku: [listed.url] } as CdsClientInput,
      ],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await foreign.close();
    await listed.close();
  });

  const call = (token: string) => svc.post(PATH, orderSignRequest(), { token });

  it('a pinned kid verifies with the pinned key; the foreign jku is never fetched', async () => {
    const token = await sandbox.sign({ aud: svc.baseUrl + PATH }, { header: { jku: foreign.url } });
    expect((await call(token)).status).toBe(200);
    expect(foreign.totalHits()).toBe(0);
  });

  it('a forged signature with a pinned kid and a foreign jku is still refused', async () => {
    const impostor = await createTestClient({ alg: 'ES384', iss: sandbox.iss, kid: sandbox.kid });
    const token = await impostor.sign({ aud: svc.baseUrl + PATH }, { header: { jku: foreign.url } });
    expect((await call(token)).status).toBe(401);
    expect(foreign.totalHits()).toBe(0);
    expect(svc.logs.join('')).toMatch(/"reason":"signature-invalid"/);
  });

  it('an unlisted jku with an unknown kid: 401 jku-not-allowed (logged at info), never fetched', async () => {
    const stranger = await createTestClient({ alg: 'ES384', iss: sandbox.iss, kid: 'unknown-kid' });
    const token = await stranger.sign({ aud: svc.baseUrl + PATH }, { header: { jku: foreign.url } });
    const res = await call(token);
    expect(res.status).toBe(401);
    expect(foreign.totalHits()).toBe(0);
    const line = svc.logs.find((l) => l.includes('"reason":"jku-not-allowed"'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 30, code: 'unauthorized', status: 401 });
    expect(svc.logs.join('')).not.toContain(token);
  });

  it('a jku-only client with an unlisted jku is refused without a fetch', async () => {
    const token = await listedClient.sign({ aud: svc.baseUrl + PATH }, { header: { jku: foreign.url } });
    expect((await call(token)).status).toBe(401);
    expect(foreign.totalHits()).toBe(0);
    expect(listed.totalHits()).toBe(0);
  });
});
