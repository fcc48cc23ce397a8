/**
 * The JWT matrix of cds-hooks-checklist.md "Security (the service's side)": each test is named after the
 * checklist line it checks. Keys are real, JWKS are served over real loopback HTTP.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CdsClientInput } from '../../src/config/clients.js';
import { AppError } from '../../src/errors.js';
import {
  AUTH_FAILURE_REASONS,
  AuthenticationError,
  createClientAuthenticator,
  type AuthFailureReason,
  type ClientAuthenticator,
  type ClientAuthenticatorOptions,
} from '../../src/http/auth/authenticator.js';
import { createInMemoryReplayGuard, type ReplayGuard } from '../../src/http/auth/replay.js';
import {
  b64json,
  createTestClient,
  defaultClaims,
  hmacWithPublicKey,
  unsecuredToken,
  withPayload,
  type TestClient,
} from '../helpers/jwt.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';

const BASE = 'https://cds.example.org';
const PATH = '/cds-services/spine-surgery-bone-health';
const AUD = `${BASE}${PATH}`;

let clock: Date;
const now = (): Date => clock;
const advance = (seconds: number): void => {
  clock = new Date(clock.getTime() + seconds * 1000);
};

let esJwks: TestClient; // ES384, key configured out of band
let esJku: TestClient; // ES384, key published at an allowed jku
let rsJwks: TestClient;
let rsJku: TestClient; // also the Epic-style client
let es256: TestClient; // ES256: allowed only because its entry lists it
let tenanted: TestClient;
let jwksServer: JwksServer;
let attacker: JwksServer;
let replayGuard: ReturnType<typeof createInMemoryReplayGuard>;

beforeAll(async () => {
  [esJwks, esJku, rsJwks, rsJku, es256, tenanted] = await Promise.all([
    createTestClient({ alg: 'ES384', iss: 'https://es-jwks.example.org' }),
    createTestClient({ alg: 'ES384', iss: 'https://es-jku.example.org' }),
    createTestClient({ alg: 'RS384', iss: 'https://rs-jwks.example.org' }),
    createTestClient({ alg: 'RS384', iss: 'https://rs-jku.example.org' }),
    createTestClient({ alg: 'ES256', iss: 'https://es256.example.org' }),
    createTestClient({ alg: 'ES384', iss: 'https://tenanted.example.org' }),
  ]);
});

beforeEach(async () => {
  clock = new Date(Math.floor(Date.now() / 1000) * 1000);
  replayGuard = createInMemoryReplayGuard(now);
  jwksServer = await startJwksServer({ keys: [...esJku.jwks.keys, ...rsJku.jwks.keys] });
  attacker = await startJwksServer({ keys: [] });
});

afterEach(async () => {
  await jwksServer.close();
  await attacker.close();
});

function clients(): CdsClientInput[] {
  return [
    { iss: esJwks.iss, jwks: esJwks.jwks },
    { iss: esJku.iss, jku: [jwksServer.url] },
    { iss: rsJwks.iss, jwks: rsJwks.jwks },
    { iss: rsJku.iss, jku: [jwksServer.url], label: 'Epic-like' },
    { iss: es256.iss, jwks: es256.jwks, algorithms: ['ES256'] },
    { iss: tenanted.iss, jwks: tenanted.jwks, tenants: ['tenant-a', 'tenant-b'] },
  ];
}

function authenticator(overrides: Partial<ClientAuthenticatorOptions> = {}): ClientAuthenticator {
  return createClientAuthenticator({
    clients: clients(),
    publicBaseUrl: BASE,
    replayGuard,
    now,
    ...overrides,
  });
}

/** Signs with the client's defaults at the test clock; jku clients put their jku in the header. */
function sign(
  client: TestClient,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
) {
  const jkuHeader = client === esJku || client === rsJku ? { jku: jwksServer.url } : {};
  return client.sign({ aud: AUD, ...claims }, { now: clock, header: { ...jkuHeader, ...header } });
}

async function reasonFor(promise: Promise<unknown>): Promise<AuthFailureReason> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AuthenticationError);
    return (err as AuthenticationError).reason;
  }
  throw new Error('expected the token to be refused');
}

