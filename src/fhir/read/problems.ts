/**
 * Client-supplied data that makes a hook call meaningless: draft orders that are not a Bundle or hold no
 * readable order, prefetch values that are not resources or Bundles whose `entry` is not an array. The
 * pipeline answers these with 400 naming the path; element-level defects inside otherwise readable
 * resources are not request problems (they are dropped and recorded as data issues on the facts).
 */
import { isRecord, IssueLog } from './primitives.js';
import { readBundleEntries } from './bundle.js';

export interface RequestProblem {
  /** JSON path in the request body: `context.draftOrders.entry`, `prefetch.dxa.entry[3]`. */
  path: string;
  message: string;
}

/** What is wrong with `context.draftOrders` so that no order can be read from it (empty when usable). */
export function draftOrdersProblems(draftOrders: unknown): RequestProblem[] {
  const path = 'context.draftOrders';
  if (!isRecord(draftOrders)) return [{ path, message: 'must be a FHIR Bundle' }];
  if (draftOrders.resourceType !== 'Bundle') {
    return [{ path: `${path}.resourceType`, message: 'must be "Bundle"' }];
  }
  const entry = draftOrders.entry;
  if (entry === undefined) return [];
  if (!Array.isArray(entry)) return [{ path: `${path}.entry`, message: 'must be an array' }];
  if (entry.length === 0) return [];
  const log = new IssueLog();
  const orders = readBundleEntries(log, draftOrders, path, { asRequest: true });
  if (orders.length > 0) return [];
  const firstBad = entry.findIndex((e) => !isRecord(e) || !isRecord(e.resource));
  return [
    {
      path: firstBad >= 0 ? `${path}.entry[${firstBad}]` : `${path}.entry`,
      message: 'contains no readable order (each entry needs a resource with a resourceType)',
    },
  ];
}

/** Prefetch values that are not FHIR resources, or Bundles whose `entry` is not an array. */
export function prefetchProblems(prefetch: unknown): RequestProblem[] {
  if (prefetch === undefined || prefetch === null) return [];
  if (!isRecord(prefetch)) return [{ path: 'prefetch', message: 'must be an object' }];
  const problems: RequestProblem[] = [];
  for (const [key, value] of Object.entries(prefetch)) {
    const path = `prefetch.${key}`;
    if (value === null) continue;
    if (!isRecord(value) || typeof value.resourceType !== 'string') {
      problems.push({ path, message: 'must be a FHIR resource or null' });
      continue;
    }
    if (value.resourceType === 'Bundle' && value.entry !== undefined && !Array.isArray(value.entry)) {
      problems.push({ path: `${path}.entry`, message: 'must be an array' });
    }
  }
  return problems;
}

/**
 * Every problem in a hook request's FHIR content that should make the call a 400: the draft orders first,
 * then the prefetch. `request` is the parsed body (validated or not).
 */
export function requestProblems(request: unknown): RequestProblem[] {
  if (!isRecord(request)) return [];
  const context = isRecord(request.context) ? request.context : {};
  return [...draftOrdersProblems(context.draftOrders), ...prefetchProblems(request.prefetch)];
}
