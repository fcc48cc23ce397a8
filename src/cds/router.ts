/**
 * The CDS Hooks protocol routes: discovery, service calls and feedback. Thin: validate at the edge,
 * hydrate, hand the typed input to the service's evaluator, deduplicate, audit, answer.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import { currentLogger, type Logger } from '../http/logger.js';
import type { Metrics } from '../http/metrics.js';
import { jsonBody } from '../http/body.js';
import { requireJson, routeLabel } from '../http/middleware.js';
import type { CdsServiceModule } from '../services/pipeline.js';
import type { Store } from '../store/store.js';
import { checkRequestStructure, hydratePrefetch, type HydrationOptions } from './prefetch.js';
import {
  feedbackRequestSchema,
  orderSelectRequestSchema,
  orderSignRequestSchema,
  type CdsCard,
  type HookRequest,
} from './types.js';

/** The client a request was authenticated as (set by the auth middleware). */
export interface RequestClient {
  iss: string;
}

export interface CdsRouterDeps {
  services: CdsServiceModule[];
  store: Store;
  logger: Logger;
  metrics: Metrics;
  maxRequestBytes: number;
  fhirTimeoutMs: number;
  now: () => Date;
  clientFactory?: HydrationOptions['clientFactory'];
  fhirAccess?: HydrationOptions['access'];
}

/** How long card ids are remembered per hookInstance for cross-hook deduplication. */
const CARD_DEDUP_TTL_MS = 24 * 60 * 60 * 1000;

/** Turns zod issues into detail lines that name the field, never echo its value. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}

function clientOf(res: Response): RequestClient {
  const client = res.locals.client as RequestClient | undefined;
  if (!client) throw new AppError('unauthorized', 'Unauthorized');
  return client;
}

export function createCdsRouter(deps: CdsRouterDeps): Router {
  const router = express.Router();
  const byId = new Map(deps.services.map((s) => [s.definition.id, s]));
  const json = jsonBody(deps.maxRequestBytes);

  const serviceOf = (req: Request): CdsServiceModule => {
    const service = byId.get(String(req.params.id));
    if (!service) throw new AppError('unknown-service', 'No CDS service with that id');
    return service;
  };

  router.get('/cds-services', routeLabel('/cds-services'), (_req, res) => {
    res.json({ services: deps.services.map((s) => s.definition) });
  });

  router.post('/cds-services/:id', routeLabel('/cds-services/:id'), (req, _res, next) => {
    serviceOf(req);
    next();
  });
  router.post('/cds-services/:id', requireJson, json, async (req, res) => {
    const service = serviceOf(req);
    const client = clientOf(res);
    const started = process.hrtime.bigint();
    const schema =
      service.definition.hook === 'order-sign' ? orderSignRequestSchema : orderSelectRequestSchema;
    const parsed = schema.safeParse(req.body);
    if (!parsed.success) {
      throw new AppError(
        'invalid-request',
        `Invalid ${service.definition.hook} request`,
        describeIssues(parsed.error),
      );
    }
    const request = parsed.data as unknown as HookRequest;
    checkRequestStructure(request);
    const log = currentLogger(deps.logger).child({
      service: service.definition.id,
      hookInstance: request.hookInstance,
    });
    let outcome = 'error';
    let cardIds: string[] = [];
    try {
      const result = await evaluate(service, request, log, client.iss);
      outcome = result.outcome;
      cardIds = result.cards.flatMap((c) => (c.uuid ? [c.uuid] : []));
      for (const card of result.cards)
        deps.metrics.cards.inc({ service: service.definition.id, indicator: card.indicator });
      res.json({ cards: result.cards });
    } catch (err) {
      outcome = err instanceof AppError ? err.code : 'error';
      throw err;
    } finally {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      await deps.store
        .recordAudit({
          at: deps.now(),
          serviceId: service.definition.id,
          hookInstance: request.hookInstance,
          clientIss: client.iss,
          patientId: request.context.patientId,
          outcome,
          cardIds,
          durationMs,
        })
        .catch((e: unknown) => log.error({ err: { message: (e as Error).message } }, 'audit write failed'));
    }
  });

  async function evaluate(
    service: CdsServiceModule,
    request: HookRequest,
    log: Logger,
    clientIss: string,
  ): Promise<{ outcome: string; cards: CdsCard[] }> {
    if (service.isRelevant && !service.isRelevant(request)) return { outcome: 'not-triggered', cards: [] };
    const hydration = await hydratePrefetch(request, service.definition.prefetch, {
      timeoutMs: deps.fhirTimeoutMs,
      clientFactory: deps.clientFactory,
      access: deps.fhirAccess,
      clientIss,
      onFailure: (f) => log.info({ prefetchKey: f.key, reason: f.reason }, 'prefetch key unavailable'),
      onFetch: (key, result, seconds) =>
        deps.metrics.fhirFetchDuration.observe({ key, outcome: result }, seconds),
    });
    const needed = hydration.failures.filter((f) => service.requiredPrefetch.includes(f.key));
    if (needed.length > 0) {
      log.warn({ keys: needed.map((f) => f.key) }, 'prefetch unavailable');
      throw new AppError(
        'prefetch-unavailable',
        `Prefetch data the service needs could not be obtained: ${needed.map((f) => f.key).join(', ')}`,
        needed.map((f) => `${f.key}: ${f.reason}`),
      );
    }
    const cards = service.evaluate({
      hook: request.hook,
      hookInstance: request.hookInstance,
      context: request.context,
      prefetch: hydration.prefetch,
      now: deps.now(),
    });
    const suppressed = await deps.store.claimCards(
      request.hookInstance,
      request.hook,
      cards.flatMap((c) => (c.uuid ? [c.uuid] : [])),
      new Date(deps.now().getTime() + CARD_DEDUP_TTL_MS),
    );
    const shown = cards.filter((c) => !c.uuid || !suppressed.has(c.uuid));
    log.debug({ fetched: hydration.fetched, cards: shown.length, suppressed: suppressed.size }, 'evaluated');
    return { outcome: shown.length > 0 ? 'cards' : 'no-cards', cards: shown };
  }

  router.post(
    '/cds-services/:id/feedback',
    routeLabel('/cds-services/:id/feedback'),
    requireJson,
    json,
    async (req, res) => {
      const service = serviceOf(req);
      const client = clientOf(res);
      const parsed = feedbackRequestSchema.safeParse(req.body);
      if (!parsed.success)
        throw new AppError('invalid-feedback', 'Invalid feedback', describeIssues(parsed.error));
      const { inserted, duplicates } = await deps.store.saveFeedback(
        parsed.data.feedback.map((f) => ({
          serviceId: service.definition.id,
          cardUuid: f.card,
          outcome: f.outcome,
          acceptedSuggestions: f.acceptedSuggestions?.map((s) => s.id),
          overrideReason: f.overrideReason,
          outcomeTimestamp: new Date(f.outcomeTimestamp).toISOString(),
          clientIss: client.iss,
        })),
      );
      currentLogger(deps.logger).info(
        { service: service.definition.id, inserted, duplicates },
        'feedback stored',
      );
      res.status(200).json({});
    },
  );

  for (const path of ['/cds-services', '/cds-services/:id', '/cds-services/:id/feedback']) {
    router.all(path, routeLabel(path), () => {
      throw new AppError('method-not-allowed', 'Method not allowed on this resource');
    });
  }
  return router;
}
