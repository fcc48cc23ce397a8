/**
 * The PACS watcher from configuration (PACS_WATCH=on): discovery through QIDO-RS, or through Orthanc's
 * change feed with PACS_WATCH_ORTHANC=on, measuring into the write-back outbox.
 */
import type { Router } from 'express';
import type { Registry } from 'prom-client';
import type { Authenticator } from '../app.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../http/logger.js';
import { pacsWatchMetrics } from '../http/metrics.js';
import type { Store } from '../store/store.js';
import type { FhirWriteAuth } from '../writeback/fhir-auth.js';
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import {
  createTaskCompletionHandler,
  openMeasurementTasks,
  TASK_COMPLETE_OUTBOX_KIND,
  type TaskCompletionPayload,
} from '../writeback/task-completion.js';
import { orthancChangesSource, qidoSource } from './sources.js';
import { createWorklistRouter } from './router.js';
import { REPORT_STATUSES, WatchStore, type ReportRow, type ReportStatus } from './watch-store.js';
import { buildWorklist, type MeasurementRequest, type WorklistEntry } from './worklist.js';
import { createPacsWatcher, type MeasuredEvent, type PacsWatcher } from './watcher.js';

/** The worklist and the watcher's reports, for a page that shows them (the console's Radiology page). */
export interface RadiologyView {
  worklist?: () => Promise<{ entries: WorklistEntry[] }>;
  reports(options: { statuses?: string[]; limit?: number }): Promise<ReportRow[]>;
}

function isReportStatus(value: string): value is ReportStatus {
  return (REPORT_STATUSES as readonly string[]).includes(value);
}

export type { MeasuredEvent, PacsWatcher } from './watcher.js';
export { WatchStore } from './watch-store.js';
export { buildWorklist, type MeasurementRequest, type WorklistEntry } from './worklist.js';

export function createPacsWatcherFromConfig(deps: {
  config: Pick<Config, 'pacsWatch' | 'dicomwebBaseUrl' | 'fhirWrite' | 'dicomDefaultTimezone'>;
  store: Store;
  writeback: Pick<WritebackOutbox, 'enqueueObservation' | 'enqueueObservationAmendment' | 'enqueueDicomSr'>;
  logger: Logger;
  now?: () => Date;
  onMeasured?: (event: MeasuredEvent) => Promise<void>;
  /** The service's /metrics registry: the watcher's cds_pacs_watch_* counters go there. */
  metricsRegistry?: Registry;
}): PacsWatcher | undefined {
  const { config } = deps;
  if (!config.pacsWatch || !config.dicomwebBaseUrl || !config.fhirWrite) return undefined;
  const dicomweb = { baseUrl: config.dicomwebBaseUrl };
  const ws = new WatchStore(deps.store.db);
  const source = config.pacsWatch.orthancUrl
    ? orthancChangesSource({ url: config.pacsWatch.orthancUrl }, ws)
    : qidoSource(dicomweb, ws, { sweepIntervalMs: config.pacsWatch.sweepIntervalMs });
  return createPacsWatcher({
    store: deps.store,
    source,
    dicomweb,
    writeback: deps.writeback,
    logger: deps.logger,
    patientIdentifierSystem: config.fhirWrite.patientIdentifierSystem,
    intervalMs: config.pacsWatch.intervalMs,
    ...(config.dicomDefaultTimezone ? { defaultTimezone: config.dicomDefaultTimezone } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.onMeasured ? { onMeasured: deps.onMeasured } : {}),
    ...(deps.metricsRegistry ? { metrics: pacsWatchMetrics(deps.metricsRegistry) } : {}),
  });
}

/**
 * Everything the radiology loop adds to the service: the watcher (when PACS_WATCH=on) and the worklist
 * route. `requests` lists open measurement requests (Tasks) for the worklist, when known.
 */
export function createRadiologyLoop(deps: {
  config: Pick<
    Config,
    'pacsWatch' | 'dicomwebBaseUrl' | 'fhirWrite' | 'dicomDefaultTimezone' | 'viewerUrlTemplate'
  >;
  store: Store;
  /** The write-back outbox and its FHIR credentials (undefined without FHIR_WRITE_BASE_URL). */
  writeback?: WritebackOutbox & { auth: FhirWriteAuth };
  authenticator: Authenticator;
  logger: Logger;
  now?: () => Date;
  fhirTimeoutMs?: number;
  /** The service's /metrics registry (cds_pacs_watch_* counters). */
  metricsRegistry?: Registry;
}): {
  watcher?: PacsWatcher;
  mount: { path: string; label: string; router: Router };
  /** What the console's Radiology page reads (only when the watcher or a PACS is configured). */
  consoleSource?: RadiologyView;
} {
  const { config, writeback, logger } = deps;
  // The Task loop: a measurement completes the open VBQ measurement Tasks of its study (an outbox item
  // after the Observations), and the worklist shows the open Tasks' studies first.
  const fhir =
    writeback && config.fhirWrite
      ? {
          baseUrl: config.fhirWrite.baseUrl,
          auth: writeback.auth,
          ...(deps.fhirTimeoutMs ? { timeoutMs: deps.fhirTimeoutMs } : {}),
          ...(deps.now ? { now: deps.now } : {}),
        }
      : undefined;
  if (writeback && fhir) writeback.addHandler(TASK_COMPLETE_OUTBOX_KIND, createTaskCompletionHandler(fhir));
  const watcher = writeback
    ? createPacsWatcherFromConfig({
        ...deps,
        writeback,
        onMeasured: async (event) => {
          const payload: TaskCompletionPayload = {
            studyInstanceUID: event.studyInstanceUID,
            observations: event.observations.map((o) => o.identifier),
          };
          if (payload.observations.length > 0)
            await writeback.enqueue(TASK_COMPLETE_OUTBOX_KIND, event.srSopInstanceUID, payload);
        },
      })
    : undefined;
  const requests = fhir
    ? async (): Promise<MeasurementRequest[]> => {
        try {
          return await openMeasurementTasks(fhir);
        } catch (err) {
          // The worklist still answers without them (requested studies then show in date order).
          logger.warn(
            { err: { code: (err as { code?: string }).code ?? 'error' } },
            'open Tasks not readable',
          );
          return [];
        }
      }
    : undefined;
  const ws = new WatchStore(deps.store.db);
  const dicomweb = config.dicomwebBaseUrl ? { baseUrl: config.dicomwebBaseUrl } : undefined;
  const worklist = dicomweb
    ? (opts: { limit?: number }) =>
        buildWorklist({
          dicomweb,
          store: ws,
          ...(requests ? { requests } : {}),
          ...(config.viewerUrlTemplate ? { viewerUrlTemplate: config.viewerUrlTemplate } : {}),
          ...opts,
        })
    : undefined;
  const router = createWorklistRouter({
    authenticator: deps.authenticator,
    ...(worklist ? { worklist } : {}),
  });
  const consoleSource: RadiologyView | undefined =
    watcher || worklist
      ? {
          ...(worklist ? { worklist: () => worklist({}) } : {}),
          reports: (opts) =>
            ws.reports({
              ...(opts.statuses
                ? { statuses: opts.statuses.filter((x): x is ReportStatus => isReportStatus(x)) }
                : {}),
              ...(opts.limit ? { limit: opts.limit } : {}),
            }),
        }
      : undefined;
  return {
    ...(consoleSource ? { consoleSource } : {}),
    ...(watcher ? { watcher } : {}),
    mount: { path: '/imaging', label: '/imaging/*', router },
  };
}
