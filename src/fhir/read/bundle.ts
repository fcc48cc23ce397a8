/**
 * Bundles and prefetch values read once: whatever a client sent or a server answered, the result is a list
 * of typed resources plus the recorded problems. A Bundle whose `entry` is not an array, null entries,
 * entries without a resource or non-resources in entries are dropped and recorded, never thrown on.
 */
import { isRecord, IssueLog, readArray, type ReadSite } from './primitives.js';
import { readResource, type ReadRequest, type ReadResource } from './resources.js';

export interface ReadBundleOptions {
  /** Read every entry as a request (draft orders), naming entries without id `#<index>`. */
  asRequest?: boolean;
}

/**
 * The resources of a Bundle's entries (or the value itself when it is a single resource). `where` names the
 * value (a prefetch key or a request path) in recorded issues.
 */
export function readBundleEntries(
  log: IssueLog,
  value: unknown,
  where: string,
  options: ReadBundleOptions = {},
): ReadResource[] {
  if (value === null || value === undefined) return [];
  if (!isRecord(value)) {
    log.add(where, 'is not a FHIR resource');
    return [];
  }
  if (value.resourceType !== 'Bundle') {
    const single = readResource(log, value, { fallbackId: undefined, where, asRequest: options.asRequest });
    return single === undefined ? [] : [single];
  }
  const site: ReadSite = { log, source: where };
  const out: ReadResource[] = [];
  readArray(site, value.entry, 'entry').forEach((entry, index) => {
    if (!isRecord(entry)) {
      log.add(where, `entry[${index}] is not a Bundle entry`);
      return;
    }
    // An entry without a resource (a deleted item in a history, a search outcome) carries nothing to read.
    if (entry.resource === undefined) return;
    const read = readResource(log, entry.resource, {
      fallbackId: options.asRequest === true ? `#${index}` : undefined,
      where,
      entryIndex: index,
      asRequest: options.asRequest,
    });
    if (read !== undefined) out.push(read);
  });
  return out;
}

/** The draft orders of a hook call, read once. */
export interface DraftOrders {
  readonly kind: 'draft-orders';
  /** Every entry read as a request (whatever its resource type): what it codes, its status, its dates. */
  readonly orders: readonly ReadRequest[];
  readonly issues: IssueLog;
}

const draftCache = new WeakMap<object, DraftOrders>();

/**
 * Reads `context.draftOrders` into request shapes. The result is memoised per received object, so the
 * relevance check, the triggering orders and the facts of one call read the draft orders once.
 */
export function readDraftOrders(value: unknown): DraftOrders {
  if (isDraftOrders(value)) return value;
  if (isRecord(value)) {
    const cached = draftCache.get(value);
    if (cached !== undefined) return cached;
  }
  const issues = new IssueLog();
  // With `asRequest` every resource is read by the request reader, so each one is a ReadRequest.
  const orders = readBundleEntries(issues, value, 'context.draftOrders', {
    asRequest: true,
  }) as ReadRequest[];
  const read: DraftOrders = { kind: 'draft-orders', orders, issues };
  if (isRecord(value)) draftCache.set(value, read);
  return read;
}

export function isDraftOrders(value: unknown): value is DraftOrders {
  return isRecord(value) && value.kind === 'draft-orders' && value.issues instanceof IssueLog;
}

/** The prefetch of a hook call, read once: each key's resources, and every resource by reference. */
export interface ReadPrefetch {
  byKey: ReadonlyMap<string, readonly ReadResource[]>;
  /** `ResourceType/id` -> resource, across all keys (to follow result, hasMember, medicationReference). */
  byRef: ReadonlyMap<string, ReadResource>;
}

export function readPrefetch(log: IssueLog, prefetch: unknown): ReadPrefetch {
  const byKey = new Map<string, ReadResource[]>();
  const byRef = new Map<string, ReadResource>();
  if (prefetch === undefined || prefetch === null) return { byKey, byRef };
  if (!isRecord(prefetch)) {
    log.add('prefetch', 'is not an object');
    return { byKey, byRef };
  }
  for (const [key, value] of Object.entries(prefetch)) {
    const resources = readBundleEntries(log, value, `prefetch.${key}`);
    byKey.set(key, resources);
    for (const r of resources) if (r.id !== undefined && !byRef.has(r.ref)) byRef.set(r.ref, r);
  }
  return { byKey, byRef };
}

/** Resolves a (relative, absolute or contained `#id`) reference against the read prefetch. */
export function resolveReference(
  prefetch: ReadPrefetch,
  reference: string | undefined,
  contained: readonly ReadResource[] = [],
): ReadResource | undefined {
  if (reference === undefined) return undefined;
  if (reference.startsWith('#')) return contained.find((c) => c.id === reference.slice(1));
  const match = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(\/_history\/[^/]+)?$/.exec(reference);
  return match?.[1] === undefined ? undefined : prefetch.byRef.get(match[1]);
}
