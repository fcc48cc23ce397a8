import type { OperationOutcome } from 'fhir/r4.js';

/**
 * The error catalogue: every error a caller can cause has a stable code, an HTTP status and an
 * OperationOutcome issue type. Codes are part of the public contract (documented in the README);
 * never rename one, only add.
 */
export const ERRORS = {
  'invalid-json': { status: 400, issue: 'invalid' },
  'invalid-request': { status: 400, issue: 'invalid' },
  'invalid-feedback': { status: 400, issue: 'invalid' },
  'invalid-roi': { status: 400, issue: 'invalid' },
  'invalid-dicom': { status: 400, issue: 'invalid' },
  'invalid-resource': { status: 400, issue: 'invalid' },
  'invalid-encoding': { status: 400, issue: 'invalid' },
  'json-too-deep': { status: 400, issue: 'too-costly' },
  'invalid-characters': { status: 400, issue: 'invalid' },
  'invalid-value': { status: 400, issue: 'invalid' },
  'invalid-cohort': { status: 400, issue: 'invalid' },
  unauthorized: { status: 401, issue: 'login' },
  forbidden: { status: 403, issue: 'forbidden' },
  /** The console refused a state-changing form without this session's CSRF token. */
  'csrf-invalid': { status: 403, issue: 'forbidden' },
  /** /console when no OpenID Connect provider is configured (CONSOLE_OIDC_ISSUER). */
  'console-not-configured': { status: 404, issue: 'not-found' },
  'unknown-service': { status: 404, issue: 'not-found' },
  'not-found': { status: 404, issue: 'not-found' },
  'method-not-allowed': { status: 405, issue: 'not-supported' },
  'prefetch-unavailable': { status: 412, issue: 'incomplete' },
  'payload-too-large': { status: 413, issue: 'too-costly' },
  'unsupported-media-type': { status: 415, issue: 'not-supported' },
  'measurement-refused': { status: 422, issue: 'business-rule' },
  'rate-limited': { status: 429, issue: 'throttled' },
  'too-many-concurrent-requests': { status: 429, issue: 'throttled' },
  'calibration-refused': { status: 422, issue: 'business-rule' },
  'upstream-unavailable': { status: 502, issue: 'transient' },
  'not-ready': { status: 503, issue: 'transient' },
  internal: { status: 500, issue: 'exception' },
} as const satisfies Record<string, { status: number; issue: OperationOutcome['issue'][number]['code'] }>;

export type ErrorCode = keyof typeof ERRORS;

/** System for the stable error codes carried in OperationOutcome.issue.details. */
export const ERROR_CODE_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/error-code';

/** An error the caller (or an upstream) caused, carried to the one error handler as an OperationOutcome. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra issue lines (e.g. one per invalid field); never patient data or tokens. */
  readonly details: string[];

  constructor(code: ErrorCode, message: string, details: string[] = []) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.details = details;
  }
}

/** Builds the OperationOutcome body for an error code and message. */
export function operationOutcome(code: ErrorCode, message: string, details: string[] = []): OperationOutcome {
  const issueType = ERRORS[code].issue;
  const severity: 'fatal' | 'error' = ERRORS[code].status >= 500 ? 'fatal' : 'error';
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity,
        code: issueType,
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text: message },
        diagnostics: message,
      },
      ...details.map((d) => ({
        severity,
        code: issueType,
        details: { coding: [{ system: ERROR_CODE_SYSTEM, code }], text: d },
        diagnostics: d,
      })),
    ],
  };
}

/**
 * A URL as it may appear in an error message: scheme, host, port and path, so an operator sees which
 * server and endpoint failed; a query string is shown as `?...` because search parameters can carry
 * patient identifiers. Credentials in the URL are dropped.
 */
export function urlForMessage(url: string): string {
  if (!URL.canParse(url)) return '(invalid URL)';
  const u = new URL(url);
  return `${u.origin}${u.pathname}${u.search ? '?...' : ''}`;
}
