/**
 * The composition root: builds every dependency from the validated configuration (knowledge base, store,
 * trusted clients, services, demo FHIR server) and the app. Anything wrong here fails the start.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle } from 'fhir/r4.js';
import type { Router } from 'express';
import { createApp } from './app.js';
import { loadClientsFile, type CdsClientInput } from './config/clients.js';
import type { Config } from './config/config.js';
import { demoClient } from './demo/demo-client.js';
import { createEmbeddedFhirServer } from './demo/fhir-server/server.js';
import { createImagingRouter } from './imaging/api.js';
import { loadCareTeamAssets } from './web/assets.js';
import { createCareTeamRouter } from './web/router.js';
import { deferredRouter } from './web/deferred-router.js';
import { DEMO_CARE_TEAM_CLIENT_ID } from './demo/auth-server/constants.js';
import { demoPatients, readDemoSeed } from './demo/seed/index.js';
import { getProfileValidator } from './demo/profile-validator/validator.js';
import { createClientAuthenticator } from './http/auth/authenticator.js';
import type { Logger } from './http/logger.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { loadKnowledgeBase, prefetchTemplates, type KnowledgeBase } from './knowledge/index.js';
import { createEvaluator, createRelevanceCheck } from './rules/index.js';
import { buildServices } from './services/definitions.js';
import { openDb } from './store/db.js';
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

/** The demo patients' records as the demo FHIR server holds them (synthetic data only). */
export function loadDemoSeed(): Bundle[] {
  return demoPatients().map((p) => ({
    resourceType: 'Bundle',
    type: 'collection',
    entry: readDemoSeed(p.id).stored.map((resource) => ({ resource })),
  }));
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
  if (config.demo) clients.push(await demoClient(config.dataDir));

  const store = new Store(await openDb({ databaseUrl: config.databaseUrl, dataDir: config.dataDir }));
  const metrics = createMetrics();
  const authenticator = createClientAuthenticator({
    clients,
    publicBaseUrl: config.publicBaseUrl,
    replayGuard: { claim: (iss, jti, expiresAt) => store.claimJti(iss, jti, expiresAt) },
    logger,
  });
  const services = buildServices({
    prefetch: prefetchTemplates(kb),
    evaluate: createEvaluator(kb),
    isRelevant: createRelevanceCheck(kb),
  });

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
        store,
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
  let careTeamClientId = config.careTeam.clientId;
  let careTeamFhirServers = config.careTeam.fhirServers;
  if (config.demo) {
    // The demo SMART authorization server (oidc-provider, loaded only in demo mode) in front of the
    // embedded FHIR server, which then holds requests carrying its tokens to them. It starts in the
    // background; early requests wait for it.
    careTeamClientId ??= DEMO_CARE_TEAM_CLIENT_ID;
    const auth = import('./demo/auth-server/index.js').then((m) =>
      m.createDemoAuthServer({
        publicBaseUrl: config.publicBaseUrl,
        clientId: careTeamClientId,
        logger,
        patients: demoPatients().map((p) => ({ id: p.id, label: `${p.id}: ${p.shows}` })),
      }),
    );
    auth.catch((err: unknown) =>
      logger.error({ err: { message: (err as Error).message } }, 'demo authorization server failed'),
    );
    const fhirBaseUrl = `${config.publicBaseUrl}/demo-fhir`;
    careTeamFhirServers &&= [...careTeamFhirServers, fhirBaseUrl];
    // Writes are validated against our profiles and base R4, as a hospital server would.
    const validator = getProfileValidator();
    const fhir = await createEmbeddedFhirServer({
      seed: loadDemoSeed(),
      validate: (r) => validator.validate(r),
      verifyToken: (token) => auth.then((a) => a.verifyAccessToken(token)),
    });
    mounts.push(
      {
        path: '/demo-auth',
        router: deferredRouter(
          auth.then((a) => a.router),
          'The demo authorization server',
        ),
        label: '/demo-auth/*',
      },
      {
        path: '/demo-fhir/.well-known',
        router: deferredRouter(
          auth.then((a) => a.wellKnownRouter),
          'The demo authorization server',
        ),
        label: '/demo-fhir/.well-known/*',
      },
      { path: '/demo-fhir', router: fhir.router, label: '/demo-fhir/*' },
    );
    logger.info(
      { demoFhir: `${config.publicBaseUrl}/demo-fhir` },
      'demo mode: embedded FHIR server and demo client enabled',
    );
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

  const app = createApp({
    config,
    logger,
    store,
    services,
    authenticator,
    metrics,
    now,
    readinessChecks: { knowledgeBase: () => kb.cutoffs.length > 0 },
    mounts,
  });

  // Expired replay-cache and deduplication rows are purged in the background.
  const purge = setInterval(() => {
    store
      .purgeExpired(now())
      .catch((err: unknown) => logger.warn({ err: { message: (err as Error).message } }, 'purge failed'));
  }, 10 * 60_000);
  purge.unref();

  writeback?.start();

  return {
    app,
    store,
    kb,
    metrics,
    async close() {
      clearInterval(purge);
      // The write in flight finishes (or its lease runs out) before the store closes: nothing is lost.
      await writeback?.stop();
      await store.close();
    },
  };
}
