/**
 * The service's own FHIR reads, guarded: bearer token per request (never stored or logged), a hard
 * deadline (the caller's AbortSignal covers connect, headers and body), no redirects followed, a response
 * size limit, a nesting-depth limit, no private / loopback / link-local addresses unless the server is
 * listed for the client (checked on the address actually connected to, so DNS names and odd IP spellings
 * cannot slip through), and answers that must be what was asked for: a read returns that resource type,
 * a search a searchset Bundle. Anything else is a FhirFetchError with a reason fit for logs and the 412.
 *
 * Plain node:http(s) rather than fhir-kit-client: that client reads answers through the global fetch,
 * which can neither cap a body before buffering it nor use the address-filtering agent.
 */
import http from 'node:http';
import https from 'node:https';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { RequestFilteringHttpAgent, RequestFilteringHttpsAgent } from 'request-filtering-agent';
import { BodyRejectedError, scanJson } from '../json-guard.js';
import { fhirStructureProblem } from './structure-guard.js';

/** Limits on one prefetch key's reads. */
export interface FhirFetchLimits {
  /** Largest accepted answer (one page), in bytes. */
  maxResponseBytes: number;
  /** Most entries accepted for one key, all pages together. */
  maxEntries: number;
  /** Most pages read for one key (the first included). */
  maxPages: number;
}

export const DEFAULT_FHIR_LIMITS: FhirFetchLimits = {
  maxResponseBytes: 10 * 1024 * 1024,
  maxEntries: 5000,
  maxPages: 20,
};

export interface FhirReadClient {
  /** GET a relative query (`Patient/1`, `Observation?code=...`) or an absolute URL on the same origin. */
  get(query: string, signal: AbortSignal): Promise<FhirResource>;
  /** The origin of the server; next links elsewhere are not followed. */
  readonly origin: string;
}

/** A status-carrying error from the FHIR server (or the network). Its message is safe to log. */
export class FhirFetchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FhirFetchError';
  }
}

export interface FhirReadClientOptions {
  /** Largest accepted answer in bytes (default DEFAULT_FHIR_LIMITS.maxResponseBytes). */
  maxResponseBytes?: number;
  /**
   * Connect to loopback, private and link-local addresses too. Only for servers the operator listed
   * (`fhirServers`); default false.
   */
  allowPrivateAddresses?: boolean;
}

