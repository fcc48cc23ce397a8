/**
 * The CDS Hooks protocol routes, as a thin HTTP adapter: discovery, service calls and feedback. The hook
 * pipeline itself lives in src/services/pipeline.ts and reaches this router as `HookEndpoint`s.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { z } from 'zod';
import { AppError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import { jsonBody } from '../http/body.js';
import { requestLog, requireJson, routeLabel, type CallLog } from '../http/middleware.js';
import {
  feedbackRequestSchema,
  type CdsCard,
  type CdsServiceDefinition,
  type FeedbackEntry,
} from './types.js';

/** The client a request was authenticated as (set by the auth middleware). */
export interface RequestClient {
  iss: string;
}

/** One CDS service as HTTP sees it: its discovery entry and the call that answers it. */
export interface HookEndpoint {
  definition: CdsServiceDefinition;
  /**
   * Validates and answers one call; throws AppError for anything the caller can fix. With `call`, the
   * call's summary joins the HTTP request's one log line; without it, the pipeline logs its own line.
   */
  handle(body: unknown, client: RequestClient, call?: CallLog): Promise<CdsCard[]>;
}

/** Stores validated feedback (idempotent: exact duplicates stored once). */
export interface FeedbackSink {
  save(
    serviceId: string,
    entries: FeedbackEntry[],
    client: RequestClient,
  ): Promise<{ inserted: number; duplicates: number }>;
}

export interface CdsRouterDeps {
  endpoints: HookEndpoint[];
  feedback: FeedbackSink;
  logger: Logger;
  maxRequestBytes: number;
}

/** Turns zod issues into detail lines that name the field, never echo its value. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.slice(0, 20).map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`);
}

/**
 * Writes a JSON answer as express's res.json does (same Content-Type; node adds Content-Length), but as
 * one string: res.json first copies a body over 1000 characters into a Buffer, which node then writes
 * after the headers in a second piece. A hook answer with cards is several kilobytes.
 */
function sendJson(res: Response, value: unknown): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(value));
}

function clientOf(res: Response): RequestClient {
  const client = res.locals.client as RequestClient | undefined;
  if (!client) throw new AppError('unauthorized', 'Unauthorized');
  return client;
}

export function createCdsRouter(deps: CdsRouterDeps): Router {
  const router = express.Router();
  const byId = new Map(deps.endpoints.map((e) => [e.definition.id, e]));
  const discovery = JSON.stringify({ services: deps.endpoints.map((e) => e.definition) });
  const json = jsonBody(deps.maxRequestBytes);

  const endpointOf = (req: Request): HookEndpoint => {
    const endpoint = byId.get(String(req.params.id));
    if (!endpoint) throw new AppError('unknown-service', 'No CDS service with that id');
    return endpoint;
  };

  router.get('/cds-services', routeLabel('/cds-services'), (_req, res) => {
    res.type('application/json').send(discovery);
  });

  // One route: the service is looked up (404) before the body is read, and once.
  router.post(
    '/cds-services/:id',
    routeLabel('/cds-services/:id'),
    (req, res, next) => {
      res.locals.endpoint = endpointOf(req);
      next();
    },
    requireJson,
    json,
    async (req, res) => {
      const endpoint = res.locals.endpoint as HookEndpoint;
      const cards = await endpoint.handle(req.body, clientOf(res), requestLog(res, deps.logger));
      sendJson(res, { cards });
    },
  );

  router.post(
    '/cds-services/:id/feedback',
    routeLabel('/cds-services/:id/feedback'),
    requireJson,
    json,
    async (req, res) => {
      const endpoint = endpointOf(req);
      const client = clientOf(res);
      const parsed = feedbackRequestSchema.safeParse(req.body);
      if (!parsed.success)
        throw new AppError('invalid-feedback', 'Invalid feedback', describeIssues(parsed.error));
      const { inserted, duplicates } = await deps.feedback.save(
        endpoint.definition.id,
        parsed.data.feedback,
        client,
      );
      requestLog(res, deps.logger).log.info(
        { cdsService: endpoint.definition.id, client: client.iss, inserted, duplicates },
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
