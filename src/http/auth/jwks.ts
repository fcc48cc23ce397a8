/**
 * Signing keys of CDS clients: selection by kid and algorithm, and a per-URL cache of remote JWKS
 * documents. Only URLs the caller has already matched against a client's allow-list reach this module.
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';

/** Fetches and JSON-parses one JWKS document. Rejects on any transport problem. */
export type FetchJwks = (url: string) => Promise<unknown>;

/** A public key as found in a JWKS: just enough typing to select it. */
export type PublicJwk = JWK & { kty: string; kid: string };

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** The curve each ECDSA algorithm requires (RFC 7518 §3.4). */
const EC_CURVES: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** Whether `jwk` can verify a signature made with `alg`; a mismatch must not even reach the crypto layer. */
function keyFitsAlgorithm(jwk: PublicJwk, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (jwk.key_ops !== undefined && !jwk.key_ops.includes('verify')) return false;
  if (alg.startsWith('ES')) return jwk.kty === 'EC' && jwk.crv === EC_CURVES[alg];
  if (alg.startsWith('RS') || alg.startsWith('PS')) return jwk.kty === 'RSA';
  if (alg === 'EdDSA' || alg === 'Ed25519') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** Picks the key with this kid that fits `alg`, or undefined. */
export function selectKey(keys: readonly PublicJwk[], kid: string, alg: string): PublicJwk | undefined {
  return keys.find((k) => k.kid === kid && keyFitsAlgorithm(k, alg));
}

/**
 * Keeps the usable public signing keys of a fetched JWKS. Keys without kid, symmetric keys and keys
 * carrying private members are skipped rather than failing the set, since a published set may
 * legitimately hold encryption keys; a document that is not a JWKS at all is rejected.
 */
export function usableKeys(document: unknown): PublicJwk[] {
  if (
    document === null ||
    typeof document !== 'object' ||
    !Array.isArray((document as { keys?: unknown }).keys)
  ) {
    throw new Error('not a JWKS document');
  }
  const keys: unknown[] = (document as { keys: unknown[] }).keys;
  return keys.filter((k): k is PublicJwk => {
    if (k === null || typeof k !== 'object' || Array.isArray(k)) return false;
    const rec = k as Record<string, unknown>;
    if (typeof rec.kid !== 'string' || rec.kid === '') return false;
    if (rec.kty !== 'EC' && rec.kty !== 'RSA' && rec.kty !== 'OKP') return false;
    return !PRIVATE_MEMBERS.some((m) => m in rec);
  });
}

const importedKeys = new WeakMap<PublicJwk, Map<string, CryptoKey>>();

/** Imports a JWK for one algorithm, memoised per key object so hot paths skip the import. */
export async function importVerificationKey(jwk: PublicJwk, alg: string): Promise<CryptoKey> {
  const perAlg = importedKeys.get(jwk) ?? new Map<string, CryptoKey>();
  const cached = perAlg.get(alg);
  if (cached) return cached;
  const key = await importJWK(jwk, alg);
  if (key instanceof Uint8Array) throw new Error('symmetric key');
  perAlg.set(alg, key);
  importedKeys.set(jwk, perAlg);
  return key;
}

export interface HttpJwksFetcherOptions {
  /** Whole-request limit (connect, headers and body). */
  timeoutMs?: number;
  /** Larger bodies are refused: a JWKS is a few KiB, an endless body must not exhaust memory. */
  maxBytes?: number;
}

/**
 * The default FetchJwks: GET over HTTP(S) with a timeout and a body-size limit, no redirects (a
 * redirect could lead to a URL nobody allow-listed), 200 only.
 */
export function createHttpJwksFetcher(options: HttpJwksFetcherOptions = {}): FetchJwks {
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxBytes = options.maxBytes ?? 64 * 1024;
  return async (url) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await fetch(url, { signal, redirect: 'error', headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`JWKS fetch answered ${res.status}`);
    }
    const declared = Number(res.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) {
      await res.body?.cancel();
      throw new Error('JWKS too large');
    }
    if (!res.body) throw new Error('JWKS response without body');
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel();
        throw new Error('JWKS too large');
      }
      chunks.push(value);
    }
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  };
}

