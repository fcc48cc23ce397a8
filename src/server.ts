/**
 * The composition root: builds every dependency from the validated configuration (knowledge base, store,
 * trusted clients, services, demo FHIR server) and the app. Anything wrong here fails the start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from 'express';
import { createApp } from './app.js';
import {
  createDriftWatchRuntime,
  loadDriftBaseline,
  outboxRecentScores,
  type DriftWatchRuntime,
} from './calibration/drift-watch.js';
import { ehrProfile } from './cds/ehr-profiles.js';
import { loadClientsFile, type CdsClientInput } from './config/clients.js';
import type { Config } from './config/config.js';
import { createConsole, CONSOLE_TRY_ISS, type ConsoleDriftSource } from './console/index.js';
import { createImagingRouter } from './imaging/api.js';
import { createRadiologyLoop } from './pacs-watch/index.js';
import { loadCareTeamAssets } from './web/assets.js';
import { createCareTeamRouter } from './web/router.js';
import { createClientAuthenticator } from './http/auth/authenticator.js';
import type { Logger } from './http/logger.js';
import { countAuthFailure, createMetrics, type Metrics } from './http/metrics.js';
import { loadKnowledgeBase, type KnowledgeBase } from './knowledge/index.js';
import { createServices } from './services/index.js';
import { createAuditQueue } from './store/audit-queue.js';
import { openDb, postgresPool } from './store/db.js';
import { createFhirAccess } from './fhir/access.js';
import { createClientLimiter } from './http/rate-limit.js';
import { createMemoryState } from './store/memory-state.js';
import { ConsoleQueries } from './store/console-queries.js';
import { Store } from './store/store.js';
import { createDicomSrHandler, DICOM_SR_OUTBOX_KIND } from './writeback/dicom-sr.js';
import { createFhirWriteback } from './writeback/setup.js';

/** The repository root (holds cds-services/ and fhir-profiles/), whether run from src/ or dist/src/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'cds-services'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cds-services/ not found above the service code');
    dir = parent;
  }
  return dir;
}

/** The service version (package.json), shown by `GET /` and the OpenAPI document. */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
}

export interface Runtime {
  app: ReturnType<typeof createApp>;
  store: Store;
  kb: KnowledgeBase;
  metrics: Metrics;
  /** The calibration drift watch, when DRIFT_BASELINE_FILE is set (the console shows its status). */
  drift?: DriftWatchRuntime;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  now?: () => Date;
  /** Extra routers (the imaging API), mounted after the CDS routes. */
  mounts?: { path: string; router: Router; label: string }[];
  /**
   * The calibration drift watch, shown on the console's overview (optional; a watch created inside
   * createRuntime can be given with `consoleMount.setDriftSource` instead).
   */
  consoleDrift?: ConsoleDriftSource;
}

