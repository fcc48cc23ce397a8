/**
 * Last successful and failed authentication per trusted client, for the Clients page. The hot path only
 * updates a small in-memory map (one entry per client: a Map set, no I/O); a timer flushes the changes to
 * the database every `flushMs` (and on close), merged there so replicas each contribute. Reasons are the
 * authenticator's stable codes; a token never reaches this module.
 */
import type { ClientAuthDelta, ConsoleQueries } from '../store/console-queries.js';

export interface ClientAuthLog {
  success(iss: string): void;
  /** `trustedIss` is undefined when the token named no trusted client (counted under `unknown`). */
  failure(reason: string, trustedIss: string | undefined): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Label for refusals whose token named no trusted client: an attacker's iss never becomes a row. */
export const UNKNOWN_CLIENT = 'unknown';

export function createClientAuthLog(
  queries: Pick<ConsoleQueries, 'recordClientAuth'>,
  options: { flushMs?: number; now?: () => Date; onError?: (err: Error) => void } = {},
): ClientAuthLog {
  const now = options.now ?? (() => new Date());
  let pending = new Map<string, ClientAuthDelta>();
  const entry = (iss: string): ClientAuthDelta => {
    let d = pending.get(iss);
    if (!d) {
      d = { clientIss: iss, failures: 0 };
      pending.set(iss, d);
    }
    return d;
  };
  let inFlight: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    inFlight = inFlight.then(async () => {
      if (pending.size === 0) return;
      const batch = [...pending.values()];
      pending = new Map();
      try {
        await queries.recordClientAuth(batch);
      } catch (err) {
        // Kept for the next flush (merged with what arrived since).
        for (const d of batch) {
          const e = entry(d.clientIss);
          e.failures += d.failures;
          e.lastSuccessAt ??= d.lastSuccessAt;
          if (d.lastFailureAt && !e.lastFailureAt) {
            e.lastFailureAt = d.lastFailureAt;
            e.lastFailureReason = d.lastFailureReason;
          }
        }
        options.onError?.(err as Error);
      }
    });
    return inFlight;
  };
  const timer = setInterval(() => void flush(), options.flushMs ?? 5000);
  timer.unref();
  return {
    success(iss) {
      entry(iss).lastSuccessAt = now();
    },
    failure(reason, trustedIss) {
      const e = entry(trustedIss ?? UNKNOWN_CLIENT);
      e.lastFailureAt = now();
      e.lastFailureReason = reason;
      e.failures += 1;
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
