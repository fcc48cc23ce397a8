/**
 * The per-call state a single instance keeps in memory: the JWT replay cache and cross-hook card claims.
 * With the embedded database (SQLite) the service is one process by construction, so a database round
 * trip per call buys nothing; replicas sharing PostgreSQL use the Store's tables instead (see
 * src/server.ts). Expired entries are swept periodically, not on every call.
 *
 * Every call leaves an entry in each map until it expires (a token's lifetime; a day for card claims), so
 * entries are kept small: the jti cache is keyed per issuer by the jti itself (no composed key string),
 * and expiry times are whole seconds, which V8 stores unboxed where milliseconds would each take a heap
 * number.
 */
export interface MemoryState {
  claimJti(iss: string, jti: string, expiresAt: Date): Promise<boolean>;
  claimCards(hookInstance: string, hook: string, cardUuids: string[], expiresAt: Date): Promise<Set<string>>;
  sweep(now?: Date): void;
  size(): { jti: number; cards: number };
  close(): void;
}

/** A Date as whole seconds, rounded up: an entry never expires before the time it was given. */
const seconds = (at: Date): number => Math.ceil(at.getTime() / 1000);

export function createMemoryState(options: { now?: () => Date; sweepMs?: number } = {}): MemoryState {
  const now = options.now ?? (() => new Date());
  /** iss -> jti -> expiry (s). */
  const jtis = new Map<string, Map<string, number>>();
  /** hookInstance + NUL + card uuid -> the hook that showed it first and the claim's expiry (s). */
  const cards = new Map<string, { hook: string; expires: number }>();
  const sweep = (at: Date = now()): void => {
    const t = at.getTime() / 1000;
    for (const [iss, byJti] of jtis) {
      for (const [jti, expires] of byJti) if (expires <= t) byJti.delete(jti);
      if (byJti.size === 0) jtis.delete(iss);
    }
    for (const [key, entry] of cards) if (entry.expires <= t) cards.delete(key);
  };
  const timer = setInterval(() => sweep(), options.sweepMs ?? 30_000);
  timer.unref();
  return {
    claimJti(iss, jti, expiresAt) {
      let byJti = jtis.get(iss);
      if (byJti === undefined) {
        byJti = new Map();
        jtis.set(iss, byJti);
      }
      const seen = byJti.get(jti);
      if (seen !== undefined && seen > now().getTime() / 1000) return Promise.resolve(false);
      byJti.set(jti, seconds(expiresAt));
      return Promise.resolve(true);
    },
    claimCards(hookInstance, hook, cardUuids, expiresAt) {
      const shownElsewhere = new Set<string>();
      const t = now().getTime() / 1000;
      for (const uuid of cardUuids) {
        // A hookInstance that passed request validation holds no NUL, so the key cannot be read two ways.
        const key = `${hookInstance}\u0000${uuid}`;
        const entry = cards.get(key);
        if (entry !== undefined && entry.expires > t) {
          if (entry.hook !== hook) shownElsewhere.add(uuid);
        } else {
          cards.set(key, { hook, expires: seconds(expiresAt) });
        }
      }
      return Promise.resolve(shownElsewhere);
    },
    sweep,
    size: () => ({ jti: [...jtis.values()].reduce((n, m) => n + m.size, 0), cards: cards.size }),
    close: () => clearInterval(timer),
  };
}
