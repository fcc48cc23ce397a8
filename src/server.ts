/**
 * The composition root: builds every dependency from the validated configuration (knowledge base, store,
 * trusted clients, services, demo FHIR server) and the app. Anything wrong here fails the start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from 'express';
import { createApp } from './app.js';
import { ehrProfile } from './cds/ehr-profiles.js';
import { loadClientsFile, type CdsClientInput } from './config/clients.js';
import type { Config } from './config/config.js';
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
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger: Logger;
  now?: () => Date;
  /** Extra routers (the imaging API), mounted after the CDS routes. */
  mounts?: { path: string; router: Router; label: string }[];
}

/** Builds the whole service from configuration. Throws on any configuration or knowledge-base problem. */
export async function createRuntime(config: Config, options: RuntimeOptions): Promise<Runtime> {
  const { logger } = options;
  const now = options.now ?? (() => new Date());
  const kb = loadKnowledgeBase({
    dir: path.join(projectRoot(), 'cds-services'),
    overridesFile: config.knowledgeOverridesFile,
  });
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
  const fhirAccess = createFhirAccess({ clients, limits: config.fhirLimits });
  const clientLimiter = await createClientLimiter({ ...config.clientLimits, pool: postgresPool(store.db) });
  const metrics = createMetrics();
  // Replicas share PostgreSQL, so the replay cache and card claims must live there. The embedded database
  // is one process by construction: in memory they cost no round trip per call.
  const memory = config.databaseUrl === undefined ? createMemoryState({ now }) : undefined;
  const shared = memory ?? store;
  const authenticator = createClientAuthenticator({
    clients,
    publicBaseUrl: config.publicBaseUrl,
    replayGuard: { claim: (iss, jti, expiresAt) => shared.claimJti(iss, jti, expiresAt) },
    logger,
    onFailure: (reason, trustedIss) => countAuthFailure(metrics, reason, trustedIss),
  });
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
  });
  const pacsWatcher = radiology.watcher;
  mounts.push(radiology.mount);
  // --- end radiology loop

  const app = createApp({
    config,
    logger,
    store,
    services,
    authenticator,
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

  pacsWatcher?.start();

  return {
    app,
    store,
    kb,
    metrics,
    async close() {
      clearInterval(purge);
      // The write in flight finishes (or its lease runs out) before the store closes: nothing is lost.
      await pacsWatcher?.stop();
      await writeback?.stop();
      await audit.close();
      memory?.close();
      await store.close();
    },
  };
}
