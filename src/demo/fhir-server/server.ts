/**
 * The embedded FHIR R4 server: medplum's FhirRouter over EmbeddedFhirRepository, served by an express
 * Router that can be mounted at any path. This file only translates HTTP <-> medplum requests and adds
 * what an HTTP FHIR server owes its clients (absolute fullUrl/Location/next links, ETag, /metadata,
 * 404 for unknown types, 415/413 for bad bodies); FHIR semantics live in medplum and the repository.
 */
import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import type { FhirRequest, HttpMethod } from '@medplum/fhir-router';
import { FhirRouter } from '@medplum/fhir-router';
import { getStatus, isOk } from '@medplum/core';
import type {
  Bundle as MedplumBundle,
  OperationOutcome as MedplumOutcome,
  Resource as MedplumResource,
} from '@medplum/fhirtypes';
import type { Bundle, BundleEntry, OperationOutcome, Resource } from 'fhir/r4.js';
import type { ErrorCode } from '../../errors.js';
import { ERRORS, operationOutcome } from '../../errors.js';
import {
  AccessDenied,
  bearerToken,
  checkRequest,
  checkResult,
  type TokenGrant,
  type TokenVerifier,
} from './access.js';
import { buildCapabilityStatement } from './capability.js';
import type { EmbeddedRepositoryOptions } from './repository.js';
import { EmbeddedFhirRepository } from './repository.js';

export interface EmbeddedFhirServerOptions extends EmbeddedRepositoryOptions {
  /** Bundles (collection, batch or transaction) loaded at start and again on `reset()`. */
  seed?: Bundle[];
  /** Largest request body accepted (default 10 MB); larger ones get 413. */
  maxBodyBytes?: number;
  /**
   * Demo mode: requests carrying a bearer token are held to it (read-only, scopes, patient compartment);
   * requests without one are served as before. See access.ts.
   */
  verifyToken?: TokenVerifier;
}

export interface EmbeddedFhirServer {
  /** Mount anywhere (e.g. `app.use('/demo-fhir', router)`); URLs in responses follow the mount path and host. */
  router: Router;
  repo: EmbeddedFhirRepository;
  /** Drops all data and loads the seed bundles again. */
  reset(): Promise<void>;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const FHIR_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** Requests run one at a time: a transaction's snapshot/rollback must not interleave with other writes. */
function createMutex(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => undefined);
    return run;
  };
}

/** application/json, application/fhir+json and application/json-patch+json. */
function isJsonContent(req: { headers: { 'content-type'?: string } }): boolean {
  return /\bjson\b|\+json\b/i.test(req.headers['content-type'] ?? '');
}

class HttpProblem extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function baseUrlOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}

function rawQueryOf(req: Request): string {
  const i = req.originalUrl.indexOf('?');
  return i < 0 ? '' : req.originalUrl.slice(i + 1);
}

function responseContentType(req: Request): string {
  const accept = req.get('accept') ?? '';
  return accept.includes('application/json') && !accept.includes('fhir+json')
    ? 'application/json; charset=utf-8'
    : FHIR_JSON;
}

function sendJson(req: Request, res: Response, status: number, body: unknown): void {
  res.status(status).type(responseContentType(req)).send(JSON.stringify(body));
}

function sendProblem(req: Request, res: Response, code: ErrorCode, message: string): void {
  sendJson(req, res, ERRORS[code].status, operationOutcome(code, message));
}

/** Query pairs of a search, GET (URL) or POST `_search` (form body merged with the URL query). */
function searchPairs(req: Request, rawQuery: string): [string, string][] {
  const pairs: [string, string][] = [...new URLSearchParams(rawQuery).entries()];
  if (req.method === 'POST' && req.body && typeof req.body === 'object') {
    for (const [key, value] of Object.entries(req.body as Record<string, unknown>)) {
      for (const v of Array.isArray(value) ? value : [value]) {
        if (typeof v === 'string') {
          pairs.push([key, v]);
        }
      }
    }
  }
  return pairs;
}

function pairsToQuery(pairs: [string, string][]): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of pairs) {
    const prev = query[key];
    query[key] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return query;
}

function pageUrl(
  base: string,
  type: string,
  pairs: [string, string][],
  offset: number,
  count: number,
): string {
  const params = new URLSearchParams(pairs.filter(([k]) => k !== '_offset' && k !== '_count'));
  params.set('_count', String(count));
  if (offset > 0) {
    params.set('_offset', String(offset));
  }
  return `${base}/${type}?${params.toString()}`;
}

function lastInt(pairs: [string, string][], key: string): number | undefined {
  const found = pairs.filter(([k]) => k === key).pop();
  return found ? Number.parseInt(found[1], 10) : undefined;
}

