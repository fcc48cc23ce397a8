/**
 * Wiring of the FHIR write-back from the environment: which authentication, which FHIR server, and the
 * outbox worker over the store. Kept here so the application only calls `createFhirWriteback`.
 */
import { readFileSync } from 'node:fs';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../http/logger.js';
import type { Store } from '../store/store.js';
import { createFhirWriteAuth, type FhirWriteAuth, type FhirWriteAuthSettings } from './fhir-auth.js';
import { createObservationWriter, type ObservationWriter } from './observation-writer.js';
import { createWritebackOutbox, type WritebackOutbox, type WritebackOutboxOptions } from './outbox-worker.js';

/**
 * SMART Backend Services settings from the environment: FHIR_WRITE_TOKEN_URL, FHIR_WRITE_CLIENT_ID and
 * FHIR_WRITE_PRIVATE_KEY_FILE (PEM or JWK) together, optionally FHIR_WRITE_KEY_ID and FHIR_WRITE_SCOPE.
 * Returns undefined when none is set; throws naming what is missing when only some are.
 */
export function smartSettingsFromEnv(
  env: NodeJS.ProcessEnv,
  readFile: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): FhirWriteAuthSettings['smart'] {
  const tokenUrl = env.FHIR_WRITE_TOKEN_URL || undefined;
  const clientId = env.FHIR_WRITE_CLIENT_ID || undefined;
  const keyFile = env.FHIR_WRITE_PRIVATE_KEY_FILE || undefined;
  if (!tokenUrl && !clientId && !keyFile) return undefined;
  const missing = [
    !tokenUrl && 'FHIR_WRITE_TOKEN_URL',
    !clientId && 'FHIR_WRITE_CLIENT_ID',
    !keyFile && 'FHIR_WRITE_PRIVATE_KEY_FILE',
  ].filter(Boolean);
  if (missing.length > 0) throw new Error(`SMART Backend Services needs ${missing.join(', ')} as well`);
  if (!URL.canParse(tokenUrl as string) || !/^https?:$/.test(new URL(tokenUrl as string).protocol)) {
    throw new Error('FHIR_WRITE_TOKEN_URL must be an http(s) URL');
  }
  let privateKey: string;
  try {
    privateKey = readFile(keyFile as string);
  } catch (err) {
    throw new Error(
      `cannot read FHIR_WRITE_PRIVATE_KEY_FILE (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  return {
    tokenUrl: tokenUrl as string,
    clientId: clientId as string,
    privateKey,
    ...(env.FHIR_WRITE_KEY_ID ? { kid: env.FHIR_WRITE_KEY_ID } : {}),
    ...(env.FHIR_WRITE_SCOPE ? { scope: env.FHIR_WRITE_SCOPE } : {}),
  };
}

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
