/**
 * Authentication of the service's own FHIR writes: nothing, a static bearer token, or SMART Backend
 * Services (OAuth 2.0 client-credentials grant with a private-key JWT client assertion, signed RS384 or
 * ES384). Tokens and keys never leave this module except as the Authorization header value: they are not
 * logged, not put in error messages and not persisted.
 */
import { createPrivateKey, randomUUID, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import { z } from 'zod';
import type { SmartSettings } from '../config/writeback.js';

export type SmartSigningAlg = 'RS384' | 'ES384';

/** SMART v1 scope names; a SMART v2 server may want `system/Observation.c system/Patient.rs` instead. */
export const DEFAULT_WRITE_SCOPE = 'system/Observation.write system/Patient.read';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Supplies the Authorization header for FHIR write requests. */
export interface FhirWriteAuth {
  readonly kind: 'none' | 'static' | 'smart-backend';
  /** The Authorization header value (`Bearer ...`), or undefined when requests go unauthenticated. */
  authorization(signal?: AbortSignal): Promise<string | undefined>;
  /**
   * Forgets `rejected` after the FHIR server answered 401 with it. Returns true when asking again can give
   * a different credential (a fresh SMART token), false when a retry would send the same one.
   */
  invalidate(rejected: string | undefined): boolean;
}

/** A failure to obtain an access token. Never carries the token, the assertion or the key. */
export class FhirAuthError extends Error {
  constructor(
    message: string,
    /** True when asking again later may succeed (network, 5xx, 429, timeouts). */
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FhirAuthError';
  }
}

/** No Authorization header (a FHIR server on a trusted network, or tests). */
export function noFhirAuth(): FhirWriteAuth {
  return {
    kind: 'none',
    authorization: async () => undefined,
    invalidate: () => false,
  };
}

/** A fixed bearer token (FHIR_WRITE_TOKEN). A 401 cannot be cured by asking again. */
export function staticBearerAuth(token: string): FhirWriteAuth {
  if (!token) throw new Error('static bearer token is empty');
  const header = `Bearer ${token}`;
  return {
    kind: 'static',
    authorization: async () => header,
    invalidate: () => false,
  };
}

/** A private key ready to sign client assertions. */
export interface SmartSigningKey {
  key: KeyObject;
  alg: SmartSigningAlg;
  /** Key id sent in the JWT header; the token server selects the registered public key by it. */
  kid: string;
}

const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** The public half of a JWK (for registering the client's key with the token server). */
export function publicJwkOf(key: SmartSigningKey): JWK {
  const jwk = key.key.export({ format: 'jwk' }) as JWK & Record<string, unknown>;
  for (const m of PRIVATE_JWK_MEMBERS) delete jwk[m];
  return { ...jwk, kid: key.kid, alg: key.alg, use: 'sig' };
}

/**
 * Imports the client's private key from PEM (PKCS#8, PKCS#1 or SEC1) or a private JWK (JSON text or
 * object, or a JWKS holding one private key). The algorithm follows the key: RSA (>= 2048 bits) signs
 * RS384, EC P-384 signs ES384; anything else is refused. `kid` defaults to the JWK `kid`, else the
 * RFC 7638 thumbprint of the public key.
 */
export async function importSmartSigningKey(material: string | JWK, kid?: string): Promise<SmartSigningKey> {
  let jwkKid: string | undefined;
  let key: KeyObject;
  try {
    if (typeof material === 'string' && material.trimStart().startsWith('-----BEGIN')) {
      key = createPrivateKey({ key: material, format: 'pem' });
    } else {
      const parsed: unknown = typeof material === 'string' ? JSON.parse(material) : material;
      const jwk = pickPrivateJwk(parsed);
      jwkKid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
      key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
    }
  } catch (err) {
    // The parser's message may quote key material; only say what kind of failure it was.
    const why = err instanceof KeyShapeError ? err.message : (err as Error).name;
    throw new Error(`cannot read the SMART private key (${why})`);
  }
  if (key.type !== 'private') throw new Error('the SMART signing key must be a private key');
  const alg = algorithmFor(key);
  const publicJwk = key.export({ format: 'jwk' }) as JWK;
  const thumbprint = await calculateJwkThumbprint(publicJwk, 'sha256');
  return { key, alg, kid: kid ?? jwkKid ?? thumbprint };
}

class KeyShapeError extends Error {}

function pickPrivateJwk(parsed: unknown): JWK {
  if (parsed && typeof parsed === 'object' && 'keys' in parsed && Array.isArray(parsed.keys)) {
    const privates = (parsed.keys as JWK[]).filter((k) => typeof k === 'object' && k !== null && 'd' in k);
    if (privates.length !== 1) throw new KeyShapeError('a JWKS must hold exactly one private key');
    return privates[0] as JWK;
  }
  if (parsed && typeof parsed === 'object' && 'kty' in parsed) return parsed as JWK;
  throw new KeyShapeError('neither PEM nor a JWK');
}

function algorithmFor(key: KeyObject): SmartSigningAlg {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < 2048)
      throw new Error('RSA signing keys must have at least 2048 bits');
    return 'RS384';
  }
  if (key.asymmetricKeyType === 'ec') {
    if (details?.namedCurve !== 'secp384r1')
      throw new Error('EC signing keys must use curve P-384 for ES384');
    return 'ES384';
  }
  throw new Error(`unsupported key type ${key.asymmetricKeyType ?? 'unknown'} (use RSA or EC P-384)`);
}

