import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/http/logger.js';
import { Store } from '../../src/store/store.js';
import { openDb } from '../../src/store/db.js';
import {
  CLIENT_ASSERTION_TYPE,
  createFhirWriteAuth,
  discoverTokenEndpoint,
  importSmartSigningKey,
  publicJwkOf,
  smartBackendAuth,
  staticBearerAuth,
  type SmartSigningKey,
} from '../../src/writeback/fhir-auth.js';
import { createObservationWriter, WriteError } from '../../src/writeback/observation-writer.js';
import { createWritebackOutbox } from '../../src/writeback/outbox-worker.js';
import { startGuardedFhirServer, type GuardedFhirServer } from './guarded-fhir.js';
import { observationsLike, patientSeed, vbqObservation } from './fixtures.js';
import { startSmartTokenServer, type SmartTokenServer } from './smart-token-server.js';

const CLIENT_ID = 'spine-bone-health-cds-writer';

function pem(kind: 'rsa' | 'ec'): string {
  const pair =
    kind === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-384' });
  return pair.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

function manualClock(start = Date.now()) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

async function writeError(p: Promise<unknown>): Promise<WriteError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WriteError) return err;
    throw err;
  }
  throw new Error('expected the write to fail');
}

describe('SMART Backend Services write-back', () => {
  const clock = manualClock();
  let rsaKey: SmartSigningKey;
  let ecKey: SmartSigningKey;
  let unregisteredKey: SmartSigningKey;
  let tokens: SmartTokenServer;
  let fhir: GuardedFhirServer;

  beforeAll(async () => {
    rsaKey = await importSmartSigningKey(pem('rsa'));
    ecKey = await importSmartSigningKey(pem('ec'), 'ec-key-1');
    unregisteredKey = await importSmartSigningKey(pem('rsa'));
    tokens = await startSmartTokenServer({
      clients: [
        { clientId: CLIENT_ID, keys: [publicJwkOf(rsaKey)] },
        { clientId: 'ec-client', keys: [publicJwkOf(ecKey)] },
      ],
      expiresIn: 300,
      now: clock.now,
    });
    fhir = await startGuardedFhirServer({
      seed: [patientSeed([['p1', 'PAT-001']])],
      authorize: (h) => tokens.accepts(h),
      smartConfiguration: {
        token_endpoint: tokens.tokenUrl,
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
        grant_types_supported: ['client_credentials'],
      },
    });
  });
  afterAll(async () => {
    await fhir.stop();
    await tokens.stop();
  });

  function smartWriter(key: SmartSigningKey, clientId = CLIENT_ID) {
    const auth = smartBackendAuth({ tokenUrl: tokens.tokenUrl, clientId, signingKey: key, now: clock.now });
    return { auth, writer: createObservationWriter({ baseUrl: fhir.baseUrl, auth, timeoutMs: 2_000 }) };
  }

  it('the FHIR side refuses a request without a valid token (the guard is real)', async () => {
    const res = await fetch(`${fhir.baseUrl}/Patient`, { headers: { authorization: 'Bearer made-up' } });
    expect(res.status).toBe(401);
  });

  it('gets one token with a verified RS384 client assertion and uses it for many writes', async () => {
    const before = tokens.tokenRequests;
    const verifiedBefore = tokens.verified.length;
    const { writer } = smartWriter(rsaKey);
    // Concurrent writes share one token request.
    const results = await Promise.all(
      ['10', '11', '12', '13'].map((n) => writer.write(vbqObservation(`1.2.9.${n}`))),
    );
    expect(results.map((r) => r.outcome)).toEqual(['created', 'created', 'created', 'created']);
    await writer.write(vbqObservation('1.2.9.14'));
    expect(tokens.tokenRequests - before).toBe(1);

    const assertion = tokens.verified[verifiedBefore];
    expect(assertion?.header).toMatchObject({ alg: 'RS384', kid: rsaKey.kid, typ: 'JWT' });
    expect(assertion?.payload).toMatchObject({ iss: CLIENT_ID, sub: CLIENT_ID, aud: tokens.tokenUrl });
    const { exp = 0, iat = 0 } = assertion?.payload ?? {};
    expect(exp - iat).toBeGreaterThan(0);
    expect(exp - iat).toBeLessThanOrEqual(300);
    expect(assertion?.scope).toBe('system/Observation.write system/Patient.read');
    expect(
      await observationsLike(fhir.baseUrl, vbqObservation('1.2.9.10'), `Bearer ${tokens.issued.at(-1)}`),
    ).toHaveLength(1);
  });

  it('discovers the token endpoint from .well-known/smart-configuration', async () => {
    expect(await discoverTokenEndpoint(fhir.baseUrl)).toBe(tokens.tokenUrl);
    await expect(discoverTokenEndpoint(`${fhir.baseUrl}/nowhere`)).rejects.toThrow(/answered 40/);
  });

  it('signs ES384 with an EC P-384 key', async () => {
    const verifiedBefore = tokens.verified.length;
    const { writer } = smartWriter(ecKey, 'ec-client');
    expect((await writer.write(vbqObservation('1.2.9.20'))).outcome).toBe('created');
    expect(tokens.verified[verifiedBefore]?.header).toMatchObject({ alg: 'ES384', kid: 'ec-key-1' });
  });

  it('refreshes the token when it expires, with a fresh jti', async () => {
    const { writer } = smartWriter(rsaKey);
    const before = tokens.tokenRequests;
    const refusedBefore = fhir.refused;
    await writer.write(vbqObservation('1.2.9.30'));
    clock.advance(200_000);
    await writer.write(vbqObservation('1.2.9.31'));
    expect(tokens.tokenRequests - before).toBe(1);
    // Past expires_in (300 s) minus the refresh margin: a new token is requested before the old one fails.
    clock.advance(80_000);
    await writer.write(vbqObservation('1.2.9.32'));
    expect(tokens.tokenRequests - before).toBe(2);
    // The token was replaced before it ran out: the FHIR server never had to refuse it.
    expect(fhir.refused).toBe(refusedBefore);
    const jtis = tokens.verified.map((v) => v.payload.jti);
    expect(new Set(jtis).size).toBe(jtis.length);
  });

  it('fetches a new token once when the FHIR server answers 401 to the cached one', async () => {
    const { writer } = smartWriter(rsaKey);
    await writer.write(vbqObservation('1.2.9.40'));
    const before = tokens.tokenRequests;
    const refusedBefore = fhir.refused;
    tokens.revokeAll();
    expect((await writer.write(vbqObservation('1.2.9.41'))).outcome).toBe('created');
    expect(tokens.tokenRequests - before).toBe(1);
    expect(fhir.refused - refusedBefore).toBe(1);
  });

  it('reports a refused client assertion as a retryable auth failure and writes nothing', async () => {
    const { writer } = smartWriter(unregisteredKey);
    const before = fhir.served.length;
    const err = await writeError(writer.write(vbqObservation('1.2.9.50')));
    expect(err.code).toBe('auth-failed');
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('401 (invalid_client)');
    expect(tokens.refusals.at(-1)).toMatch(/assertion refused/);
    expect(fhir.served.length).toBe(before);
  });

  it('never logs the access token while the outbox writes', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      'trace',
      new Writable({
        write(chunk: Buffer, _e, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
    const store = new Store(await openDb({ dataDir: 'memory://' }));
    try {
      const { writer } = smartWriter(rsaKey);
      tokens.revokeAll();
      const box = createWritebackOutbox({ store, writer, logger });
      await box.enqueueObservation(vbqObservation('1.2.9.60'));
      await box.enqueueObservation(
        vbqObservation('1.2.9.61', { identifier: { system: 'urn:dicom:patient-id', value: 'NOBODY' } }),
      );
      const until = Date.now() + 5_000;
      let r = await box.runOnce();
      while (r.done + r.retried === 0 && Date.now() < until) r = await box.runOnce();
      expect(r).toEqual({ done: 1, retried: 1, dead: 0 });
    } finally {
      await store.close();
    }
    const log = lines.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const token of tokens.issued) expect(log).not.toContain(token);
    expect(log).not.toContain('NOBODY');
  });
});

describe('static bearer token', () => {
  let fhir: GuardedFhirServer;
  beforeAll(async () => {
    fhir = await startGuardedFhirServer({
      seed: [patientSeed([['p1', 'PAT-001']])],
      authorize: (h) => h === 'Bearer static-secret',
    });
  });
  afterAll(async () => {
    await fhir.stop();
  });

  it('sends the configured token; a refused token is retryable and not retried at once', async () => {
    const ok = createObservationWriter({ baseUrl: fhir.baseUrl, auth: staticBearerAuth('static-secret') });
    expect((await ok.write(vbqObservation('1.2.9.70'))).outcome).toBe('created');
    const wrong = createObservationWriter({
      baseUrl: fhir.baseUrl,
      auth: await createFhirWriteAuth({ token: 'nope' }),
    });
    const err = await writeError(wrong.write(vbqObservation('1.2.9.71')));
    expect(err).toMatchObject({ code: 'unauthorized', retryable: true, status: 401 });
    expect(err.message).not.toContain('nope');
    expect(fhir.refused).toBe(1);
  });
});

describe('signing keys', () => {
  it('refuses keys SMART does not allow for RS384/ES384', async () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    await expect(importSmartSigningKey(p256.toString())).rejects.toThrow(/P-384/);
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      format: 'pem',
      type: 'pkcs8',
    });
    await expect(importSmartSigningKey(rsa1024.toString())).rejects.toThrow(/2048/);
    const publicOnly = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      format: 'pem',
      type: 'spki',
    });
    await expect(importSmartSigningKey(publicOnly.toString())).rejects.toThrow(/cannot read|private/);
    await expect(importSmartSigningKey('not a key')).rejects.toThrow(/cannot read the SMART private key/);
  });

  it('imports a private JWK (kid kept) and publishes only its public half', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
    const key = await importSmartSigningKey(JSON.stringify({ keys: [{ ...jwk, kid: 'k-2026' }] }));
    expect(key).toMatchObject({ alg: 'ES384', kid: 'k-2026' });
    const pub = publicJwkOf(key) as Record<string, unknown>;
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-384', kid: 'k-2026', alg: 'ES384' });
    expect(pub.d).toBeUndefined();
  });

  it('chooses SMART over nothing, refuses both SMART and a static token, and names the assertion type', async () => {
    const privateKey = pem('ec');
    const smart = { tokenUrl: 'http://127.0.0.1:1/token', clientId: 'c', privateKey };
    expect((await createFhirWriteAuth({ smart })).kind).toBe('smart-backend');
    expect((await createFhirWriteAuth({})).kind).toBe('none');
    await expect(createFhirWriteAuth({ smart, token: 't' })).rejects.toThrow(/not both/);
    expect(CLIENT_ASSERTION_TYPE).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
  });
});