// Shared agents: the filtering ones check every address they connect to (after DNS resolution, and IP
// literals before connecting); keep-alive keeps repeated reads of one EHR cheap.
const publicOnly = {
  http: new RequestFilteringHttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new RequestFilteringHttpsAgent({ keepAlive: true, maxSockets: 64 }),
};
const listed = {
  http: new http.Agent({ keepAlive: true, maxSockets: 64 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** Creates a client for `baseUrl`, authenticating with `accessToken` when given. */
export function createFhirReadClient(
  baseUrl: string,
  accessToken?: string,
  options: FhirReadClientOptions = {},
): FhirReadClient {
  const base = new URL(baseUrl);
  const origin = base.origin;
  const basePath = base.href.replace(/\/+$/, '');
  const maxBytes = options.maxResponseBytes ?? DEFAULT_FHIR_LIMITS.maxResponseBytes;
  const agents = options.allowPrivateAddresses ? listed : publicOnly;

  const resolve = (query: string): URL => {
    if (/^[a-z][a-z0-9+.-]*:/i.test(query)) {
      let url: URL;
      try {
        url = new URL(query);
      } catch {
        throw new FhirFetchError('link is not a valid URL');
      }
      if (url.origin !== origin) throw new FhirFetchError('refusing to follow a link to another origin');
      return url;
    }
    return new URL(`${basePath}/${query.replace(/^\/+/, '')}`);
  };

  return {
    origin,
    async get(query, signal) {
      const url = resolve(query);
      const secure = url.protocol === 'https:';
      let res: http.IncomingMessage;
      try {
        res = await new Promise<http.IncomingMessage>((done, fail) => {
          const req = (secure ? https : http).request(
            url,
            {
              method: 'GET',
              agent: secure ? agents.https : agents.http,
              signal,
              headers: {
                accept: 'application/fhir+json, application/json;q=0.9',
                'accept-encoding': 'identity',
                ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
              },
            },
            done,
          );
          req.on('error', fail);
          req.end();
        });
      } catch (err) {
        throw transportError(err, signal);
      }
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        res.destroy();
        if (status >= 300 && status < 400) {
          throw new FhirFetchError(
            `FHIR server answered ${status} (a redirect; redirects are not followed)`,
            status,
          );
        }
        throw new FhirFetchError(`FHIR server answered ${status}`, status);
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        res.destroy();
        throw new FhirFetchError(`answer larger than the ${maxBytes}-byte limit (FHIR_MAX_RESPONSE_BYTES)`);
      }
      const chunks: Buffer[] = [];
      let total = 0;
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          total += chunk.length;
          if (total > maxBytes) {
            res.destroy();
            throw new FhirFetchError(
              `answer larger than the ${maxBytes}-byte limit (FHIR_MAX_RESPONSE_BYTES)`,
            );
          }
          chunks.push(chunk);
        }
      } catch (err) {
        if (err instanceof FhirFetchError) throw err;
        throw transportError(err, signal);
      }
      const body = Buffer.concat(chunks);
      try {
        scanJson(body, undefined, false);
      } catch (err) {
        if (err instanceof BodyRejectedError) throw new FhirFetchError(`answer rejected: ${err.message}`);
        throw err;
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new FhirFetchError('answer is not JSON (not a FHIR server, or an error or sign-on page)');
      }
      if (
        json === null ||
        typeof json !== 'object' ||
        Array.isArray(json) ||
        typeof (json as { resourceType?: unknown }).resourceType !== 'string'
      ) {
        throw new FhirFetchError('answer is not a FHIR resource (no resourceType)');
      }
      return json as FhirResource;
    },
  };
}

function transportError(err: unknown, signal: AbortSignal): FhirFetchError {
  if (signal.aborted) return new FhirFetchError('timed out');
  const message = err instanceof Error ? err.message : '';
  if (/is not allowed\. Because/.test(message)) {
    return new FhirFetchError(
      "refused: the server resolves to a loopback, private or link-local address and is not listed in the client's fhirServers",
    );
  }
  const code = (err as { code?: unknown })?.code;
  return new FhirFetchError(`FHIR server unreachable${typeof code === 'string' ? ` (${code})` : ''}`);
}

/** What a query asks for: a read of one resource type, or a search (a searchset Bundle). */
export function expectedAnswer(query: string): { read: string } | { search: true } {
  if (/^[a-z][a-z0-9+.-]*:/i.test(query)) return { search: true };
  const path = (query.split('?')[0] ?? '').replace(/^\/+|\/+$/g, '');
  const segments = path.split('/');
  if (!query.includes('?') && segments.length === 2 && /^[A-Z][A-Za-z]+$/.test(segments[0] ?? '')) {
    return { read: segments[0] as string };
  }
  return { search: true };
}

/**
 * Structural problems of a Bundle that the readers downstream must never see (entry not an array, null
 * entries, a resource without resourceType, link not an array...). Returns the first problem's path, or
 * undefined when the Bundle is structurally sound.
 */
