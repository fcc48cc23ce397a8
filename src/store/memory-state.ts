/**
 * The per-call state a single instance keeps in memory: the JWT replay cache and cross-hook card claims.
 * With the embedded database (SQLite) the service is one process by construction, so a database round
 * trip per call buys nothing; replicas sharing PostgreSQL use the Store's tables instead (see
 * src/server.ts). Expired entries are swept periodically, not on every call.
 */
export interface MemoryState {
  claimJti(iss: string, jti: string, expiresAt: Date): Promise<boolean>;
  claimCards(hookInstance: string, hook: string, cardUuids: string[], expiresAt: Date): Promise<Set<string>>;
  sweep(now?: Date): void;
  size(): { jti: number; cards: number };
  close(): void;
}

export function createMemoryState(options: { now?: () => Date; sweepMs?: number } = {}): MemoryState {
  const now = options.now ?? (() => new Date());
  const jtis = new Map<string, number>();
  const cards = new Map<string, { hook: string; expires: number }>();
  const sweep = (at: Date = now()): void => {
    const t = at.getTime();
    for (const [key, expires] of jtis) if (expires <= t) jtis.delete(key);
    for (const [key, entry] of cards) if (entry.expires <= t) cards.delete(key);
  };
  const timer = setInterval(() => sweep(), options.sweepMs ?? 30_000);
  timer.unref();
  return {
    claimJti(iss, jti, expiresAt) {
      // JSON keeps ("a|b","c") apart from ("a","b|c") whatever characters the claims contain.
      const key = JSON.stringify([iss, jti]);
      const seen = jtis.get(key);
      if (seen !== undefined && seen > now().getTime()) return Promise.resolve(false);
      jtis.set(key, expiresAt.getTime());
      return Promise.resolve(true);
    },
    claimCards(hookInstance, hook, cardUuids, expiresAt) {
      const shownElsewhere = new Set<string>();
      const t = now().getTime();
      for (const uuid of cardUuids) {
        const key = JSON.stringify([hookInstance, uuid]);
        const entry = cards.get(key);
        if (entry !== undefined && entry.expires > t) {
          if (entry.hook !== hook) shownElsewhere.add(uuid);
        } else {
          cards.set(key, { hook, expires: expiresAt.getTime() });
        }
      }
      return Promise.resolve(shownElsewhere);
    },
    sweep,
    size: () => ({ jti: jtis.size, cards: cards.size }),
    close: () => clearInterval(timer),
  };
}
