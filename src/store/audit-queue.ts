/**
 * Audit rows written off the request path: a hook call appends its row to a queue that is flushed in
 * batches (one INSERT per batch) every `flushMs`, or at once when `maxBatch` rows wait. A failed flush
 * keeps its rows for the next attempt; `close()` flushes everything, so a clean shutdown loses nothing.
 * Only a crash can lose the rows of the last `flushMs`; the access log still has one line per call.
 */
import type { Logger } from '../http/logger.js';
import type { AuditRow, Store } from './store.js';

export interface AuditQueueOptions {
  flushMs?: number;
  maxBatch?: number;
  /** Rows kept while the database is unreachable; beyond it the oldest are dropped with an error log. */
  maxPending?: number;
}

export interface AuditQueue {
  record(row: AuditRow): void;
  /** Writes every queued row now. */
  flush(): Promise<void>;
  /** Stops the timer and flushes what is left. */
  close(): Promise<void>;
  pending(): number;
}

export function createAuditQueue(
  store: Pick<Store, 'recordAudits'>,
  logger: Logger,
  options: AuditQueueOptions = {},
): AuditQueue {
  const flushMs = options.flushMs ?? 250;
  const maxBatch = options.maxBatch ?? 200;
  const maxPending = options.maxPending ?? 100_000;
  let queue: AuditRow[] = [];
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const writeOnce = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.slice(0, maxBatch);
      try {
        await store.recordAudits(batch);
        queue = queue.slice(batch.length);
      } catch (err) {
        logger.error(
          { err: { message: (err as Error).message }, pending: queue.length },
          'audit write failed; will retry',
        );
        return;
      }
    }
  };
  const flush = (): Promise<void> => {
    // One writer at a time; a flush asked for while one runs waits for it and then writes the rest.
    const next = (inFlight ?? Promise.resolve()).then(writeOnce);
    inFlight = next.finally(() => {
      if (inFlight === tracked) inFlight = undefined;
    });
    const tracked = inFlight;
    return next;
  };
  const schedule = (): void => {
    if (timer !== undefined || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush().then(() => {
        if (queue.length > 0) schedule();
      });
    }, flushMs);
    timer.unref();
  };

  return {
    record(row) {
      queue.push(row);
      if (queue.length > maxPending) {
        const dropped = queue.length - maxPending;
        queue = queue.slice(dropped);
        logger.error({ dropped }, 'audit queue full; oldest rows dropped');
      }
      if (queue.length >= maxBatch) void flush();
      else schedule();
    },
    flush,
    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await flush();
      if (queue.length > 0) await flush();
    },
    pending: () => queue.length,
  };
}