export function bundleProblem(bundle: unknown): string | undefined {
  const b = bundle as Record<string, unknown>;
  if (b.entry !== undefined) {
    if (!Array.isArray(b.entry)) return 'entry: must be an array';
    for (let i = 0; i < b.entry.length; i++) {
      const e: unknown = b.entry[i];
      if (e === null || typeof e !== 'object' || Array.isArray(e)) return `entry[${i}]: must be an object`;
      const r = (e as { resource?: unknown }).resource;
      if (r !== undefined) {
        if (r === null || typeof r !== 'object' || Array.isArray(r)) {
          return `entry[${i}].resource: must be an object`;
        }
        if (typeof (r as { resourceType?: unknown }).resourceType !== 'string') {
          return `entry[${i}].resource.resourceType: must be a string`;
        }
      }
    }
  }
  if (b.link !== undefined) {
    if (!Array.isArray(b.link)) return 'link: must be an array';
    for (let i = 0; i < b.link.length; i++) {
      const l: unknown = b.link[i];
      if (l === null || typeof l !== 'object' || Array.isArray(l)) return `link[${i}]: must be an object`;
      const { relation, url } = l as { relation?: unknown; url?: unknown };
      if (typeof relation !== 'string' || typeof url !== 'string') {
        return `link[${i}]: relation and url must be strings`;
      }
    }
  }
  if (b.total !== undefined && (typeof b.total !== 'number' || !Number.isInteger(b.total) || b.total < 0)) {
    return 'total: must be a non-negative integer';
  }
  return fhirStructureProblem(bundle, 'Bundle')?.replace(/^Bundle\./, '');
}

function checkAnswer(query: string, answer: FhirResource): void {
  const expected = expectedAnswer(query);
  if ('read' in expected) {
    if (answer.resourceType !== expected.read) {
      throw new FhirFetchError(`answered a ${answer.resourceType} where a ${expected.read} was asked for`);
    }
    const problem = fhirStructureProblem(answer, answer.resourceType);
    if (problem) throw new FhirFetchError(`answered a malformed ${answer.resourceType} (${problem})`);
    return;
  }
  if (answer.resourceType !== 'Bundle') {
    throw new FhirFetchError(`answered a ${answer.resourceType} where a search Bundle was asked for`);
  }
  if ((answer as Bundle).type !== 'searchset') {
    throw new FhirFetchError(
      `answered a Bundle of type ${JSON.stringify((answer as Bundle).type ?? null)} where a searchset was asked for`,
    );
  }
  const problem = bundleProblem(answer);
  if (problem) throw new FhirFetchError(`answered a malformed Bundle (${problem})`);
}

/**
 * Reads a query (or continues a supplied Bundle) and, for a searchset Bundle, follows `link[next]` (same
 * origin only) within the limits, returning one Bundle with all entries. Every answer is checked to be
 * what was asked for. Too many pages, a paging loop or too many entries is a FhirFetchError: partial data
 * is never passed off as complete.
 */
export async function readAllPages(
  client: FhirReadClient,
  first: FhirResource | string,
  signal: AbortSignal,
  limits: FhirFetchLimits = DEFAULT_FHIR_LIMITS,
): Promise<FhirResource> {
  let initial: FhirResource;
  if (typeof first === 'string') {
    initial = await client.get(first, signal);
    checkAnswer(first, initial);
  } else {
    initial = first;
  }
  if (initial.resourceType !== 'Bundle') return initial;
  const entries = [...(initial.entry ?? [])];
  const tooMany = () =>
    new FhirFetchError(`more than ${limits.maxEntries} entries (FHIR_MAX_ENTRIES_PER_KEY)`);
  if (entries.length > limits.maxEntries) throw tooMany();
  const seen = new Set<string>();
  let page: Bundle = initial;
  let pages = 1;
  for (;;) {
    const next = page.link?.find((l) => l.relation === 'next')?.url;
    if (!next) break;
    if (seen.has(next)) throw new FhirFetchError('paging loop: a next link repeats an earlier page');
    seen.add(next);
    if (pages >= limits.maxPages) {
      throw new FhirFetchError(`more than ${limits.maxPages} pages (FHIR_MAX_PAGES)`);
    }
    const res = await client.get(next, signal);
    checkAnswer(next, res);
    pages++;
    entries.push(...((res as Bundle).entry ?? []));
    if (entries.length > limits.maxEntries) throw tooMany();
    page = res as Bundle;
  }
  const { link: _link, ...rest } = initial;
  return { ...rest, total: initial.total ?? entries.length, entry: entries };
}
