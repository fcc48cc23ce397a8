/**
 * SMART token enforcement for the embedded FHIR server (demo mode). A request that carries a bearer
 * token is held to it: the token must be one the demo authorization server issued and still valid, its
 * scopes must allow reading the resource type (SMART v2 `.rs` or v1 `.read`), writes are refused, and
 * everything read must be in the token's patient compartment. Requests without a token are the demo EHR's
 * own back-end calls (the CDS demo client, the EHR simulator, tests) and keep working unchanged.
 */
import type { Bundle, Resource } from 'fhir/r4.js';
import type { ErrorCode } from '../../errors.js';

/** The patient and scopes behind a token (what the demo authorization server answers). */
export interface TokenGrant {
  patient: string;
  scopes: string[];
}

/** Looks a bearer token up; undefined when it is unknown or expired. */
export type TokenVerifier = (token: string) => Promise<TokenGrant | undefined>;

export class AccessDenied extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const PATIENT_SCOPE = /^patient\/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|[cruds]+)(\?.*)?$/;

/** Whether the scopes allow `action` ('r' read, 's' search) on resources of `type`. */
export function scopesAllow(scopes: readonly string[], type: string, action: 'r' | 's'): boolean {
  return scopes.some((scope) => {
    const m = PATIENT_SCOPE.exec(scope);
    if (!m || (m[1] !== '*' && m[1] !== type)) return false;
    const permission = m[2]!;
    // v1: read / *  (read covers search); v2: the letters c r u d s.
    if (permission === 'read' || permission === '*') return true;
    if (permission === 'write') return false;
    return permission.includes(action);
  });
}

/** Reference fields that put a resource in a Patient's compartment (the ones the view reads). */
const PATIENT_REFERENCE_FIELDS = ['subject', 'patient', 'beneficiary', 'individual'] as const;

export function inPatientCompartment(resource: Resource, patient: string): boolean {
  if (resource.resourceType === 'Patient') return resource.id === patient;
  const record = resource as unknown as Record<string, unknown>;
  return PATIENT_REFERENCE_FIELDS.some((field) => {
    const ref = (record[field] as { reference?: unknown } | undefined)?.reference;
    return typeof ref === 'string' && (ref === `Patient/${patient}` || ref.endsWith(`/Patient/${patient}`));
  });
}

/** The bearer token of an Authorization header, or undefined when there is no header. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!m) throw new AccessDenied('unauthorized', 'Authorization must be a Bearer token');
  return m[1];
}

/**
 * Checks a request before it runs. `type` is the first path segment (undefined for the base), `isSearch`
 * whether it is a search, `pairs` the search parameters.
 */
export function checkRequest(
  grant: TokenGrant,
  request: { method: string; type: string | undefined; id: string | undefined; isSearch: boolean },
  pairs: readonly [string, string][],
): void {
  const { method, type, isSearch } = request;
  if (type === 'metadata') return;
  if (!(method === 'GET' || (method === 'POST' && isSearch))) {
    throw new AccessDenied('forbidden', 'This token is read-only');
  }
  if (type === undefined) throw new AccessDenied('forbidden', 'System-level requests need a system token');
  if (!scopesAllow(grant.scopes, type, isSearch ? 's' : 'r')) {
    throw new AccessDenied(
      'forbidden',
      `The token's scopes do not allow ${isSearch ? 'searching' : 'reading'} ${type}`,
    );
  }
  if (isSearch) {
    // A search must name the token's patient, so totals and paging stay inside the compartment.
    const wanted =
      type === 'Patient'
        ? pairs.filter(([k]) => k === '_id').map(([, v]) => v)
        : pairs
            .filter(([k]) => k === 'patient' || k === 'subject')
            .map(([, v]) => v.replace(/^Patient\//, ''));
    if (wanted.length === 0 || wanted.some((v) => v !== grant.patient)) {
      throw new AccessDenied(
        'forbidden',
        type === 'Patient'
          ? "A patient-scoped token searches Patient with _id=<the token's patient>"
          : "A patient-scoped token must search with patient=<the token's patient>",
      );
    }
    if (pairs.some(([k]) => k === '_include' || k === '_revinclude' || k.startsWith('_has'))) {
      throw new AccessDenied('forbidden', 'A patient-scoped token cannot use _include, _revinclude or _has');
    }
  }
}

/** Checks what a request returned: every resource must be in the token's patient compartment. */
export function checkResult(grant: TokenGrant, result: Resource): void {
  const resources =
    result.resourceType === 'Bundle'
      ? ((result as Bundle).entry ?? []).flatMap((e) => (e.resource ? [e.resource] : []))
      : [result];
  for (const r of resources) {
    if (r.resourceType === 'OperationOutcome') continue;
    if (!inPatientCompartment(r, grant.patient)) {
      throw new AccessDenied('forbidden', "The resource is outside the token's patient compartment");
    }
  }
}
