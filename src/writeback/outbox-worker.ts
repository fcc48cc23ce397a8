/**
 * Durable write-back: FHIR Observations (and DICOM SRs for the PACS) are queued in the store's outbox and written by a worker that
 * leases one item at a time (so two workers, or two replicas, never write the same item at once), retries
 * failures with exponential backoff and jitter, and gives up (`dead`) only on permanent errors or after
 * `maxAttempts`. All state lives in the store, so a restarted worker carries on where the last one
 * stopped; the write itself is a conditional create, so even a lease that ran out cannot duplicate.
 */
import type { Observation } from 'fhir/r4.js';
import { AppError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { OutboxItem, Store } from '../store/store.js';
import {
  createDicomSrHandler,
  dicomSrDedupeKey,
  dicomSrPayload,
  DICOM_SR_OUTBOX_KIND,
  type DicomSrInput,
} from './dicom-sr.js';
import {
  measurementIdentifierOf,
  placeholderSubject,
  WriteError,
  type ObservationWriter,
  type WriteResult,
} from './observation-writer.js';

/** Outbox `kind` of FHIR Observation writes. */
export const OBSERVATION_OUTBOX_KIND = 'fhir-observation';
/** Outbox `kind` of amendments (a corrected measurement replacing the Observation with its identifier). */
export const OBSERVATION_AMEND_OUTBOX_KIND = 'fhir-observation-amend';

export interface BackoffPolicy {
  /** Delay before the first retry. */
  baseMs: number;
  /** Ceiling of the exponential delay. */
  maxMs: number;
  /** Attempts in all (the first one included) before an item is given up as `dead`. */
  maxAttempts: number;
}

/** About ten hours of retries: long enough to ride out a FHIR server outage overnight. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 5_000, maxMs: 15 * 60_000, maxAttempts: 50 };

/**
 * Delay after the `failedAttempts`-th failure: `baseMs * 2^(n-1)`, capped at `maxMs`, scaled into
 * [50%, 100%] by `random()` so workers that failed together do not retry together.
 */
export function backoffDelay(failedAttempts: number, policy: BackoffPolicy, random: () => number): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failedAttempts - 1));
  const r = Math.min(1, Math.max(0, random()));
  return Math.round(exp * (0.5 + 0.5 * r));
}

/** What happened to one outbox item in one attempt (for metrics and tests). */
export interface OutboxOutcome {
  id: number;
  kind: string;
  outcome: 'done' | 'retry' | 'dead';
  /** Attempts made so far, this one included. */
  attempts: number;
  durationMs: number;
  /** Error code (`WriteError.code`, or `error` for unclassified failures). */
  code?: string;
  /** Why it failed; free of patient data and credentials. */
  reason?: string;
  nextAttemptAt?: Date;
  result?: unknown;
}

/**
 * Processes one payload of a kind. Throw an error with `retryable: false` for permanent failures; any
 * other error is retried.
 */
export type OutboxHandler = (payload: unknown, signal: AbortSignal) => Promise<unknown>;

export interface WritebackOutboxOptions {
  store: Store;
  writer: ObservationWriter;
  logger: Logger;
  now?: () => Date;
  /** How long a leased item is reserved for one worker; an attempt is cut off before it runs out. */
  leaseMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Idle wait between polls of the outbox when it had nothing due. */
  pollMs?: number;
  /** Items processed per `runOnce` at most. */
  batchSize?: number;
  /** Jitter source in [0, 1). */
  random?: () => number;
  /**
   * Handlers for further outbox kinds, so one worker serves the whole outbox. DICOM SR write-back
   * (`dicom-sr`) is handled by default; a handler given here for it replaces the default.
   */
  handlers?: Record<string, OutboxHandler>;
  onResult?: (outcome: OutboxOutcome) => void;
}

export interface WritebackOutbox {
  /** Queues an Observation; the same measurement identifier is queued once (`created: false` after). */
  enqueueObservation(observation: Observation): Promise<{ id: number; created: boolean }>;
  /**
   * Queues an amendment of the Observation with this one's identifier (status `amended`); `revision`
   * names the correction (e.g. the corrected report's SOP Instance UID), so each correction is queued once.
   */
  enqueueObservationAmendment(
    observation: Observation,
    revision: string,
  ): Promise<{ id: number; created: boolean }>;
  /** Queues a DICOM SR for STOW-RS to a PACS; the same SOPInstanceUID is queued once. */
  enqueueDicomSr(sr: DicomSrInput): Promise<{ id: number; created: boolean }>;
  /** Queues an item of another kind (its handler registered with `addHandler`); once per dedupe key. */
  enqueue(kind: string, dedupeKey: string, payload: unknown): Promise<{ id: number; created: boolean }>;
  /** Registers the handler of a further kind after creation (e.g. the radiology loop's Task completion). */
  addHandler(kind: string, handler: OutboxHandler): void;
  /** Processes what is due now (up to `batchSize` items) and reports what happened. */
  runOnce(): Promise<{ done: number; retried: number; dead: number }>;
  /** Starts polling in the background; enqueueing wakes it up at once. */
  start(): void;
  /** Stops polling and waits for the item in flight (none is abandoned half-written). */
  stop(): Promise<void>;
}