/** Absolute fullUrl, search mode and self/next/previous links on a searchset. */
function decorateSearchset(
  bundle: Bundle,
  base: string,
  type: string,
  pairs: [string, string][],
  repo: EmbeddedFhirRepository,
): Bundle {
  const offset = lastInt(pairs, '_offset') ?? 0;
  const count = repo.pageSize(lastInt(pairs, '_count'));
  const total = bundle.total ?? 0;
  const link: NonNullable<Bundle['link']> = [
    { relation: 'self', url: pageUrl(base, type, pairs, offset, count) },
  ];
  if (count > 0 && offset + count < total) {
    link.push({ relation: 'next', url: pageUrl(base, type, pairs, offset + count, count) });
  }
  if (count > 0 && offset > 0) {
    link.push({ relation: 'previous', url: pageUrl(base, type, pairs, Math.max(0, offset - count), count) });
  }
  return {
    ...bundle,
    link,
    ...(bundle.entry
      ? {
          entry: bundle.entry.map((e) => ({
            ...(e.resource?.id ? { fullUrl: `${base}/${e.resource.resourceType}/${e.resource.id}` } : {}),
            ...e,
            search: { mode: 'match' as const },
          })),
        }
      : {}),
  };
}

function withFullUrls(bundle: Bundle, base: string): Bundle {
  if (!bundle.entry) {
    return bundle;
  }
  return {
    ...bundle,
    entry: bundle.entry.map((e): BundleEntry =>
      e.resource?.id ? { fullUrl: `${base}/${e.resource.resourceType}/${e.resource.id}`, ...e } : e,
    ),
  };
}

function isResourceWithVersion(resource: Resource | undefined): resource is Resource & { id: string } {
  return Boolean(
    resource?.id &&
    resource.meta?.versionId &&
    resource.resourceType !== 'Bundle' &&
    resource.resourceType !== 'OperationOutcome',
  );
}

/**
 * Loads seed bundles. Each bundle is all-or-nothing; collections are stored with their own ids (update-as-
 * create), batches and transactions go through the router like any client's.
 */
async function loadSeed(
  repo: EmbeddedFhirRepository,
  router: FhirRouter,
  seed: readonly Bundle[],
): Promise<void> {
  for (const [i, bundle] of seed.entries()) {
    if (bundle.type === 'transaction' || bundle.type === 'batch') {
      const [outcome, result] = await router.handleRequest(
        {
          method: 'POST',
          url: '',
          pathname: '',
          params: {},
          query: {},
          body: structuredClone(bundle),
          config: { transactions: true },
        },
        repo,
      );
      const failed = (result as MedplumBundle | undefined)?.entry?.find(
        (e) => !e.response?.status?.startsWith('2'),
      );
      if (!isOk(outcome) || failed) {
        const why = JSON.stringify(failed?.response?.outcome ?? outcome);
        throw new Error(`Seed bundle ${i} (${bundle.type}) was rejected: ${why}`);
      }
      continue;
    }
    try {
      await repo.withTransaction(async () => {
        for (const entry of bundle.entry ?? []) {
          const resource = entry.resource as MedplumResource | undefined;
          if (!resource) {
            continue;
          }
          if (resource.id) {
            await repo.updateResource(resource);
          } else {
            await repo.createResource(resource);
          }
        }
      });
    } catch (err) {
      const outcome = (err as { outcome?: unknown }).outcome;
      throw new Error(
        `Seed bundle ${i} (${bundle.type}) was rejected: ${JSON.stringify(outcome ?? String(err))}`,
        {
          cause: err,
        },
      );
    }
  }
}

/**
 * Creates the embedded FHIR server: loads the R4 definitions (once per process), seeds the store and
 * returns an express Router speaking FHIR R4 JSON.
 */
