/**
 * The PACS watcher from configuration (PACS_WATCH=on): discovery through QIDO-RS, or through Orthanc's
 * change feed with PACS_WATCH_ORTHANC=on, measuring into the write-back outbox.
 */
import type { Router } from 'express';
import type { Authenticator } from '../app.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../http/logger.js';
import type { Store } from '../store/store.js';
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import { orthancChangesSource, qidoSource } from './sources.js';
import { createWorklistRouter } from './router.js';
import { WatchStore } from './watch-store.js';
import { buildWorklist, type MeasurementRequest } from './worklist.js';
import { createPacsWatcher, type MeasuredEvent, type PacsWatcher } from './watcher.js';

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
}): PacsWatcher | undefined {
  const { config } = deps;
  if (!config.pacsWatch || !config.dicomwebBaseUrl || !config.fhirWrite) return undefined;
  const dicomweb = { baseUrl: config.dicomwebBaseUrl };
  const ws = new WatchStore(deps.store.db);
  const source = config.pacsWatch.orthancUrl
    ? orthancChangesSource({ url: config.pacsWatch.orthancUrl }, ws)
    : qidoSource(dicomweb, ws);
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
  writeback?: Pick<WritebackOutbox, 'enqueueObservation' | 'enqueueObservationAmendment' | 'enqueueDicomSr'>;
  authenticator: Authenticator;
  logger: Logger;
  now?: () => Date;
  requests?: () => Promise<MeasurementRequest[]>;
  onMeasured?: (event: MeasuredEvent) => Promise<void>;
}): { watcher?: PacsWatcher; mount: { path: string; label: string; router: Router } } {
  const { config } = deps;
  const watcher = deps.writeback
    ? createPacsWatcherFromConfig({ ...deps, writeback: deps.writeback })
    : undefined;
  const ws = new WatchStore(deps.store.db);
  const dicomweb = config.dicomwebBaseUrl ? { baseUrl: config.dicomwebBaseUrl } : undefined;
  const router = createWorklistRouter({
    authenticator: deps.authenticator,
    ...(dicomweb
      ? {
          worklist: (opts: { limit?: number }) =>
            buildWorklist({
              dicomweb,
              store: ws,
              ...(deps.requests ? { requests: deps.requests } : {}),
              ...(config.viewerUrlTemplate ? { viewerUrlTemplate: config.viewerUrlTemplate } : {}),
              ...opts,
            }),
        }
      : {}),
  });
  return {
    ...(watcher ? { watcher } : {}),
    mount: { path: '/imaging', label: '/imaging/*', router },
  };
}