interface CacheEntry {
  keys: PublicJwk[] | undefined;
  fetchedAt: number;
  lastAttemptAt: number;
  inflight: Promise<void> | undefined;
}

export interface JwksCacheOptions {
  fetchJwks: FetchJwks;
  now: () => Date;
  /** Minimum time between two fetches of one URL (unknown-kid refetches, retries after failure). */
  refetchCooldownMs?: number;
  /** After this, cached keys are refreshed on next use so a key removed from the set stops working. */
  maxAgeMs?: number;
  /** Called when a fetch fails; receives the URL and a short reason, never key material. */
  onFetchError?: (url: string, reason: string) => void;
}

/** Lookup outcome: a key, or why there is none. */
export type KeyLookup = { jwk: PublicJwk } | { failure: 'jwks-unavailable' | 'kid-unknown' };

/**
 * Remote JWKS cache: each URL is fetched once and kept; an unknown kid triggers one refetch (key
 * rotation), at most once per cooldown per URL so forged kids cannot turn the service into a fetch
 * amplifier. Concurrent lookups share one fetch.
 */
export class JwksCache {
  private readonly entries = new Map<string, CacheEntry>();
  private readonly fetchJwks: FetchJwks;
  private readonly now: () => Date;
  private readonly cooldownMs: number;
  private readonly maxAgeMs: number;
  private readonly onFetchError: ((url: string, reason: string) => void) | undefined;

  constructor(options: JwksCacheOptions) {
    this.fetchJwks = options.fetchJwks;
    this.now = options.now;
    this.cooldownMs = options.refetchCooldownMs ?? 30_000;
    this.maxAgeMs = options.maxAgeMs ?? 3_600_000;
    this.onFetchError = options.onFetchError;
  }

  /** Finds the key for (kid, alg) in the JWKS at `url`, fetching or refetching within the limits. */
  async find(url: string, kid: string, alg: string): Promise<KeyLookup> {
    const entry = this.entry(url);
    let fetchedNow = false;
    const t = this.now().getTime();
    if (entry.keys === undefined || t - entry.fetchedAt >= this.maxAgeMs) {
      if (entry.inflight !== undefined || this.mayFetch(entry, t)) {
        await this.refresh(url, entry, t);
        fetchedNow = true;
      }
    }
    if (entry.keys === undefined) return { failure: 'jwks-unavailable' };
    const found = selectKey(entry.keys, kid, alg);
    if (found) return { jwk: found };
    if (!fetchedNow && (entry.inflight !== undefined || this.mayFetch(entry, t))) {
      await this.refresh(url, entry, t);
      const again = entry.keys === undefined ? undefined : selectKey(entry.keys, kid, alg);
      if (again) return { jwk: again };
    }
    return { failure: 'kid-unknown' };
  }

  private entry(url: string): CacheEntry {
    let entry = this.entries.get(url);
    if (!entry) {
      entry = { keys: undefined, fetchedAt: 0, lastAttemptAt: Number.NEGATIVE_INFINITY, inflight: undefined };
      this.entries.set(url, entry);
    }
    return entry;
  }

  private mayFetch(entry: CacheEntry, t: number): boolean {
    return t - entry.lastAttemptAt >= this.cooldownMs;
  }

  private refresh(url: string, entry: CacheEntry, t: number): Promise<void> {
    if (entry.inflight) return entry.inflight;
    entry.lastAttemptAt = t;
    entry.inflight = (async () => {
      try {
        const keys = usableKeys(await this.fetchJwks(url));
        entry.keys = keys;
        entry.fetchedAt = t;
      } catch (err) {
        // Stale keys stay usable: a JWKS host hiccup should not lock out a client whose key is known.
        this.onFetchError?.(url, err instanceof Error ? err.message : 'fetch failed');
      } finally {
        entry.inflight = undefined;
      }
    })();
    return entry.inflight;
  }
}