/** The outbox dedupe key of an Observation: its kind and measurement identifier. */
export function observationDedupeKey(observation: Observation): string {
  const id = measurementIdentifierOf(observation);
  if (!id) throw new AppError('invalid-resource', 'Observation has no identifier with system and value');
  return `${OBSERVATION_OUTBOX_KIND}:${id.system}|${id.value}`;
}

function isRetryable(err: unknown): boolean {
  const flag = (err as { retryable?: unknown } | null)?.retryable;
  return typeof flag === 'boolean' ? flag : true;
}

function describeError(err: unknown): { code: string; reason: string } {
  if (err instanceof WriteError) return { code: err.code, reason: err.message };
  const code = (err as { code?: unknown } | null)?.code;
  // Unclassified errors may carry anything in their message; only the class name is kept.
  return {
    code: typeof code === 'string' ? code : 'error',
    reason: `unexpected ${(err as Error | null)?.name ?? 'error'}`,
  };
}

/** Creates the outbox for Observation write-back; call `start()` to process it in the background. */
export function createWritebackOutbox(options: WritebackOutboxOptions): WritebackOutbox {
  const { store, writer, logger } = options;
  const now = options.now ?? (() => new Date());
  const leaseMs = options.leaseMs ?? 60_000;
  const pollMs = options.pollMs ?? 1_000;
  const batchSize = options.batchSize ?? 20;
  const random = options.random ?? Math.random;
  const backoff: BackoffPolicy = { ...DEFAULT_BACKOFF, ...options.backoff };
  const handlers: Record<string, OutboxHandler> = {
    [DICOM_SR_OUTBOX_KIND]: createDicomSrHandler(),
    ...options.handlers,
    [OBSERVATION_OUTBOX_KIND]: (payload, signal) => writer.write(payload as Observation, signal),
    [OBSERVATION_AMEND_OUTBOX_KIND]: (payload, signal) => {
      if (!writer.amend) {
        throw new WriteError('invalid-observation', 'this writer cannot amend Observations', false);
      }
      return writer.amend(payload as Observation, signal);
    },
  };

  const inFlight = new Set<Promise<unknown>>();
  const warnedKinds = new Set<string>();
  let loop: Promise<void> | undefined;
  let stopping = false;
  let wake: (() => void) | undefined;

  function report(outcome: OutboxOutcome): void {
    try {
      options.onResult?.(outcome);
    } catch {
      // A metrics hook must not break the write-back.
    }
  }

  async function processItem(item: OutboxItem): Promise<OutboxOutcome | undefined> {
    const handler = handlers[item.kind];
    if (!handler) {
      // Not ours: its lease simply runs out and the worker that handles this kind picks it up.
      if (!warnedKinds.has(item.kind)) {
        warnedKinds.add(item.kind);
        logger.warn(
          { outboxId: item.id, kind: item.kind },
          'outbox item of a kind this worker has no handler for',
        );
      }
      return undefined;
    }
    const started = Date.now();
    const attempts = item.attempts + 1;
    // Finish (or fail) before the lease runs out, so no other worker writes this item at the same time.
    const deadline = AbortSignal.timeout(Math.max(1, Math.floor(leaseMs * 0.8)));
    let result: unknown;
    try {
      result = await handler(item.payload, deadline);
    } catch (err) {
      return recordFailure(item, attempts, started, err);
    }
    // Outside the try: a store failure here must not be booked as a failed write (the write succeeded;
    // if the item stays leased, its next attempt finds the Observation and completes).
    await store.completeOutbox(item.id, result);
    const outcome: OutboxOutcome = {
      id: item.id,
      kind: item.kind,
      outcome: 'done',
      attempts,
      durationMs: Date.now() - started,
      result,
    };
    logger.info(
      {
        outboxId: item.id,
        kind: item.kind,
        attempts,
        written: (result as WriteResult | undefined)?.outcome,
      },
      'write-back done',
    );
    return outcome;
  }

  async function recordFailure(
    item: OutboxItem,
    attempts: number,
    started: number,
    err: unknown,
  ): Promise<OutboxOutcome> {
    const { code, reason } = describeError(err);
    const failed = (outcome: 'dead' | 'retry', why: string): OutboxOutcome => ({
      id: item.id,
      kind: item.kind,
      outcome,
      attempts,
      durationMs: Date.now() - started,
      code,
      reason: why,
    });
    const permanent = !isRetryable(err);
    const exhausted = attempts >= backoff.maxAttempts;
    if (permanent || exhausted) {
      const why = permanent ? reason : `gave up after ${attempts} attempts; last: ${reason}`;
      await store.failOutbox(item.id, `${code}: ${why}`, null);
      logger.error({ outboxId: item.id, kind: item.kind, attempts, code, reason: why }, 'write-back dead');
      return failed('dead', why);
    }
    const serverWait = err instanceof WriteError ? (err.retryAfterMs ?? 0) : 0;
    const delay = Math.max(backoffDelay(attempts, backoff, random), serverWait);
    const nextAttemptAt = new Date(now().getTime() + delay);
    await store.failOutbox(item.id, `${code}: ${reason}`, nextAttemptAt);
    logger.warn(
      { outboxId: item.id, kind: item.kind, attempts, code, reason, retryInMs: delay },
      'write-back failed, will retry',
    );
    return { ...failed('retry', reason), nextAttemptAt };
  }

  async function runOnce(): Promise<{ done: number; retried: number; dead: number }> {
    const counts = { done: 0, retried: 0, dead: 0 };
    // One item per lease: a stopping worker then holds no leases it will not use.
    for (let i = 0; i < batchSize && !stopping; i++) {
      const [item] = await store.leaseDue<unknown>(now(), 1, leaseMs);
      if (!item) break;
      const work = processItem(item);
      inFlight.add(work);
      let outcome: OutboxOutcome | undefined;
      try {
        outcome = await work;
      } finally {
        inFlight.delete(work);
      }
      if (!outcome) continue;
      report(outcome);
      if (outcome.outcome === 'done') counts.done++;
      else if (outcome.outcome === 'retry') counts.retried++;
      else counts.dead++;
    }
    return counts;
  }

  function idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(finish, ms);
      timer.unref();
      function finish(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = finish;
    });
  }

  async function pollLoop(): Promise<void> {
    let failures = 0;
    while (!stopping) {
      let busy = false;
      try {
        const r = await runOnce();
        busy = r.done + r.retried + r.dead >= batchSize;
        failures = 0;
      } catch (err) {
        // The store itself failed (database down): wait longer each time, up to the backoff ceiling.
        failures++;
        logger.error({ err: { name: (err as Error).name }, failures }, 'outbox poll failed');
      }
      if (stopping) break;
      if (!busy) {
        await idle(failures > 0 ? Math.min(backoff.maxMs, pollMs * 2 ** Math.min(failures, 10)) : pollMs);
      }
    }
  }

  return {
    async enqueueObservation(observation) {
      if (observation?.resourceType !== 'Observation') {
        throw new AppError('invalid-resource', 'only Observations can be queued for FHIR write-back');
      }
      const dedupeKey = observationDedupeKey(observation);
      if (!observation.subject?.reference && !placeholderSubject(observation.subject)) {
        throw new AppError(
          'invalid-resource',
          'Observation needs a subject reference or a Patient identifier',
        );
      }
      const queued = await store.enqueue(OBSERVATION_OUTBOX_KIND, dedupeKey, observation, now());
      wake?.();
      return queued;
    },
    async enqueueObservationAmendment(observation, revision) {
      if (observation?.resourceType !== 'Observation' || observation.status !== 'amended') {
        throw new AppError(
          'invalid-resource',
          'only Observations with status amended can be queued as amendments',
        );
      }
      if (!observation.subject?.reference && !placeholderSubject(observation.subject)) {
        throw new AppError(
          'invalid-resource',
          'Observation needs a subject reference or a Patient identifier',
        );
      }
      const dedupeKey = `${OBSERVATION_AMEND_OUTBOX_KIND}:${observationDedupeKey(observation).slice(OBSERVATION_OUTBOX_KIND.length + 1)}|${revision}`;
      const queued = await store.enqueue(OBSERVATION_AMEND_OUTBOX_KIND, dedupeKey, observation, now());
      wake?.();
      return queued;
    },
    async enqueue(kind, dedupeKey, payload) {
      if (kind === OBSERVATION_OUTBOX_KIND || kind === OBSERVATION_AMEND_OUTBOX_KIND) {
        throw new AppError('invalid-resource', 'Observations are queued with enqueueObservation');
      }
      const queued = await store.enqueue(kind, `${kind}:${dedupeKey}`, payload, now());
      wake?.();
      return queued;
    },
    addHandler(kind, handler) {
      if (kind === OBSERVATION_OUTBOX_KIND || kind === OBSERVATION_AMEND_OUTBOX_KIND) {
        throw new Error(`the ${kind} handler is the writer's`);
      }
      handlers[kind] = handler;
    },
    async enqueueDicomSr(sr) {
      const queued = await store.enqueue(
        DICOM_SR_OUTBOX_KIND,
        dicomSrDedupeKey(sr.sopInstanceUID),
        dicomSrPayload(sr),
        now(),
      );
      wake?.();
      return queued;
    },
    runOnce,
    start() {
      if (loop) return;
      stopping = false;
      loop = pollLoop();
    },
    async stop() {
      stopping = true;
      wake?.();
      await loop;
      loop = undefined;
      await Promise.allSettled([...inFlight]);
      stopping = false;
    },
  };
}
