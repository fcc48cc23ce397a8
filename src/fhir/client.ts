/**
 * fhir-kit-client factory for the service's own FHIR reads: bearer token per request (never stored),
 * a hard timeout per call, and paging that never sends the token to another origin.
 */
import createDebug from 'debug';
import { Client } from 'fhir-kit-client';
import type { Bundle, FhirResource } from 'fhir/r4.js';

// fhir-kit-client's debug output prints request headers, including the bearer token. Whatever DEBUG
// says, those namespaces stay off.
createDebug.enable([process.env.DEBUG, '-fhir-kit-client:*'].filter(Boolean).join(','));

/** Largest number of pages followed per search, so a misbehaving server cannot make a hook call unbounded. */
export const MAX_PAGES = 20;

export interface FhirReadClient {
  /** GET a relative query (`Patient/1`, `Observation?code=...`) or an absolute URL on the same origin. */
  get(query: string, signal: AbortSignal): Promise<FhirResource>;
  /** The origin of the server; next links elsewhere are not followed. */
  readonly origin: string;
}

/** A status-carrying error from the FHIR server (or the network). */
export class FhirFetchError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FhirFetchError';
  }
}

interface FhirKitError {
  response?: { status?: number };
}

/** Creates a client for `baseUrl`, authenticating with `accessToken` when given. */
export function createFhirReadClient(baseUrl: string, accessToken?: string): FhirReadClient {
  const client = new Client({ baseUrl: baseUrl.replace(/\/+$/, '') });
  if (accessToken) client.bearerToken = accessToken;
  const origin = new URL(baseUrl).origin;
  return {
    origin,
    async get(query, signal) {
      if (/^https?:/i.test(query) && new URL(query).origin !== origin) {
        throw new FhirFetchError('refusing to follow a link to another origin');
      }
      try {
        const res = await client.request(query, {
          options: { signal, headers: { accept: 'application/fhir+json' } },
        });
        return res as unknown as FhirResource;
      } catch (err) {
        if (signal.aborted) throw new FhirFetchError('timed out');
        const status = (err as FhirKitError).response?.status;
        throw new FhirFetchError(
          status ? `FHIR server answered ${status}` : 'FHIR server unreachable',
          status,
        );
      }
    },
  };
}

/**
 * Reads a query and, for a searchset Bundle, follows `link[next]` (same origin only, at most MAX_PAGES),
 * returning one Bundle with all entries.
 */
export async function readAllPages(
  client: FhirReadClient,
  first: FhirResource | string,
  signal: AbortSignal,
): Promise<FhirResource> {
  const initial = typeof first === 'string' ? await client.get(first, signal) : first;
  if (initial.resourceType !== 'Bundle') return initial;
  const entries = [...(initial.entry ?? [])];
  let page: Bundle = initial;
  for (let i = 1; i < MAX_PAGES; i++) {
    const next = page.link?.find((l) => l.relation === 'next')?.url;
    if (!next) break;
    const res = await client.get(next, signal);
    if (res.resourceType !== 'Bundle') throw new FhirFetchError('next page is not a Bundle');
    entries.push(...(res.entry ?? []));
    page = res;
  }
  const { link: _link, ...rest } = initial;
  return { ...rest, total: initial.total ?? entries.length, entry: entries };
}
