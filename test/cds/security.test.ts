/**
 * Checklist "Security (the service's side)": the JWT matrix against the running service over real HTTP,
 * with a real JWKS server for `jku` clients. Every failure is a bare 401 that names no reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsClientInput } from '../../src/config/clients.js';
import { standInServices } from '../helpers/services.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { createTestClient, hmacWithPublicKey, unsecuredToken, type TestClient } from '../helpers/jwt.js';
import { orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';

const PATH = '/cds-services/spine-surgery-bone-health';

describe('JWT matrix against the running service', () => {
  let svc: TestService;
  let rs: TestClient;
  let jwksServer: JwksServer;
  let other: JwksServer;
  let aud: string;

  beforeAll(async () => {
    rs = await createTestClient({ alg: 'RS384', iss: 'https://epic.example.org' });
    jwksServer = await startJwksServer(rs.jwks);
    other = await startJwksServer(rs.jwks);
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: standInServices(() => []),
      clients: [{ iss: rs.iss, jku: [jwksServer.url] } as CdsClientInput],
    });
    aud = svc.baseUrl + PATH;
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await jwksServer.close();
    await other.close();
  });

  const call = (token: string) => svc.post(PATH, orderSignRequest(), { token });

  async function expectBare401(res: Response): Promise<void> {
    expect(res.status).toBe(401);
    const text = await res.text();
    // An OperationOutcome that says only "Unauthorized": no reason, nothing to probe with.
    const body = JSON.parse(text) as { resourceType: string; issue: { diagnostics?: string }[] };
    expect(body).toMatchObject({
      resourceType: 'OperationOutcome',
      issue: [{ details: { coding: [{ code: 'unauthorized' }], text: 'Unauthorized' } }],
    });
    expect(body.issue).toHaveLength(1);
    expect(body.issue[0]?.diagnostics).toBe('Unauthorized');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  }

  it('valid ES384 (configured JWKS) is accepted', async () => {
    expect((await call(await svc.client.sign({ aud }))).status).toBe(200);
  });

  it('valid RS384 with jku on the allow-list is accepted (Epic style, sub = client id, 15-minute lifetime)', async () => {
    const token = await rs.sign(
      { aud, sub: 'epic-client-id' },
      { header: { jku: jwksServer.url }, lifetimeSeconds: 900 },
    );
    expect((await call(token)).status).toBe(200);
    expect(jwksServer.hits('/.well-known/jwks.json')).toBeGreaterThanOrEqual(1);
  });

  it('alg none -> 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectBare401(
      await call(unsecuredToken({ iss: svc.client.iss, aud, iat: now, exp: now + 300, jti: 'n1' })),
    );
  });

  it('HS256 signed with the public key -> 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectBare401(
      await call(
        hmacWithPublicKey(svc.client, { iss: svc.client.iss, aud, iat: now, exp: now + 300, jti: 'h1' }),
      ),
    );
  });

  it('expired -> 401', async () => {
    const past = new Date(Date.now() - 3600_000);
    await expectBare401(await call(await svc.client.sign({ aud }, { now: past })));
  });

  it('iat in the future (beyond 60 s skew) -> 401', async () => {
    const future = Math.floor(Date.now() / 1000) + 600;
    await expectBare401(await call(await svc.client.sign({ aud, iat: future, exp: future + 300 })));
  });

  it('wrong aud -> 401 (aud must be the exact URL invoked)', async () => {
    await expectBare401(await call(await svc.client.sign({ aud: `${svc.baseUrl}/cds-services` })));
    await expectBare401(await call(await svc.client.sign({ aud: 'https://elsewhere.example.org' + PATH })));
  });

  it('aud as an array containing the URL is accepted', async () => {
    expect((await call(await svc.client.sign({ aud: ['https://x.example.org', aud] }))).status).toBe(200);
  });

  it('unknown iss -> 401', async () => {
    const stranger = await createTestClient({ alg: 'ES384' });
    await expectBare401(await call(await stranger.sign({ aud })));
  });

  it('jku not on the client allow-list -> 401, and the unlisted URL is never fetched', async () => {
    const before = other.totalHits();
    await expectBare401(await call(await rs.sign({ aud }, { header: { jku: other.url } })));
    expect(other.totalHits()).toBe(before);
  });

  it('unknown kid -> 401', async () => {
    await expectBare401(await call(await svc.client.sign({ aud }, { header: { kid: 'not-a-known-kid' } })));
  });

  it('replayed jti -> 401', async () => {
    const token = await svc.client.sign({ aud, jti: 'once-only' });
    expect((await call(token)).status).toBe(200);
    await expectBare401(await call(token));
  });

  it('missing Authorization / not Bearer -> 401', async () => {
    await expectBare401(await svc.post(PATH, orderSignRequest(), { token: null }));
    await expectBare401(
      await svc.post(PATH, orderSignRequest(), {
        token: null,
        headers: { authorization: 'Basic dXNlcjpwYXNz' },
      }),
    );
  });
});
