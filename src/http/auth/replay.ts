/**
 * Replay protection for CDS client JWTs: a `jti` may be used once per issuer while the token is valid.
 * The production implementation lives in the store (PostgreSQL, shared by replicas); this module holds
 * the contract and an in-memory version for unit tests.
 */

/** Records token ids so a captured JWT cannot be sent again. */
export interface ReplayGuard {
  /**
   * Atomically records (iss, jti) until `expiresAt`. Resolves true when this is the first use, false
   * when the pair is already recorded and not yet expired. Rejects only when the store is unavailable.
   */
  claim(iss: string, jti: string, expiresAt: Date): Promise<boolean>;
}

/**
 * In-memory ReplayGuard for unit tests only: it is per process, so replicas would not share it.
 * `now` is injected so tests can move time forward.
 */
export function createInMemoryReplayGuard(
  now: () => Date = () => new Date(),
): ReplayGuard & { size(): number } {
  const seen = new Map<string, number>();
  const purge = (at: number): void => {
    for (const [key, expires] of seen) if (expires <= at) seen.delete(key);
  };
  return {
    claim(iss, jti, expiresAt) {
      const at = now().getTime();
      purge(at);
      // JSON keeps ("a|b","c") apart from ("a","b|c") whatever characters the claims contain.
      const key = JSON.stringify([iss, jti]);
      if (seen.has(key)) return Promise.resolve(false);
      seen.set(key, expiresAt.getTime());
      return Promise.resolve(true);
    },
    size() {
      purge(now().getTime());
      return seen.size;
    },
  };
}
