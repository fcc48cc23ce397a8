/**
 * Prefetch hydration. Supplied keys are used as they are; missing keys, and keys whose value is an
 * OperationOutcome (the client's fetch failed), are fetched from `fhirServer` in parallel, each bounded by
 * the FHIR timeout. A `null` value means "no data". Keys that cannot be had are reported, never guessed.
 */
import type { FhirResource } from 'fhir/r4.js';
import { AppError } from '../errors.js';
import { createFhirAccess, type FhirAccess } from '../fhir/access.js';
import { bundleProblem, FhirFetchError, readAllPages, type FhirReadClient } from '../fhir/client.js';
import { prefetchProblems } from '../fhir/read/problems.js';
import type { HookRequest, HydratedPrefetch } from './types.js';

export interface PrefetchFailure {
  key: string;
  reason: string;
}

export interface HydrationResult {
  prefetch: HydratedPrefetch;
  /** Keys that could not be had, with the reason (no fhirServer, timeout, HTTP status...). */
  failures: PrefetchFailure[];
  /** Keys the service fetched itself. */
  fetched: string[];
}

export interface HydrationOptions {
  timeoutMs: number;
  /** Observes each of the service's own FHIR fetches (metrics). */
  onFetch?: (key: string, outcome: 'ok' | 'error' | 'timeout', seconds: number) => void;
  /**
   * Which FHIR servers may be read for which client, and the fetch limits. Default: no client lists any
   * server (public addresses only), default limits.
   */
  access?: FhirAccess;
  /** The authenticated client (its `iss`), whose `fhirServers` list applies. */
  clientIss?: string;
  /** Replaces the guarded HTTP client (tests of hydration logic only); `access` still decides first. */
  clientFactory?: (baseUrl: string, accessToken?: string) => FhirReadClient;
  /** Told each key that could not be had, with its reason (for the log; never data or tokens). */
  onFailure?: (failure: PrefetchFailure) => void;
}

const defaultAccess = createFhirAccess({ clients: [] });

/**
 * What the client supplied that makes the call meaningless, before any reader sees it: draft orders are the
 * subject of the call, so any structural defect in them (a number where a code belongs, a `coding` that is
 * not an array... src/fhir/structure-guard.ts) is a 400 naming the path. The prefetch is the patient's
 * record: a value that is not a resource, or a Bundle whose `entry` is not an array, is a 400; a defect
 * inside an otherwise readable resource is not a request problem: the tolerant reading (src/fhir/read/)
 * drops the element and records why, and the cards say that data was left out.
 */
export function checkRequestStructure(request: {
  context?: object;
  prefetch?: Record<string, unknown> | undefined;
}): void {
  const problems: string[] = [];
  const draftOrders = (request.context as { draftOrders?: unknown } | undefined)?.draftOrders;
  if (draftOrders !== undefined) {
    const p = bundleProblem(draftOrders);
    if (p) problems.push(`context.draftOrders.${p}`);
  }
  for (const p of prefetchProblems(request.prefetch)) problems.push(`${p.path}: ${p.message}`);
  if (problems.length > 0) throw new AppError('invalid-request', 'Invalid request', problems.slice(0, 20));
}

const TOKEN = /\{\{\s*([A-Za-z.]+)\s*\}\}/g;

/**
 * Fills a prefetch template's tokens from the hook context. Only the spec's tokens are supported:
 * `{{context.<top-level primitive>}}` and `{{userPractitionerId}}` / `{{userPractitionerRoleId}}` /
 * `{{userPatientId}}` / `{{userRelatedPersonId}}`. Returns undefined when a token cannot be filled.
 */
export function renderTemplate(template: string, context: Record<string, unknown>): string | undefined {
  let missing = false;
  const out = template.replace(TOKEN, (_m, token: string) => {
    const value = tokenValue(token, context);
    if (value === undefined) missing = true;
    return value === undefined ? '' : encodeURIComponent(value);
  });
  return missing ? undefined : out;
}

function tokenValue(token: string, context: Record<string, unknown>): string | undefined {
  if (token.startsWith('context.')) {
    const value = context[token.slice('context.'.length)];
    return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
      ? String(value)
      : undefined;
  }
  const userId = typeof context.userId === 'string' ? context.userId : '';
  const [type, id] = userId.split('/');
  const wanted: Record<string, string> = {
    userPractitionerId: 'Practitioner',
    userPractitionerRoleId: 'PractitionerRole',
    userPatientId: 'Patient',
    userRelatedPersonId: 'RelatedPerson',
  };
  return wanted[token] === type && id ? id : undefined;
}