export async function createEmbeddedFhirServer(
  options: EmbeddedFhirServerOptions = {},
): Promise<EmbeddedFhirServer> {
  const repo = new EmbeddedFhirRepository(options);
  const fhirRouter = new FhirRouter();
  const exclusive = createMutex();
  const seed = options.seed ?? [];
  const now = options.now ?? (() => new Date());
  await loadSeed(repo, fhirRouter, seed);

  const router = express.Router();
  const limit = options.maxBodyBytes ?? 10 * 1024 * 1024;
  router.use(express.json({ type: isJsonContent, limit }));
  router.use(express.urlencoded({ extended: false, limit }));

  router.use((req: Request, res: Response, next: NextFunction) => {
    handle(req, res).catch(next);
  });

  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof AccessDenied) {
      if (err.code === 'unauthorized') res.set('WWW-Authenticate', 'Bearer');
      sendProblem(req, res, err.code, err.message);
      return;
    }
    if (err instanceof HttpProblem) {
      sendProblem(req, res, err.code, err.message);
      return;
    }
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.parse.failed') {
      sendProblem(req, res, 'invalid-json', 'The request body is not valid JSON');
    } else if (type === 'entity.too.large') {
      sendProblem(req, res, 'payload-too-large', `The request body is larger than ${limit} bytes`);
    } else if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
      sendProblem(req, res, 'unsupported-media-type', 'Unsupported body charset or encoding');
    } else {
      sendProblem(req, res, 'internal', 'Internal error in the embedded FHIR server');
    }
  });

  async function handle(req: Request, res: Response): Promise<void> {
    const base = baseUrlOf(req);
    const path = req.path.replace(/^\/+|\/+$/g, '');
    const segments = path ? path.split('/') : [];
    const rawQuery = rawQueryOf(req);
    const method = req.method.toUpperCase();
    const first = segments[0];

    if (first === 'metadata' && segments.length === 1) {
      if (method !== 'GET') {
        throw new HttpProblem('method-not-allowed', 'Only GET is allowed on /metadata');
      }
      sendJson(req, res, 200, buildCapabilityStatement(repo.resourceTypes, base, now()));
      return;
    }
    if (!FHIR_METHODS.has(method)) {
      throw new HttpProblem('method-not-allowed', `${method} is not supported`);
    }
    if (first === undefined) {
      if (method !== 'POST') {
        throw new HttpProblem(
          'method-not-allowed',
          'System-level interactions other than batch/transaction are not supported',
        );
      }
    } else if (!repo.resourceTypes.has(first)) {
      throw new HttpProblem('not-found', `Unknown resource type '${first}'`);
    }

    const isSearch =
      (segments.length === 1 && method === 'GET') ||
      (segments.length === 2 && segments[1] === '_search' && method === 'POST');
    const body: unknown = req.body;
    if (WRITE_METHODS.has(method) && !isSearch) {
      const hasBody =
        Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined;
      if (hasBody && !isJsonContent(req)) {
        throw new HttpProblem('unsupported-media-type', 'Send application/fhir+json (or application/json)');
      }
      if (body === undefined || body === null || typeof body !== 'object') {
        throw new HttpProblem('invalid-resource', 'The request needs a JSON resource body');
      }
      if (method === 'POST' && first === undefined) {
        const bundle = body as Bundle;
        if (bundle.resourceType !== 'Bundle' || (bundle.type !== 'batch' && bundle.type !== 'transaction')) {
          throw new HttpProblem('invalid-resource', 'POST to the base needs a batch or transaction Bundle');
        }
        // medplum would quietly skip such entries inside a transaction instead of failing it.
        const bad = (bundle.entry ?? []).findIndex((e) => !e.request?.method || !e.request.url);
        if (bad >= 0) {
          throw new HttpProblem('invalid-resource', `Bundle.entry[${bad}].request needs method and url`);
        }
      }
    }

    // Searches hand medplum the parsed pairs (as query for GET, as body for POST _search) so both forms are
    // one request and the paging links can be rebuilt from them; other requests keep their query in the URL.
    const pairs = isSearch ? searchPairs(req, rawQuery) : [];
    let grant: TokenGrant | undefined;
    const token = options.verifyToken ? bearerToken(req.get('authorization')) : undefined;
    if (options.verifyToken && token !== undefined) {
      grant = await options.verifyToken(token);
      if (!grant) throw new AccessDenied('unauthorized', 'The access token is unknown or expired');
      checkRequest(grant, { method, type: first, id: segments[1], isSearch }, pairs);
    }
    const fhirRequest: FhirRequest = {
      method: method as HttpMethod,
      url: isSearch || !rawQuery ? path : `${path}?${rawQuery}`,
      pathname: '',
      params: {},
      query: isSearch ? pairsToQuery(pairs) : {},
      body: isSearch ? pairsToQuery(pairs) : body,
      headers: req.headers,
      config: { transactions: true },
    };

    const [outcome, resource] = await exclusive(() => fhirRouter.handleRequest(fhirRequest, repo));
    let status = getStatus(outcome as MedplumOutcome);
    if (!isOk(outcome) || !resource) {
      sendJson(req, res, status, outcome as OperationOutcome);
      return;
    }

    let result = resource as unknown as Resource;
    if (grant) checkResult(grant, result);
    if (result.resourceType === 'Bundle' && (result as Bundle).type === 'searchset' && first) {
      result = decorateSearchset(result as Bundle, base, first, pairs, repo);
    } else if (result.resourceType === 'Bundle') {
      result = withFullUrls(result as Bundle, base);
    }
    if (isResourceWithVersion(result)) {
      const version = result.meta?.versionId ?? '';
      // medplum answers 200 for update-as-create; FHIR wants 201 when the PUT created the resource.
      if (method === 'PUT' && status === 200 && version === '1') {
        status = 201;
      }
      res.set('ETag', `W/"${version}"`);
      if (result.meta?.lastUpdated) {
        res.set('Last-Modified', new Date(result.meta.lastUpdated).toUTCString());
      }
      if (status === 201) {
        res.set('Location', `${base}/${result.resourceType}/${result.id}/_history/${version}`);
      }
    }
    sendJson(req, res, status, result);
  }

  return {
    router,
    repo,
    async reset(): Promise<void> {
      await exclusive(async () => {
        repo.clear();
        await loadSeed(repo, fhirRouter, seed);
      });
    },
  };
}