describe('Authorization: Bearer <JWT> on discovery, service and feedback calls', () => {
  it('refuses a missing Authorization header', async () => {
    expect(await reasonFor(authenticator().authenticate(undefined, PATH))).toBe('authorization-missing');
    expect(await reasonFor(authenticator().authenticate('   ', PATH))).toBe('authorization-missing');
  });

  it('refuses an Authorization that is not Bearer', async () => {
    const token = await sign(esJwks);
    expect(await reasonFor(authenticator().authenticate(`Basic ${token}`, PATH))).toBe('not-bearer');
    expect(await reasonFor(authenticator().authenticate(token, PATH))).toBe('not-bearer');
  });

  it('accepts the Bearer scheme case-insensitively (RFC 7235)', async () => {
    const result = await authenticator().authenticate(`bearer ${await sign(esJwks)}`, PATH);
    expect(result.iss).toBe(esJwks.iss);
  });

  it('checks aud against each path called (discovery, service, feedback)', async () => {
    const auth = authenticator();
    for (const path of ['/cds-services', PATH, `${PATH}/feedback`]) {
      const token = await sign(esJwks, { aud: `${BASE}${path}` });
      await expect(auth.authenticate(`Bearer ${token}`, path)).resolves.toMatchObject({ iss: esJwks.iss });
    }
  });

  it('answers every failure with the same bare 401 AppError', async () => {
    const err = await authenticator()
      .authenticate('Bearer x.y.z', PATH)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: 'unauthorized', status: 401, message: 'Unauthorized', details: [] });
  });
});

describe('Header: alg, kid, typ:"JWT"; optional jku. Algorithms ES384 / RS384; never none or HMAC', () => {
  const combos = [
    ['ES384', 'jwks (out of band)', () => esJwks],
    ['ES384', 'jku', () => esJku],
    ['RS384', 'jwks (out of band)', () => rsJwks],
    ['RS384', 'jku', () => rsJku],
  ] as const;

  it.each(combos)('accepts a valid %s token with the key from %s', async (_alg, _source, client) => {
    const c = client();
    const token = await sign(c);
    const result = await authenticator().authenticate(`Bearer ${token}`, PATH);
    const exp = Math.floor(clock.getTime() / 1000) + 300;
    expect(result.iss).toBe(c.iss);
    expect(result.expiresAt.getTime()).toBe(exp * 1000);
    expect(result.jti).toMatch(/[0-9a-f-]{36}/);
    expect(result.sub).toBeUndefined();
  });

  it('refuses alg none', async () => {
    const token = unsecuredToken({ ...defaultClaims(esJwks.iss, clock), aud: AUD }, { kid: esJwks.kid });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('alg-forbidden');
    const upper = unsecuredToken({ ...defaultClaims(esJwks.iss, clock), aud: AUD }, { alg: 'NONE' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${upper}`, PATH))).toBe('alg-forbidden');
  });

  it('refuses HS256 signed with the public key (key confusion)', async () => {
    for (const client of [rsJwks, esJwks]) {
      const token = hmacWithPublicKey(client, { ...defaultClaims(client.iss, clock), aud: AUD });
      expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('alg-forbidden');
    }
  });

  it('refuses an asymmetric algorithm the client entry does not allow', async () => {
    const token = await es256.sign({ aud: AUD }, { now: clock });
    const strict = authenticator({
      clients: [{ iss: es256.iss, jwks: es256.jwks }],
    });
    expect(await reasonFor(strict.authenticate(`Bearer ${token}`, PATH))).toBe('alg-not-allowed');
    // The same token passes when the entry lists ES256.
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      iss: es256.iss,
    });
  });

  it('refuses a header alg that does not fit the key found by kid', async () => {
    // Signed by the RSA key but claims ES384 with the RSA kid: no EC key has that kid.
    const token = await sign(rsJwks, {}, { alg: 'RS384' });
    const [, payload, signature] = token.split('.');
    const forged = `${b64json({ alg: 'ES384', typ: 'JWT', kid: rsJwks.kid })}.${payload}.${signature}`;
    expect(await reasonFor(authenticator().authenticate(`Bearer ${forged}`, PATH))).toBe('kid-unknown');
  });

  it('refuses a missing kid', async () => {
    const token = await sign(esJwks, {}, { kid: undefined });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('kid-missing');
  });

  it('accepts typ JWT in any case or absent, refuses another typ', async () => {
    const auth = authenticator();
    await expect(
      auth.authenticate(`Bearer ${await sign(esJwks, {}, { typ: undefined })}`, PATH),
    ).resolves.toBeTruthy();
    await expect(
      auth.authenticate(`Bearer ${await sign(esJwks, {}, { typ: 'jwt' })}`, PATH),
    ).resolves.toBeTruthy();
    const other = await sign(esJwks, {}, { typ: 'at+jwt' });
    expect(await reasonFor(auth.authenticate(`Bearer ${other}`, PATH))).toBe('typ-not-jwt');
  });

  it('refuses critical header extensions and unencoded payloads', async () => {
    const token = await sign(esJwks);
    const [, payload, signature] = token.split('.');
    for (const extra of [{ crit: ['exp'] }, { b64: false, crit: ['b64'] }]) {
      const forged = `${b64json({ alg: 'ES384', typ: 'JWT', kid: esJwks.kid, ...extra })}.${payload}.${signature}`;
      expect(await reasonFor(authenticator().authenticate(`Bearer ${forged}`, PATH))).toBe(
        'header-malformed',
      );
    }
  });

  it('refuses malformed tokens: not three segments, bad base64, header or payload not JSON', async () => {
    const auth = authenticator();
    const good = await sign(esJwks);
    const [h, p, s] = good.split('.');
    const cases: [string, AuthFailureReason][] = [
      ['abc', 'token-malformed'],
      [`${h}.${p}`, 'token-malformed'],
      [`${h}.${p}.${s}.extra`, 'token-malformed'],
      [`${h}.${p}!.${s}`, 'token-malformed'],
      [`${h}.${p}.${s} trailing`, 'token-malformed'],
      [`${'a'.repeat(9000)}.${p}.${s}`, 'token-malformed'],
      [`${Buffer.from('not json').toString('base64url')}.${p}.${s}`, 'header-malformed'],
      [`${b64json([1, 2])}.${p}.${s}`, 'header-malformed'],
      [`${b64json({ typ: 'JWT', kid: esJwks.kid })}.${p}.${s}`, 'header-malformed'],
      [`${h}.${Buffer.from('{"iss":').toString('base64url')}.${s}`, 'claims-malformed'],
      [`${h}.${b64json('a string')}.${s}`, 'claims-malformed'],
    ];
    for (const [token, reason] of cases) {
      expect(await reasonFor(auth.authenticate(`Bearer ${token}`, PATH)), token.slice(0, 40)).toBe(reason);
    }
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const token = await sign(esJwks);
    const forged = withPayload(token, { ...defaultClaims(esJwks.iss, clock), aud: AUD, sub: 'admin' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${forged}`, PATH))).toBe('signature-invalid');
  });

  it('refuses a token signed by another key under the client kid', async () => {
    const impostor = await createTestClient({ alg: 'ES384', iss: esJwks.iss, kid: esJwks.kid });
    const token = await impostor.sign({ aud: AUD }, { now: clock });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('signature-invalid');
  });
});