/** Builds the whole service from configuration. Throws on any configuration or knowledge-base problem. */
export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const kb = loadKnowledgeBase({
    dir: path.join(projectRoot(), 'cds-services'),
    overridesFile: config.knowledgeOverridesFile,
  });
  // Read before anything opens: a bad calibration baseline fails the start like a bad overrides file.
  const baseline = config.drift ? loadDriftBaseline(config.drift.baselineFile) : undefined;
  const clients: CdsClientInput[] = config.cdsClientsFile ? loadClientsFile(config.cdsClientsFile) : [];
  // Demo pieces (embedded FHIR server, Medplum, profile validator) are loaded only in demo mode.
  const demo = config.demo
    ? await (
        await import('./demo/index.js')
      ).startDemo({
        dataDir: config.dataDir,
        publicBaseUrl: config.publicBaseUrl,
        port: config.port,
        logger,
        careTeamClientId: config.careTeam.clientId,
      })
    : undefined;
  if (demo) clients.push(demo.client);

  const store = new Store(
    await openDb({
      databaseUrl: config.databaseUrl,
      dataDir: config.dataDir,
      startupTimeoutMs: config.databaseStartupTimeoutMs,
    }),
  );
  // ---- The informaticist's console (issue 13): OIDC login (demo: the demo authorization server), its
  // queries, the card catalogue and last client authentication, and "Try a patient", whose hook calls
  // read the test FHIR server only (a client identity that cannot authenticate over HTTP: no keys).
  const consoleTestFhirServer = config.console.testFhirServer ?? demo?.fhirBaseUrl;
  const consoleMount = createConsole({
    oidc:
      config.console.oidc ??
      (demo
        ? { issuer: demo.console.issuer, clientId: demo.console.clientId, scope: 'openid profile' }
        : undefined),
    roleClaim: config.console.roleClaim,
    sessionSecret: config.console.sessionSecret,
    sessionHours: config.console.sessionHours,
    publicBaseUrl: config.publicBaseUrl,
    queries: new ConsoleQueries(store.db),
    kb,
    knowledgeDir: path.join(projectRoot(), 'cds-services'),
    overridesFile: config.knowledgeOverridesFile,
    clients,
    testFhirServer: consoleTestFhirServer,
    drift: options.consoleDrift,
    logger,
    now,
  });
  const fhirAccess = createFhirAccess({
    clients: consoleTestFhirServer
      ? [...clients, { iss: CONSOLE_TRY_ISS, fhirServers: [consoleTestFhirServer] }]
      : clients,
    limits: config.fhirLimits,
  });
  // ---- end of the console block (its authenticator hooks and mount follow) ----
  const clientLimiter = await createClientLimiter({ ...config.clientLimits, pool: postgresPool(store.db) });
  const metrics = createMetrics();
  // Replicas share PostgreSQL, so the replay cache and card claims must live there. The embedded database
  // is one process by construction: in memory they cost no round trip per call.
  const memory = config.databaseUrl === undefined ? createMemoryState({ now }) : undefined;
  const shared = memory ?? store;
  const clientAuthenticator = createClientAuthenticator({
    clients,
    publicBaseUrl: config.publicBaseUrl,
    replayGuard: { claim: (iss, jti, expiresAt) => shared.claimJti(iss, jti, expiresAt) },
    logger,
    onFailure: (reason, trustedIss) => {
      countAuthFailure(metrics, reason, trustedIss);
      consoleMount.authLog.failure(reason, trustedIss);
    },
  });
  // The console records each successful client authentication too (in memory, flushed periodically).
  const authenticator = {
    authenticate: async (authorization: string | undefined, p: string) => {
      const client = await clientAuthenticator.authenticate(authorization, p);
      consoleMount.authLog.success(client.iss);
      return client;
    },
  };
  const profiles = new Map(clients.map((c) => [c.iss, ehrProfile(c)]));
  const services = createServices(kb, {
    careTeamBaseUrl: config.publicBaseUrl,
    patientViewRepeatHours: config.patientViewRepeatHours,
  });
  const audit = createAuditQueue(store, logger);

  // Durable write-back of measured Observations (and of the computed SR to the PACS), when configured.
  const writeback = config.fhirWrite
    ? await createFhirWriteback({
        baseUrl: config.fhirWrite.baseUrl,
        auth: { token: config.fhirWrite.token, smart: config.fhirWrite.smart },
        store,
        logger,
        registry: metrics.registry,
        pollMs: config.fhirWrite.outboxPollMs,
        timeoutMs: config.fhirTimeoutMs,
        handlers: { [DICOM_SR_OUTBOX_KIND]: createDicomSrHandler() },
      })
    : undefined;

  // ---- Calibration drift watch (issue 16) ----------------------------------------------------------
  // With a baseline from `vbq calibrate --baseline`, the scores this service measured (its write-back
  // outbox) are compared with the calibration cohort at start and then every DRIFT_CHECK_INTERVAL_MS;
  // results go to /metrics (cds_calibration_drift*), the log and the console overview.
  const drift =
    config.drift && baseline
      ? createDriftWatchRuntime({
          baseline,
          source: outboxRecentScores(store, baseline.metric),
          logger,
          registry: metrics.registry,
          settings: {
            intervalMs: config.drift.intervalMs,
            windowDays: config.drift.windowDays,
            thresholds: {
              alpha: config.drift.alpha,
              minMedianShift: config.drift.minMedianShift,
              minRecent: config.drift.minRecent,
            },
          },
          now,
        })
      : undefined;
  // The console's overview shows the watch's status (options.consoleDrift, when given, is kept).
  if (drift && !options.consoleDrift) consoleMount.setDriftSource(drift);
  // ------------------------------------------------------------------------------------------------------

  const mounts = [
    {
      path: '/imaging',
      label: '/imaging/*',
      router: createImagingRouter({
        authenticator,
        logger,
        writeback,
        dicomweb: config.dicomwebBaseUrl ? { baseUrl: config.dicomwebBaseUrl } : undefined,
        patientIdentifierSystem: config.fhirWrite?.patientIdentifierSystem ?? 'urn:dicom:patient-id',
        maxUploadBytes: config.imagingMaxUploadBytes,
        defaultTimezone: config.dicomDefaultTimezone,
        now,
      }),
    },
    ...(options.mounts ?? []),
  ];
  mounts.push(...(demo?.mounts ?? []));
  let careTeamClientId = config.careTeam.clientId;
  let careTeamFhirServers = config.careTeam.fhirServers;
  if (demo) {
    careTeamClientId ??= demo.careTeamClientId;
    careTeamFhirServers &&= [...careTeamFhirServers, demo.fhirBaseUrl];
  }

  // Under tsx the view is bundled in memory (esbuild) while the service starts; dist serves the prebuilt copy.
  const careTeamAssets = loadCareTeamAssets();
  careTeamAssets.catch((err: unknown) =>
    logger.error({ err: { message: (err as Error).message } }, 'care-team view bundle failed'),
  );
  mounts.push({
    path: '/care-team',
    label: '/care-team/*',
    router: createCareTeamRouter({
      kb,
      assets: careTeamAssets,
      clientId: careTeamClientId,
      scope: config.careTeam.scope,
      allowedIss: careTeamFhirServers,
      dxaLsc: config.careTeam.dxaLsc,
    }),
  });

  // --- Radiology loop (issue 17): with PACS_WATCH=on the watcher measures the ROI reports viewers save to
  // the PACS and writes the results through the write-back outbox (started with it below, unref'd timers,
  // stopped by close()); GET /imaging/worklist lists spine MR studies still waiting for a VBQ.
  const radiology = createRadiologyLoop({
    config,
    store,
    writeback,
    authenticator,
    logger: logger.child({ component: 'pacs-watch' }),
    now,
    metricsRegistry: metrics.registry,
  });
  const pacsWatcher = radiology.watcher;
  mounts.push(radiology.mount);
  consoleMount.setRadiologySource(radiology.consoleSource);
  // --- end radiology loop

  const app = createApp({
    config,
    logger,
    store,
    services,
    authenticator,
    console: consoleMount,
    cardClaims: shared,
    profileOf: (iss) => profiles.get(iss) ?? ehrProfile(),
    audit,
    metrics,
    now,
    readinessChecks: { knowledgeBase: () => kb.cutoffs.length > 0 },
    mounts,
    fhirAccess,
    clientLimiter,
    publicBaseUrl: config.publicBaseUrl,
    version: packageVersion(),
  });

  // Expired replay-cache and deduplication rows are purged in the background.
  const purge = setInterval(() => {
    store
      .purgeExpired(now())
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'purge failed'));
  }, 10 * 60_000);
  purge.unref();

  writeback?.start();
  drift?.start();

  pacsWatcher?.start();

  return {
    app,
    store,
    kb,
    metrics,
    drift,
    async close() {
      clearInterval(purge);
      await drift?.stop();
      // The write in flight finishes (or its lease runs out) before the store closes: nothing is lost.
      await pacsWatcher?.stop();
      await writeback?.stop();
      await audit.close();
      await consoleMount.close();
      memory?.close();
      await store.close();
    },
  };
}
