/**
 * Wiring of the FHIR write-back from its configuration: which authentication, which FHIR server, and the
 * outbox worker over the store. Kept here so the application only calls `createFhirWriteback`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../http/logger.js';
import type { Store } from '../store/store.js';
import { createFhirWriteAuth, type FhirWriteAuth, type FhirWriteAuthSettings } from './fhir-auth.js';
import { createObservationWriter, type ObservationWriter } from './observation-writer.js';
import { createWritebackOutbox, type WritebackOutbox, type WritebackOutboxOptions } from './outbox-worker.js';

export interface FhirWritebackOptions extends Omit<WritebackOutboxOptions, 'writer' | 'store' | 'logger'> {
  /** FHIR_WRITE_BASE_URL. */
  baseUrl: string;
  auth: FhirWriteAuthSettings;
  store: Store;
  logger: Logger;
  /** Per FHIR request (the outbox lease must comfortably exceed a few of these). */
  timeoutMs?: number;
  /** When given, write-back counters and outbox gauges are registered here. */
  registry?: Registry;
}

export interface FhirWriteback extends WritebackOutbox {
  auth: FhirWriteAuth;
  writer: ObservationWriter;
}

/** Builds authentication, writer and outbox (not started: call `start()`, and `stop()` on shutdown). */
export async function createFhirWriteback(options: FhirWritebackOptions): Promise<FhirWriteback> {
  const { baseUrl, auth: authSettings, timeoutMs, registry, ...outboxOptions } = options;
  const auth = await createFhirWriteAuth(authSettings, timeoutMs ? { timeoutMs } : {});
  const writer = createObservationWriter({ baseUrl, auth, ...(timeoutMs ? { timeoutMs } : {}) });
  let onResult = outboxOptions.onResult;
  if (registry) {
    const metrics = registerWritebackMetrics(registry, options.store);
    const previous = onResult;
    onResult = (o) => {
      metrics.attempts.inc({ kind: o.kind, outcome: o.outcome, code: o.code ?? 'none' });
      previous?.(o);
    };
  }
  const outbox = createWritebackOutbox({ ...outboxOptions, ...(onResult ? { onResult } : {}), writer });
  return { ...outbox, auth, writer };
}

export interface WritebackMetrics {
  attempts: Counter<'kind' | 'outcome' | 'code'>;
  items: Gauge<'status'>;
}

/**
 * `writeback_attempts_total{kind,outcome,code}` and `writeback_outbox_items{status}` (read from the store
 * at scrape time, so every replica reports the shared queue).
 */
export function registerWritebackMetrics(registry: Registry, store: Store): WritebackMetrics {
  const attempts = new Counter({
    name: 'writeback_attempts_total',
    help: 'Write-back attempts by outbox kind, outcome (done, retry, dead) and error code',
    labelNames: ['kind', 'outcome', 'code'],
    registers: [registry],
  });
  const items = new Gauge({
    name: 'writeback_outbox_items',
    help: 'Outbox items by status (pending, done, dead)',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      try {
        const counts = await store.outboxCounts();
        for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
      } catch {
        // A scrape while the database is unavailable reports the last known values.
      }
    },
  });
  return { attempts, items };
}