describe('Claims: iss, aud, exp, iat, jti required, tenant optional (sub accepted for Epic)', () => {
  it('refuses a missing jti', async () => {
    const token = await sign(esJwks, { jti: undefined });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('jti-missing');
    const empty = await sign(esJwks, { jti: '' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${empty}`, PATH))).toBe('jti-missing');
  });

  it('refuses an oversized jti', async () => {
    const token = await sign(esJwks, { jti: 'j'.repeat(300) });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('jti-too-long');
  });

  it('refuses missing iss, aud, exp or iat', async () => {
    const auth = authenticator();
    const cases: [Record<string, unknown>, AuthFailureReason][] = [
      [{ iss: undefined }, 'iss-missing'],
      [{ aud: undefined }, 'aud-missing'],
      [{ exp: undefined }, 'exp-missing'],
      [{ iat: undefined }, 'iat-missing'],
      [{ exp: '9999999999' }, 'claims-malformed'],
      [{ aud: [AUD, 42] }, 'claims-malformed'],
    ];
    for (const [claims, reason] of cases) {
      expect(await reasonFor(auth.authenticate(`Bearer ${await sign(esJwks, claims)}`, PATH))).toBe(reason);
    }
  });

  it('accepts sub (Epic sends its client id there) and returns it', async () => {
    const token = await sign(rsJku, { sub: 'epic-client-id-123' });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      iss: rsJku.iss,
      sub: 'epic-client-id-123',
    });
  });

  it('accepts a 15-minute Epic-style token (RS384, jku, sub; no 5-minute cap)', async () => {
    const token = await rsJku.sign(
      { aud: AUD, sub: 'epic-client-id' },
      { now: clock, lifetimeSeconds: 900, header: { jku: jwksServer.url } },
    );
    const auth = authenticator();
    advance(10 * 60); // 10 minutes later the token is still valid
    const result = await auth.authenticate(`Bearer ${token}`, PATH);
    expect(result.expiresAt.getTime() - clock.getTime()).toBe(5 * 60 * 1000);
  });

  it('refuses a lifetime beyond the configured maximum (default one hour)', async () => {
    const token = await sign(esJwks, {}, {});
    const long = await esJwks.sign({ aud: AUD }, { now: clock, lifetimeSeconds: 2 * 3600 });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${long}`, PATH))).toBe('lifetime-too-long');
    await expect(
      authenticator({ maxLifetimeSeconds: 3 * 3600 }).authenticate(`Bearer ${long}`, PATH),
    ).resolves.toBeTruthy();
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toBeTruthy();
  });
});

