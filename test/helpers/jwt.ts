/**
 * Test CDS clients: real key pairs and real signatures (jose), plus hand-built hostile tokens for the
 * JWT matrix. Nothing here is used by the product.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { CompactSign, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK } from 'jose';

export type TestAlg = 'ES384' | 'RS384' | 'ES256' | 'PS384';

/** Claims or header members to set; `undefined` removes a default member. */
export type Overrides = Record<string, unknown>;

export interface SignOptions {
  header?: Overrides;
  /** The signer's clock, for iat/exp defaults (default: now). */
  now?: Date;
  /** Default lifetime when exp is not overridden (sandbox: 300 s). */
  lifetimeSeconds?: number;
}

export interface TestClient {
  iss: string;
  kid: string;
  alg: TestAlg;
  /** Public JWKS as a client would publish it at its jku. */
  jwks: { keys: JWK[] };
  publicJwk: JWK;
  /** PEM SPKI of the public key (what an HMAC key-confusion attacker uses as the "secret"). */
  publicKeyPem: string;
  privateKey: CryptoKey;
  /**
   * Signs a JWT. Defaults: header {alg, typ:'JWT', kid}; claims {iss, iat: now, exp: now+300,
   * jti: random}. `aud` has no default: each test names the URL it calls.
   */
  sign(claims?: Overrides, options?: SignOptions): Promise<string>;
}

function merge(defaults: Overrides, overrides: Overrides = {}): Overrides {
  const out: Overrides = { ...defaults };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Base64url of a JSON value. */
export function b64json(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Default claims at `now` (seconds precision, as real clients send). */
export function defaultClaims(iss: string, now: Date = new Date(), lifetimeSeconds = 300): Overrides {
  const iat = Math.floor(now.getTime() / 1000);
  return { iss, iat, exp: iat + lifetimeSeconds, jti: randomUUID() };
}

/** Creates a client with a fresh key pair. */
export async function createTestClient(options: {
  alg: TestAlg;
  iss?: string;
  kid?: string;
}): Promise<TestClient> {
  const { alg } = options;
  const iss = options.iss ?? `https://ehr-${randomUUID()}.example.org`;
  const kid = options.kid ?? `key-${randomUUID()}`;
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const publicKeyPem = await exportSPKI(publicKey);
  return {
    iss,
    kid,
    alg,
    jwks: { keys: [publicJwk] },
    publicJwk,
    publicKeyPem,
    privateKey,
    async sign(claims = {}, signOptions = {}) {
      const payload = merge(defaultClaims(iss, signOptions.now, signOptions.lifetimeSeconds), claims);
      const header = merge({ alg, typ: 'JWT', kid }, signOptions.header);
      return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
        .setProtectedHeader(header as { alg: string })
        .sign(privateKey);
    },
  };
}

/** An unsecured JWT (`alg: none`, empty signature) with the given claims. */
export function unsecuredToken(claims: Overrides, header: Overrides = {}): string {
  return `${b64json(merge({ alg: 'none', typ: 'JWT', kid: 'any' }, header))}.${b64json(claims)}.`;
}

/**
 * The key-confusion attack: HS256 "signed" with the victim's public key (PEM bytes) as the HMAC
 * secret, hoping the verifier feeds its stored public key to an HMAC check.
 */
export function hmacWithPublicKey(client: TestClient, claims: Overrides, header: Overrides = {}): string {
  const signingInput = `${b64json(merge({ alg: 'HS256', typ: 'JWT', kid: client.kid }, header))}.${b64json(claims)}`;
  const mac = createHmac('sha256', client.publicKeyPem).update(signingInput).digest('base64url');
  return `${signingInput}.${mac}`;
}

/** Replaces the payload of a signed token without re-signing (signature no longer matches). */
export function withPayload(token: string, claims: Overrides): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64json(claims)}.${signature}`;
}

/** Decodes a token's payload (test assertions only). */
export function payloadOf(token: string): Overrides {
  const segment = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Overrides;
}
