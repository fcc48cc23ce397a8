/**
 * createApp(deps): middleware order, routers and the error handler. Never listens, so tests drive the
 * app in-process on a free port and src/index.ts owns the process.
 */
import express, { type Express, type RequestHandler, type Router } from 'express';
import { createApiDocsRouter } from './api-docs/router.js';
import type { HydrationOptions } from './cds/prefetch.js';
import { createCdsRouter, type FeedbackSink } from './cds/router.js';
import type { Config } from './config/config.js';
import type { ConsoleMount } from './console/index.js';
import { AppError } from './errors.js';
import type { Logger } from './http/logger.js';
import {
  countFeedback,
  createMetrics,
  feedbackMetrics,
  metricsMiddleware,
  registerOutboxDepth,
  rememberShownCards,
  type Metrics,
} from './http/metrics.js';
import { cors, errorHandler, requestContext, routeLabel } from './http/middleware.js';
import {
  createHookPipeline,
  type AuditSink,
  type CardClaims,
  type HookPipelineDeps,
} from './services/pipeline.js';
import type { CdsService } from './services/service.js';
import type { Store } from './store/store.js';

/** Verifies a request's bearer JWT for the path called; throws AppError('unauthorized') on any failure. */
export interface Authenticator {
  authenticate(authorization: string | undefined, path: string): Promise<{ iss: string }>;
}

export interface AppDeps {
  config: Pick<Config, 'maxRequestBytes' | 'fhirTimeoutMs'>;
  logger: Logger;
  store: Store;
  services: CdsService[];
  authenticator: Authenticator;
  /** Cross-hook card claims; defaults to the store (shared by replicas). */
  cardClaims?: CardClaims;
  /** Where audit rows go; defaults to a direct store write off the response path. */
  audit?: AuditSink;
  /** The EHR profile of each client (see src/cds/ehr-profiles.ts); generic when absent. */
  profileOf?: HookPipelineDeps['profileOf'];
  metrics?: Metrics;
  now?: () => Date;
  /** Extra readiness checks (e.g. knowledge base loaded); each throws or returns false when not ready. */
  readinessChecks?: Record<string, () => boolean | Promise<boolean>>;
  /** Extra routers, e.g. the demo FHIR server at /demo-fhir or the imaging API. */
  mounts?: { path: string; router: Router; label: string }[];
  clientFactory?: HydrationOptions['clientFactory'];
  /** Which FHIR servers may be read for which client, and the fetch limits (src/fhir/access.ts). */
  fhirAccess?: HydrationOptions['access'];
  /** Per-client rate and concurrency limits, run right after authentication (src/http/rate-limit.ts). */
  clientLimiter?: RequestHandler;
  /** Public base URL (the OpenAPI document's server) and version shown by `GET /` and the docs. */
  publicBaseUrl?: string;
  version?: string;
  /** The informaticist's console at /console (src/console/); it also catalogues the cards shown. */
  console?: ConsoleMount;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  const metrics = deps.metrics ?? createMetrics();
  const now = deps.now ?? (() => new Date());
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use(requestContext(deps.logger));
  app.use(metricsMiddleware(metrics));
  app.use(cors);
  // Feedback / auth-failure counters exist from the start; the outbox gauges read the store per scrape.
  feedbackMetrics(metrics);
  registerOutboxDepth(metrics, deps.store, now);
  app.get('/healthz', routeLabel('/healthz'), (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', routeLabel('/readyz'), async (_req, res) => {
    const checks: Record<string, boolean> = {};
    checks.store = await deps.store.ping().then(
      () => true,
      () => false,
    );
    for (const [name, check] of Object.entries(deps.readinessChecks ?? {})) {
      checks[name] = await Promise.resolve()
        .then(check)
        .catch(() => false);
    }
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not-ready', checks });
  });
  app.get('/metrics', routeLabel('/metrics'), async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  // Every /cds-services* call needs a trusted client's JWT: discovery too.
  app.use('/cds-services', async (req, res, next) => {
    res.locals.routeLabel ??= '/cds-services*';
    const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
    res.locals.client = await deps.authenticator.authenticate(req.header('authorization'), path);
    next();
  });
  if (deps.clientLimiter) app.use('/cds-services', deps.clientLimiter);
  const audit: AuditSink = deps.audit ?? {
    record: (row) => {
      deps.store
        .recordAudit(row)
        .catch((e: unknown) =>
          deps.logger.error({ err: { message: (e as Error).message } }, 'audit write failed'),
        );
    },
  };
  const feedback: FeedbackSink = {
    save: async (serviceId, entries, client) => {
      const result = await deps.store.saveFeedback(
        entries.map((f) => ({
          serviceId,
          cardUuid: f.card,
          outcome: f.outcome,
          acceptedSuggestions: f.acceptedSuggestions?.map((s) => s.id),
          overrideReason: f.overrideReason,
          outcomeTimestamp: new Date(f.outcomeTimestamp).toISOString(),
          clientIss: client.iss,
        })),
      );
      // Only newly stored entries count: a client retrying a batch must not inflate the counters.
      countFeedback(
        metrics,
        serviceId,
        entries.filter((_e, i) => result.stored[i]),
      );
      return result;
    },
  };
  // Each returned card's topic is remembered so its feedback (card uuid only) can be counted by topic.
  const endpoints = createHookPipeline(deps.services, {
    profileOf: deps.profileOf,
    cardClaims: deps.cardClaims ?? deps.store,
    reminders: deps.store,
    audit,
    logger: deps.logger,
    metrics,
    fhirTimeoutMs: deps.config.fhirTimeoutMs,
    now,
    clientFactory: deps.clientFactory,
    fhirAccess: deps.fhirAccess,
  }).map((endpoint) => ({
    definition: endpoint.definition,
    handle: async (...args: Parameters<typeof endpoint.handle>) => {
      const cards = await endpoint.handle(...args);
      rememberShownCards(metrics, endpoint.definition.id, cards);
      deps.console?.onCardsShown(endpoint.definition.id, cards, now());
      return cards;
    },
  }));
  app.use(
    createCdsRouter({
      endpoints,
      feedback,
      logger: deps.logger,
      maxRequestBytes: deps.config.maxRequestBytes,
    }),
  );
  // After the CDS routes: a hook call need not be matched against the documentation's ten routes first.
  app.use(
    createApiDocsRouter({
      services: deps.services,
      publicBaseUrl: deps.publicBaseUrl,
      version: deps.version ?? '0.0.0',
    }),
  );
  if (deps.console) app.use('/console', routeLabel('/console/*'), deps.console.router(endpoints));
  for (const mount of deps.mounts ?? []) {
    app.use(mount.path, routeLabel(mount.label), mount.router);
  }

  app.use((_req, res, next) => {
    res.locals.routeLabel ??= 'unmatched';
    next(new AppError('not-found', 'No such endpoint'));
  });
  app.use(errorHandler(deps.logger));
  return app;
}