describe("iss on an allow-list; jku on that client's allow-list", () => {
  it('refuses an unknown iss', async () => {
    const stranger = await createTestClient({ alg: 'ES384', iss: 'https://stranger.example.org' });
    const token = await stranger.sign({ aud: AUD }, { now: clock });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('iss-unknown');
  });

  it('refuses a jku not on the allow-list and never fetches it', async () => {
    const evil = await createTestClient({ alg: 'RS384', iss: rsJku.iss, kid: 'evil-key' });
    attacker.setJwks(evil.jwks);
    const token = await evil.sign({ aud: AUD }, { now: clock, header: { jku: attacker.url } });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('jku-not-allowed');
    // Another client's allowed jku does not count either, nor does a jku for a jwks-only client.
    const other = await evil.sign({ aud: AUD }, { now: clock, header: { jku: `${attacker.origin}/x.json` } });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${other}`, PATH))).toBe('jku-not-allowed');
    // A client with pinned keys whose kid matches: the pinned key verifies, whatever the jku says, and
    // the jku is never fetched (issue 9, "pinned keys win").
    const onJwksClient = await sign(esJwks, {}, { jku: attacker.url });
    await expect(authenticator().authenticate(`Bearer ${onJwksClient}`, PATH)).resolves.toMatchObject({
      iss: esJwks.iss,
    });
    const notUrl = await sign(esJku, {}, { jku: 'not a url' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${notUrl}`, PATH))).toBe('jku-not-allowed');
    expect(attacker.totalHits()).toBe(0);
    expect(jwksServer.totalHits()).toBe(0);
  });

  it('matches jku by URL, not by spelling', async () => {
    const spelled = jwksServer.url.replace('http://127.0.0.1', 'HTTP://127.0.0.1');
    const token = await sign(esJku, {}, { jku: spelled });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      iss: esJku.iss,
    });
  });

  it('uses the allowed jku when the token carries none', async () => {
    const token = await esJku.sign({ aud: AUD }, { now: clock });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      iss: esJku.iss,
    });
    expect(jwksServer.hits()).toBe(1);
  });
});

