/**
 * Authenticates CDS clients (EHRs, the CDS Hooks sandbox) by the signed JWT in `Authorization: Bearer`,
 * as CDS Hooks 2.0 "Trusting CDS Clients" requires. Every failure is the same bare 401 to the caller; the
 * precise reason is logged at info by the error handler as a stable code (never the token).
 */
import { compactVerify } from 'jose';
import { AppError } from '../../errors.js';
import {
  BASELINE_ALGORITHMS,
  normaliseJwksUrl,
  parseClients,
  type CdsClient,
  type CdsClientInput,
} from '../../config/clients.js';
import {
  JwksCache,
  createHttpJwksFetcher,
  importVerificationKey,
  selectKey,
  type FetchJwks,
  type PublicJwk,
} from './jwks.js';
import type { ReplayGuard } from './replay.js';

/** Why a token was refused. Stable: tests and log queries rely on these codes. */
export const AUTH_FAILURE_REASONS = [
  'authorization-missing',
  'not-bearer',
  'token-malformed',
  'header-malformed',
  'typ-not-jwt',
  'alg-forbidden',
  'alg-not-allowed',
  'kid-missing',
  'claims-malformed',
  'iss-missing',
  'iss-unknown',
  'jku-not-allowed',
  'jwks-unavailable',
  'kid-unknown',
  'signature-invalid',
  'aud-missing',
  'aud-mismatch',
  'exp-missing',
  'expired',
  'iat-missing',
  'iat-in-future',
  'nbf-in-future',
  'lifetime-too-long',
  'jti-missing',
  'jti-too-long',
  'tenant-missing',
  'tenant-mismatch',
  'jti-replayed',
] as const;

export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** The 401 every authentication failure becomes; `reason` is for logs and tests, never for the response. */
export class AuthenticationError extends AppError {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason) {
    super('unauthorized', 'Unauthorized');
    this.name = 'AuthenticationError';
    this.reason = reason;
  }
}

/** Who called, once the token checked out. */
export interface AuthenticatedClient {
  iss: string;
  /** Epic puts its client id here; not a CDS Hooks 2.0 claim, so only passed through. */
  sub?: string;
  tenant?: string;
  jti: string;
  /** The token's `exp`. */
  expiresAt: Date;
}

/** The slice of a pino logger the authenticator uses. */
export interface AuthLogger {
  debug(obj: object, msg?: string): void;
}

export interface ClientAuthenticatorOptions {
  /** Trusted clients; validated again here so clients built in code (demo) get the same checks. */
  clients: readonly CdsClientInput[];
  /** Externally visible base URL; `aud` must equal it + the path called. */
  publicBaseUrl: string;
  replayGuard: ReplayGuard;
  clockSkewSeconds?: number;
  now?: () => Date;
  /** Replaces the HTTP JWKS fetch (its result is still checked as a JWKS). */
  fetchJwks?: FetchJwks;
  /** For the default fetcher. */
  jwksFetchTimeoutMs?: number;
  /** For the default fetcher. */
  jwksMaxBytes?: number;
  /** Minimum time between two fetches of one JWKS URL. */
  jwksRefetchCooldownMs?: number;
  /** Cached remote keys are refreshed after this, so a key withdrawn by the client stops working. */
  jwksMaxAgeMs?: number;
  /**
   * Longest accepted `exp - iat`. CDS Hooks names no cap and Epic uses 15 minutes, so the default is an
   * hour: long enough for real clients, short enough that a leaked token does not live for days.
   */
  maxLifetimeSeconds?: number;
  logger?: AuthLogger;
  /**
   * Called once per refused token with its stable reason and the iss of the trusted client it named
   * (undefined when the token named none, or an untrusted one: never an attacker's string). For metrics.
   */
  onFailure?: (reason: AuthFailureReason, trustedIss: string | undefined) => void;
}

export interface ClientAuthenticator {
  /**
   * Checks `Authorization` for a request to `path` (the path called, e.g. `/cds-services/x`; a query
   * string is ignored). Resolves the client or throws AuthenticationError (401); throws AppError
   * `not-ready` (503) only when the replay store cannot be reached.
   */
  authenticate(authorization: string | undefined, path: string): Promise<AuthenticatedClient>;
}

interface JoseHeader {
  alg?: unknown;
  kid?: unknown;
  typ?: unknown;
  jku?: unknown;
  crit?: unknown;
  b64?: unknown;
}

const BEARER = /^Bearer +(.*)$/i;
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;
/** Real CDS tokens are well under 2 KiB; the limit keeps parsing of hostile input cheap. */
const MAX_TOKEN_LENGTH = 8192;
/** jti is stored per token; an unbounded one would let a client bloat the replay store. */
const MAX_JTI_LENGTH = 256;