export interface SmartBackendAuthOptions {
  /** The authorization server's token endpoint; also the `aud` of every client assertion. */
  tokenUrl: string;
  clientId: string;
  signingKey: SmartSigningKey;
  scope?: string;
  /** Client assertion lifetime in seconds; SMART allows at most 300. */
  assertionLifetimeSeconds?: number;
  /** A token is refreshed this long before `expires_in` runs out (capped at a tenth of its lifetime). */
  refreshSkewMs?: number;
  /** Used when the token response has no `expires_in`. */
  defaultExpiresInSeconds?: number;
  /** Per token request. */
  timeoutMs?: number;
  now?: () => Date;
  newJti?: () => string;
  fetch?: typeof fetch;
}

const tokenResponseSchema = z.object({
  access_token: z.string().min(1),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be bearer'),
  expires_in: z.number().positive().optional(),
  scope: z.string().optional(),
});

// Only a well-formed OAuth error code is kept; error_description is free text and stays out of logs.
const tokenErrorSchema = z.object({ error: z.string().regex(/^[A-Za-z0-9_.-]{1,40}$/) }).loose();

/**
 * SMART Backend Services: obtains an access token with a signed client assertion, caches it until shortly
 * before it expires, shares one token request among concurrent callers, and fetches a new one when the
 * FHIR server rejects the cached token (`invalidate`).
 */
export function smartBackendAuth(options: SmartBackendAuthOptions): FhirWriteAuth {
  const now = options.now ?? (() => new Date());
  const newJti = options.newJti ?? randomUUID;
  const doFetch = options.fetch ?? fetch;
  const scope = options.scope ?? DEFAULT_WRITE_SCOPE;
  const lifetime = Math.min(options.assertionLifetimeSeconds ?? 240, 300);
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!URL.canParse(options.tokenUrl)) throw new Error('SMART token URL is not a URL');

  let cached: { header: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function clientAssertion(): Promise<string> {
    const issuedAt = Math.floor(now().getTime() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: options.signingKey.alg, kid: options.signingKey.kid, typ: 'JWT' })
      .setIssuer(options.clientId)
      .setSubject(options.clientId)
      .setAudience(options.tokenUrl)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + lifetime)
      .setJti(newJti())
      .sign(options.signingKey.key);
  }

  async function requestToken(signal?: AbortSignal): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion(),
    });
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      res = await doFetch(options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch {
      const why = timeout.aborted || signal?.aborted ? 'timed out' : 'unreachable';
      throw new FhirAuthError(`token endpoint ${why}`, true);
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      const parsed = safeJson(text);
      const oauth = tokenErrorSchema.safeParse(parsed);
      const code = oauth.success ? ` (${oauth.data.error})` : '';
      // Refusals (invalid_client, invalid_scope) are configuration problems an operator fixes; the write
      // waits for that instead of being dropped, so every failure here is worth retrying.
      throw new FhirAuthError(`token endpoint answered ${res.status}${code}`, true, res.status);
    }
    const token = tokenResponseSchema.safeParse(safeJson(text));
    if (!token.success) throw new FhirAuthError('token endpoint sent an unusable token response', true);
    const lifetimeMs = (token.data.expires_in ?? options.defaultExpiresInSeconds ?? 60) * 1000;
    const skew = Math.min(options.refreshSkewMs ?? 30_000, lifetimeMs / 10);
    const header = `Bearer ${token.data.access_token}`;
    cached = { header, refreshAt: now().getTime() + lifetimeMs - skew };
    return header;
  }

  return {
    kind: 'smart-backend',
    async authorization(signal) {
      if (cached && now().getTime() < cached.refreshAt) return cached.header;
      cached = undefined;
      pending ??= requestToken(signal).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate(rejected) {
      if (cached && cached.header === rejected) cached = undefined;
      return true;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const smartConfigurationSchema = z.object({ token_endpoint: z.string().min(1) }).loose();

/**
 * The token endpoint the FHIR server advertises in `[base]/.well-known/smart-configuration` (SMART App
 * Launch discovery, also used by Backend Services), for deployments that configure no token URL.
 */
export async function discoverTokenEndpoint(
  fhirBaseUrl: string,
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<string> {
  const doFetch = options.fetch ?? fetch;
  const url = `${fhirBaseUrl.replace(/\/+$/, '')}/.well-known/smart-configuration`;
  let res: Response;
  try {
    res = await doFetch(url, {
      headers: { accept: 'application/json' },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch {
    throw new FhirAuthError('SMART configuration unreachable', true);
  }
  if (!res.ok)
    throw new FhirAuthError(`SMART configuration answered ${res.status}`, res.status >= 500, res.status);
  const parsed = smartConfigurationSchema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success || !URL.canParse(parsed.data.token_endpoint)) {
    throw new FhirAuthError('SMART configuration has no usable token_endpoint', false);
  }
  return parsed.data.token_endpoint;
}

/** Settings for `createFhirWriteAuth`; the lead maps environment variables onto these. */
export interface FhirWriteAuthSettings {
  /** Static bearer token (FHIR_WRITE_TOKEN). */
  token?: string;
  smart?: SmartSettings;
}

/** Picks the write authentication: SMART Backend Services, else the static token, else none. */
export async function createFhirWriteAuth(
  settings: FhirWriteAuthSettings,
  extra: Pick<SmartBackendAuthOptions, 'now' | 'fetch' | 'timeoutMs'> = {},
): Promise<FhirWriteAuth> {
  if (settings.smart && settings.token) {
    throw new Error('configure either a static FHIR write token or SMART Backend Services, not both');
  }
  if (settings.smart) {
    const signingKey = await importSmartSigningKey(settings.smart.privateKey, settings.smart.kid);
    return smartBackendAuth({
      tokenUrl: settings.smart.tokenUrl,
      clientId: settings.smart.clientId,
      signingKey,
      ...(settings.smart.scope ? { scope: settings.smart.scope } : {}),
      ...extra,
    });
  }
  if (settings.token) return staticBearerAuth(settings.token);
  return noFhirAuth();
}