describe("key found by kid in the client's JWKS (fetched from jku and cached with rotation, or out of band)", () => {
  it('fetches a jku once and serves later tokens from the cache', async () => {
    const auth = authenticator();
    await Promise.all(
      [1, 2, 3, 4, 5].map(async () => auth.authenticate(`Bearer ${await sign(esJku)}`, PATH)),
    );
    await auth.authenticate(`Bearer ${await sign(rsJku)}`, PATH);
    advance(120);
    await auth.authenticate(`Bearer ${await sign(rsJku)}`, PATH);
    expect(jwksServer.hits()).toBe(1);
  });

  it('refetches on an unknown kid at most once per 30 s, then fails', async () => {
    const auth = authenticator();
    await auth.authenticate(`Bearer ${await sign(esJku)}`, PATH);
    expect(jwksServer.hits()).toBe(1);
    // Within the cooldown: no refetch.
    advance(10);
    expect(
      await reasonFor(auth.authenticate(`Bearer ${await sign(esJku, {}, { kid: 'unknown-1' })}`, PATH)),
    ).toBe('kid-unknown');
    expect(jwksServer.hits()).toBe(1);
    // After the cooldown: one refetch, still unknown.
    advance(30);
    expect(
      await reasonFor(auth.authenticate(`Bearer ${await sign(esJku, {}, { kid: 'unknown-2' })}`, PATH)),
    ).toBe('kid-unknown');
    expect(jwksServer.hits()).toBe(2);
    expect(
      await reasonFor(auth.authenticate(`Bearer ${await sign(esJku, {}, { kid: 'unknown-3' })}`, PATH)),
    ).toBe('kid-unknown');
    expect(jwksServer.hits()).toBe(2);
  });

  it('picks up a rotated key after an unknown kid', async () => {
    const auth = authenticator();
    await auth.authenticate(`Bearer ${await sign(rsJku)}`, PATH);
    const rotated = await createTestClient({ alg: 'RS384', iss: rsJku.iss, kid: 'rotated-2026' });
    jwksServer.setJwks({ keys: [...rotated.jwks.keys] });
    advance(31);
    const token = await rotated.sign({ aud: AUD }, { now: clock, header: { jku: jwksServer.url } });
    await expect(auth.authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({ iss: rsJku.iss });
    expect(jwksServer.hits()).toBe(2);
  });

  it('refreshes cached keys after their maximum age, so a withdrawn key stops working', async () => {
    const auth = authenticator({ jwksMaxAgeMs: 60_000 });
    await auth.authenticate(`Bearer ${await sign(esJku)}`, PATH);
    jwksServer.setJwks({ keys: [...rsJku.jwks.keys] });
    advance(61);
    expect(await reasonFor(auth.authenticate(`Bearer ${await sign(esJku)}`, PATH))).toBe('kid-unknown');
    expect(jwksServer.hits()).toBe(2);
  });

  it('refuses an unknown kid for an out-of-band JWKS without fetching anything', async () => {
    const token = await sign(esJwks, {}, { kid: 'not-configured' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('kid-unknown');
    expect(jwksServer.totalHits() + attacker.totalHits()).toBe(0);
  });

  it('refuses when the jku cannot be fetched: error status, timeout, oversized or non-JWKS body, redirect', async () => {
    const setups: [string, () => void, Partial<ClientAuthenticatorOptions>][] = [
      ['status 500', () => jwksServer.setStatus(500), {}],
      ['slow server', () => jwksServer.setDelayMs(1000), { jwksFetchTimeoutMs: 100 }],
      [
        'oversized body',
        () => jwksServer.setRawBody(JSON.stringify({ keys: [], pad: 'x'.repeat(70_000) })),
        {},
      ],
      ['not JSON', () => jwksServer.setRawBody('<html>'), {}],
      ['not a JWKS', () => jwksServer.setRawBody('{"kid":"x"}'), {}],
      ['redirect', () => jwksServer.setRedirect(attacker.url), {}],
    ];
    for (const [label, setup, options] of setups) {
      setup();
      const auth = authenticator(options);
      const reason = await reasonFor(auth.authenticate(`Bearer ${await sign(esJku)}`, PATH));
      expect(reason, label).toBe('jwks-unavailable');
      jwksServer.setStatus(200);
      jwksServer.setDelayMs(0);
      jwksServer.setRawBody(undefined);
      jwksServer.setRedirect(undefined);
    }
    expect(attacker.totalHits()).toBe(0);
  });

  it('keeps known keys when a refetch fails', async () => {
    const auth = authenticator({ jwksMaxAgeMs: 60_000 });
    await auth.authenticate(`Bearer ${await sign(esJku)}`, PATH);
    jwksServer.setStatus(503);
    advance(61);
    await expect(auth.authenticate(`Bearer ${await sign(esJku)}`, PATH)).resolves.toMatchObject({
      iss: esJku.iss,
    });
    expect(jwksServer.hits()).toBe(2);
  });

  it('uses an injected fetchJwks for a sandbox-style client (no network)', async () => {
    const sandbox = await createTestClient({ alg: 'ES384', iss: 'https://sandbox.cds-hooks.org' });
    const jku = 'https://sandbox.cds-hooks.org/.well-known/jwks.json';
    const fetched: string[] = [];
    const auth = authenticator({
      clients: [{ iss: sandbox.iss, jku: [jku] }],
      fetchJwks: (url) => {
        fetched.push(url);
        return Promise.resolve(sandbox.jwks);
      },
    });
    const token = await sandbox.sign({ aud: AUD }, { now: clock, header: { jku } });
    await expect(auth.authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({ iss: sandbox.iss });
    expect(fetched).toEqual([jku]);
  });
});

describe('aud equals the exact URL invoked (string or array)', () => {
  it('refuses a wrong aud', async () => {
    const auth = authenticator();
    for (const aud of [
      `${BASE}/cds-services/other-service`,
      `${AUD}/`,
      `${AUD}/feedback`,
      'https://evil.example.org/cds-services/spine-surgery-bone-health',
      BASE,
    ]) {
      expect(await reasonFor(auth.authenticate(`Bearer ${await sign(esJwks, { aud })}`, PATH)), aud).toBe(
        'aud-mismatch',
      );
    }
  });

  it('accepts an aud array that contains the URL, refuses one that does not', async () => {
    const auth = authenticator();
    const ok = await sign(esJwks, { aud: ['https://other.example.org', AUD] });
    await expect(auth.authenticate(`Bearer ${ok}`, PATH)).resolves.toBeTruthy();
    const no = await sign(esJwks, { aud: ['https://other.example.org', `${AUD}/`] });
    expect(await reasonFor(auth.authenticate(`Bearer ${no}`, PATH))).toBe('aud-mismatch');
  });

  it('is trailing-slash exact on the base URL and ignores a query string on the path', async () => {
    const auth = authenticator({ publicBaseUrl: `${BASE}/` });
    const token = await sign(esJwks);
    await expect(auth.authenticate(`Bearer ${token}`, `${PATH}?x=1`)).resolves.toBeTruthy();
  });

  it('honours a base URL with a path prefix', async () => {
    const auth = authenticator({ publicBaseUrl: `${BASE}/bone` });
    const token = await sign(esJwks, { aud: `${BASE}/bone${PATH}` });
    await expect(auth.authenticate(`Bearer ${token}`, PATH)).resolves.toBeTruthy();
    expect(await reasonFor(auth.authenticate(`Bearer ${await sign(esJwks)}`, PATH))).toBe('aud-mismatch');
  });
});

describe('exp in the future (small clock skew allowed); iat not in the future', () => {
  it('refuses an expired token', async () => {
    const token = await sign(esJwks, {}, {});
    advance(300 + 61);
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('expired');
  });

  it('accepts a token expired by less than the skew', async () => {
    const token = await sign(esJwks);
    advance(300 + 30);
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toBeTruthy();
  });

  it('refuses a future iat', async () => {
    const iat = Math.floor(clock.getTime() / 1000) + 120;
    const token = await sign(esJwks, { iat, exp: iat + 300 });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('iat-in-future');
  });

  it('accepts an iat within the skew', async () => {
    const iat = Math.floor(clock.getTime() / 1000) + 45;
    const token = await sign(esJwks, { iat, exp: iat + 300 });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toBeTruthy();
    // A smaller configured skew turns the same token away.
    const strict = createClientAuthenticator({
      clients: clients(),
      publicBaseUrl: BASE,
      replayGuard: createInMemoryReplayGuard(now),
      now,
      clockSkewSeconds: 10,
    });
    expect(await reasonFor(strict.authenticate(`Bearer ${token}`, PATH))).toBe('iat-in-future');
  });

  it('refuses a nbf in the future', async () => {
    const token = await sign(esJwks, { nbf: Math.floor(clock.getTime() / 1000) + 120 });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('nbf-in-future');
  });
});

describe('jti not seen before within the token lifetime (replay cache)', () => {
  it('refuses a replayed jti', async () => {
    const auth = authenticator();
    const token = await sign(esJwks);
    await auth.authenticate(`Bearer ${token}`, PATH);
    expect(await reasonFor(auth.authenticate(`Bearer ${token}`, PATH))).toBe('jti-replayed');
  });

  it('keys replay by issuer: the same jti from two clients is two tokens', async () => {
    const auth = authenticator();
    await auth.authenticate(`Bearer ${await sign(esJwks, { jti: 'shared' })}`, PATH);
    await expect(
      auth.authenticate(`Bearer ${await sign(rsJwks, { jti: 'shared' })}`, PATH),
    ).resolves.toBeTruthy();
  });

  it('keeps the jti until exp + skew, the last moment the token would pass', async () => {
    const claims: { iss: string; jti: string; expiresAt: Date }[] = [];
    const recording: ReplayGuard = {
      claim: (iss, jti, expiresAt) => {
        claims.push({ iss, jti, expiresAt });
        return Promise.resolve(true);
      },
    };
    const token = await sign(esJwks, { jti: 'recorded' });
    await authenticator({ replayGuard: recording }).authenticate(`Bearer ${token}`, PATH);
    const exp = Math.floor(clock.getTime() / 1000) + 300;
    expect(claims).toEqual([{ iss: esJwks.iss, jti: 'recorded', expiresAt: new Date((exp + 60) * 1000) }]);
  });

  it('does not burn the jti of a token that fails another check', async () => {
    const auth = authenticator();
    const wrongAud = await sign(esJwks, { jti: 'keep-me', aud: `${BASE}/x` });
    await reasonFor(auth.authenticate(`Bearer ${wrongAud}`, PATH));
    expect(replayGuard.size()).toBe(0);
    await expect(
      auth.authenticate(`Bearer ${await sign(esJwks, { jti: 'keep-me' })}`, PATH),
    ).resolves.toBeTruthy();
  });

  it('answers 503 not-ready, not 401, when the replay store is down', async () => {
    const down: ReplayGuard = { claim: () => Promise.reject(new Error('connection refused')) };
    const err = await authenticator({ replayGuard: down })
      .authenticate(`Bearer ${await sign(esJwks)}`, PATH)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).not.toBeInstanceOf(AuthenticationError);
    expect(err).toMatchObject({ code: 'not-ready', status: 503 });
  });
});

describe('tenant checked when configured', () => {
  it('accepts a configured tenant and returns it', async () => {
    const token = await sign(tenanted, { tenant: 'tenant-b' });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      iss: tenanted.iss,
      tenant: 'tenant-b',
    });
  });

  it('refuses a tenant mismatch', async () => {
    const token = await sign(tenanted, { tenant: 'tenant-z' });
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('tenant-mismatch');
  });

  it('refuses a missing tenant when the client has tenants', async () => {
    const token = await sign(tenanted);
    expect(await reasonFor(authenticator().authenticate(`Bearer ${token}`, PATH))).toBe('tenant-missing');
  });

  it('passes any tenant through for clients without tenants', async () => {
    const token = await sign(esJwks, { tenant: 'whatever' });
    await expect(authenticator().authenticate(`Bearer ${token}`, PATH)).resolves.toMatchObject({
      tenant: 'whatever',
    });
  });
});

describe('An invalid JWT gets a bare 401 with no reason. Never log a JWT or an access token', () => {
  it('logs only the reason code at debug level, never the token', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const auth = authenticator({ logger });
    const expired = await sign(esJwks, { exp: Math.floor(clock.getTime() / 1000) - 3600 });
    await reasonFor(auth.authenticate(`Bearer ${expired}`, PATH));
    const good = await sign(esJwks);
    await auth.authenticate(`Bearer ${good}`, PATH);
    await reasonFor(auth.authenticate(`Bearer ${good}`, PATH));
    await new Promise((r) => setImmediate(r));
    const log = lines.join('');
    expect(lines.map((l) => (JSON.parse(l) as { authFailure?: string }).authFailure)).toEqual([
      'expired',
      'jti-replayed',
    ]);
    for (const token of [expired, good]) {
      for (const part of token.split('.')) expect(log).not.toContain(part);
    }
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ level: 20 });
  });

  it('exports every reason code once', () => {
    expect(new Set(AUTH_FAILURE_REASONS).size).toBe(AUTH_FAILURE_REASONS.length);
  });
});

describe('configuration given to the authenticator', () => {
  it('validates clients at creation', () => {
    expect(() =>
      createClientAuthenticator({
        clients: [{ iss: 'https://x.example.org', jku: ['http://jwks.example.org/keys'] }],
        publicBaseUrl: BASE,
        replayGuard,
      }),
    ).toThrow(/entry 0 \(iss "https:\/\/x.example.org"\): jku.0: .*https/);
  });

  it('refuses a publicBaseUrl that is not absolute', () => {
    expect(() =>
      createClientAuthenticator({ clients: clients(), publicBaseUrl: 'localhost:3000', replayGuard }),
    ).toThrow(/publicBaseUrl/);
  });
});