function isOperationOutcome(value: unknown): boolean {
  return (
    typeof value === 'object' && value !== null && (value as FhirResource).resourceType === 'OperationOutcome'
  );
}

/** Hydrates every key of `templates` for `request`. */
export async function hydratePrefetch(
  request: HookRequest,
  templates: Record<string, string>,
  options: HydrationOptions,
): Promise<HydrationResult> {
  const supplied = request.prefetch ?? {};
  const access = options.access ?? defaultAccess;
  const prefetch: HydratedPrefetch = {};
  const failures: PrefetchFailure[] = [];
  const toFetch: string[] = [];

  for (const key of Object.keys(templates)) {
    if (!Object.hasOwn(supplied, key) || isOperationOutcome(supplied[key])) {
      toFetch.push(key);
      continue;
    }
    prefetch[key] = (supplied[key] as FhirResource | null) ?? null;
  }

  // The fhirServer is checked against the client's list before any connection is made.
  let client: FhirReadClient | undefined;
  let refused: string | undefined;
  if (request.fhirServer) {
    const decision = access.open(
      options.clientIss,
      request.fhirServer,
      request.fhirAuthorization?.access_token,
    );
    if ('refused' in decision) refused = decision.refused;
    else
      client = options.clientFactory
        ? options.clientFactory(request.fhirServer, request.fhirAuthorization?.access_token)
        : decision.client;
  }
  const noClientReason = refused ?? 'not supplied and no fhirServer to fetch it from';

  // Supplied Bundles may be paged: follow their next links on the client's own FHIR server.
  const pagedSupplied = Object.entries(prefetch).filter(
    ([, v]) => v?.resourceType === 'Bundle' && hasNextLink(v.link),
  );

  const context = request.context as unknown as Record<string, unknown>;
  const jobs: Promise<void>[] = [];
  const run = (key: string, work: (signal: AbortSignal) => Promise<FhirResource | null>) => {
    const started = process.hrtime.bigint();
    const signal = AbortSignal.timeout(options.timeoutMs);
    jobs.push(
      work(signal).then(
        (value) => {
          options.onFetch?.(key, 'ok', seconds(started));
          prefetch[key] = value;
        },
        (err: unknown) => {
          const timedOut = signal.aborted;
          options.onFetch?.(key, timedOut ? 'timeout' : 'error', seconds(started));
          failures.push({ key, reason: timedOut ? 'timed out' : describe(err) });
        },
      ),
    );
  };

  for (const key of toFetch) {
    if (!client) {
      failures.push({ key, reason: noClientReason });
      continue;
    }
    const query = renderTemplate(templates[key] ?? '', context);
    if (query === undefined) {
      failures.push({ key, reason: 'template token not available in context' });
      continue;
    }
    run(key, async (signal) => {
      try {
        return await readAllPages(client, query, signal, access.limits);
      } catch (err) {
        // A read of a resource that does not exist is "no data", not a failure.
        if (
          err instanceof FhirFetchError &&
          (err.status === 404 || err.status === 410) &&
          !query.includes('?')
        ) {
          return null;
        }
        throw err;
      }
    });
  }
  for (const [key, value] of pagedSupplied) {
    if (!value) continue;
    if (!client) {
      failures.push({
        key,
        reason: refused
          ? `supplied result is paged and its next page cannot be read: ${refused}`
          : 'supplied result is paged and there is no fhirServer to read the next page from',
      });
      continue;
    }
    run(key, (signal) => readAllPages(client, value, signal, access.limits));
  }

  await Promise.all(jobs);
  failures.sort((a, b) => a.key.localeCompare(b.key));
  for (const f of failures) options.onFailure?.(f);
  return { prefetch, failures, fetched: toFetch.filter((k) => !failures.some((f) => f.key === k)) };
}

/** A supplied Bundle's `link` is read tolerantly: anything but an array of links has no next page. */
function hasNextLink(link: unknown): boolean {
  return (
    Array.isArray(link) &&
    link.some(
      (l: unknown) =>
        typeof l === 'object' &&
        l !== null &&
        (l as { relation?: unknown }).relation === 'next' &&
        typeof (l as { url?: unknown }).url === 'string',
    )
  );
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function describe(err: unknown): string {
  return err instanceof FhirFetchError ? err.message : 'fetch failed';
}