function fail(reason: AuthFailureReason): never {
  throw new AuthenticationError(reason);
}

function decodeSegment(segment: string, reason: AuthFailureReason): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return fail(reason);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return fail(reason);
  return value as Record<string, unknown>;
}

function isForbiddenAlgorithm(alg: string): boolean {
  return alg.toLowerCase() === 'none' || /^HS/i.test(alg);
}

function numericDate(value: unknown, missing: AuthFailureReason): number {
  if (value === undefined) return fail(missing);
  if (typeof value !== 'number' || !Number.isFinite(value)) return fail('claims-malformed');
  return value;
}

/** Expected `aud`: the public base (without trailing slash) + the path exactly as routed. */
function expectedAudience(publicBaseUrl: string, path: string): string {
  const pathOnly = path.split('?')[0] ?? '';
  return publicBaseUrl.replace(/\/+$/, '') + (pathOnly.startsWith('/') ? pathOnly : `/${pathOnly}`);
}

/**
 * Creates the authenticator for CDS service calls. Clients are validated at creation (throws
 * ClientsConfigError), so a bad demo or file configuration fails at start, not per request.
 */
export function createClientAuthenticator(options: ClientAuthenticatorOptions): ClientAuthenticator {
  const clients = parseClients(options.clients, 'CDS clients');
  let base: URL;
  try {
    base = new URL(options.publicBaseUrl);
  } catch {
    base = new URL('invalid:');
  }
  if ((base.protocol !== 'https:' && base.protocol !== 'http:') || base.search !== '' || base.hash !== '') {
    throw new Error(`publicBaseUrl ${JSON.stringify(options.publicBaseUrl)} is not an absolute http(s) URL`);
  }
  const publicBaseUrl = base.href;
  const skew = options.clockSkewSeconds ?? 60;
  const maxLifetime = options.maxLifetimeSeconds ?? 3600;
  const now = options.now ?? (() => new Date());
  const logger = options.logger;
  const byIss = new Map<string, CdsClient>(clients.map((c) => [c.iss, c]));
  const configuredKeys = new Map<string, PublicJwk[]>(
    clients.map((c) => [c.iss, (c.jwks?.keys ?? []) as PublicJwk[]]),
  );
  const cache = new JwksCache({
    fetchJwks:
      options.fetchJwks ??
      createHttpJwksFetcher({ timeoutMs: options.jwksFetchTimeoutMs, maxBytes: options.jwksMaxBytes }),
    now,
    refetchCooldownMs: options.jwksRefetchCooldownMs,
    maxAgeMs: options.jwksMaxAgeMs,
    onFetchError: (url, reason) => logger?.debug({ jwksUrl: url, jwksError: reason }, 'JWKS fetch failed'),
  });

  async function findKey(
    client: CdsClient,
    jku: string | undefined,
    kid: string,
    alg: string,
  ): Promise<PublicJwk> {
    if (jku !== undefined) {
      const found = await cache.find(jku, kid, alg);
      return 'jwk' in found ? found.jwk : fail(found.failure);
    }
    // Without a jku header, keys given out of band come first, then the client's allow-listed URLs.
    const local = selectKey(configuredKeys.get(client.iss) ?? [], kid, alg);
    if (local) return local;
    let failure: AuthFailureReason = 'kid-unknown';
    for (const url of client.jku ?? []) {
      const found = await cache.find(url, kid, alg);
      if ('jwk' in found) return found.jwk;
      if (found.failure === 'jwks-unavailable' && failure === 'kid-unknown') failure = 'jwks-unavailable';
    }
    return fail(failure);
  }

  /** `seen.iss` is set once the token names a trusted client, so a later failure can say which. */
  async function verify(
    authorization: string | undefined,
    path: string,
    seen: { iss?: string },
  ): Promise<AuthenticatedClient> {
    if (authorization === undefined || authorization.trim() === '') return fail('authorization-missing');
    const bearer = BEARER.exec(authorization.trim());
    if (!bearer) return fail('not-bearer');
    const token = bearer[1] ?? '';
    if (token.length > MAX_TOKEN_LENGTH) return fail('token-malformed');
    const parts = COMPACT_JWS.exec(token);
    if (!parts) return fail('token-malformed');
    const header = decodeSegment(parts[1] ?? '', 'header-malformed') as JoseHeader;

    if (header.typ !== undefined && (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')) {
      return fail('typ-not-jwt');
    }
    if (typeof header.alg !== 'string' || header.alg === '') return fail('header-malformed');
    const alg = header.alg;
    if (isForbiddenAlgorithm(alg)) return fail('alg-forbidden');
    // Unencoded payloads (RFC 7797) and critical extensions have no place in a CDS token.
    if (header.crit !== undefined || header.b64 !== undefined) return fail('header-malformed');
    if (typeof header.kid !== 'string' || header.kid === '') return fail('kid-missing');
    const kid = header.kid;
    if (header.jku !== undefined && typeof header.jku !== 'string') return fail('header-malformed');

    // Claims are read before the signature is checked only to pick the client and reject cheaply; the
    // signature below covers exactly these payload bytes, so nothing unverified is returned.
    const claims = decodeSegment(parts[2] ?? '', 'claims-malformed');
    if (typeof claims.iss !== 'string' || claims.iss === '') return fail('iss-missing');
    const client = byIss.get(claims.iss);
    if (!client) return fail('iss-unknown');
    seen.iss = client.iss;

    const allowedAlgs = new Set<string>([...BASELINE_ALGORITHMS, ...(client.algorithms ?? [])]);
    if (!allowedAlgs.has(alg)) return fail('alg-not-allowed');

    // Pinned keys win: a key given out of band for this client with the token's kid verifies it whatever
    // the jku says, so a hospital can pin an EHR's (or the sandbox's) key when the jku host is unreachable.
    // An unlisted jku with an unknown kid still fails below, before anything is fetched.
    const pinned = selectKey(configuredKeys.get(client.iss) ?? [], kid, alg);
    let jku: string | undefined;
    if (!pinned && typeof header.jku === 'string') {
      const normalised = normaliseJwksUrl(header.jku);
      if ('error' in normalised || !(client.jku ?? []).includes(normalised.url))
        return fail('jku-not-allowed');
      jku = normalised.url;
    }

    const expected = expectedAudience(publicBaseUrl, path);
    const aud = claims.aud;
    if (aud === undefined) return fail('aud-missing');
    if (typeof aud === 'string') {
      if (aud !== expected) return fail('aud-mismatch');
    } else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) {
      if (!aud.includes(expected)) return fail('aud-mismatch');
    } else {
      return fail('claims-malformed');
    }

    const t = now().getTime() / 1000;
    const exp = numericDate(claims.exp, 'exp-missing');
    const iat = numericDate(claims.iat, 'iat-missing');
    if (exp + skew <= t) return fail('expired');
    if (iat - skew > t) return fail('iat-in-future');
    if (claims.nbf !== undefined && numericDate(claims.nbf, 'claims-malformed') - skew > t) {
      return fail('nbf-in-future');
    }
    if (exp - iat > maxLifetime) return fail('lifetime-too-long');

    if (typeof claims.jti !== 'string' || claims.jti === '') return fail('jti-missing');
    if (claims.jti.length > MAX_JTI_LENGTH) return fail('jti-too-long');
    const jti = claims.jti;
    if (claims.sub !== undefined && typeof claims.sub !== 'string') return fail('claims-malformed');
    if (claims.tenant !== undefined && typeof claims.tenant !== 'string') return fail('claims-malformed');
    const tenant = claims.tenant as string | undefined;
    if (client.tenants !== undefined) {
      if (tenant === undefined) return fail('tenant-missing');
      if (!client.tenants.includes(tenant)) return fail('tenant-mismatch');
    }

    const jwk = pinned ?? (await findKey(client, jku, kid, alg));
    let key: Awaited<ReturnType<typeof importVerificationKey>>;
    try {
      key = await importVerificationKey(jwk, alg);
    } catch {
      return fail('kid-unknown');
    }
    try {
      await compactVerify(token, key, { algorithms: [alg] });
    } catch {
      return fail('signature-invalid');
    }

    // Kept until the token can no longer be accepted, which with skew is exp + skew.
    let first: boolean;
    try {
      first = await options.replayGuard.claim(client.iss, jti, new Date((exp + skew) * 1000));
    } catch {
      throw new AppError('not-ready', 'Replay store unavailable');
    }
    if (!first) return fail('jti-replayed');

    return {
      iss: client.iss,
      ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
      ...(tenant !== undefined ? { tenant } : {}),
      jti,
      expiresAt: new Date(exp * 1000),
    };
  }

  return {
    async authenticate(authorization, path) {
      const seen: { iss?: string } = {};
      try {
        return await verify(authorization, path, seen);
      } catch (err) {
        if (err instanceof AuthenticationError) {
          logger?.debug({ authFailure: err.reason }, 'CDS client authentication failed');
          options.onFailure?.(err.reason, seen.iss);
        }
        throw err;
      }
    },
  };
}
