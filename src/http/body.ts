/**
 * The JSON body edge: size, nesting depth and characters are checked on the raw (decoded) bytes before
 * JSON.parse or any recursive code sees them, and every body-parser failure (including a corrupt or
 * truncated gzip / deflate / br body) becomes a coded 4xx instead of an "internal" 500.
 */
import express, { type RequestHandler } from 'express';
import type { ErrorCode } from '../errors.js';
import { AppError } from '../errors.js';
import { BodyRejectedError, scanJson } from '../json-guard.js';

export { BodyRejectedError, MAX_JSON_DEPTH, scanJson } from '../json-guard.js';

/** express.json with the documented size limit and the edge scan; any Content-Type (checked before). */
export function jsonBody(maxBytes: number): RequestHandler {
  return express.json({
    limit: maxBytes,
    type: () => true,
    strict: true,
    verify: (_req, _res, buf) => scanJson(buf),
  });
}

interface BodyParserError {
  type?: unknown;
  status?: unknown;
  code?: unknown;
  errno?: unknown;
}

const BODY_ERRORS: Record<string, [ErrorCode, string]> = {
  'entity.too.large': ['payload-too-large', 'Request body is larger than the documented limit'],
  'entity.parse.failed': ['invalid-json', 'Request body is not valid JSON'],
  'encoding.unsupported': ['unsupported-media-type', 'Unsupported content encoding'],
  'charset.unsupported': ['unsupported-media-type', 'Unsupported charset'],
  'request.aborted': ['invalid-request', 'Request was aborted'],
  'request.size.invalid': ['invalid-request', 'Request size did not match Content-Length'],
  'stream.encoding.set': ['invalid-request', 'Request stream could not be read'],
  'stream.not.readable': ['invalid-request', 'Request stream could not be read'],
};

/**
 * Maps an error raised while reading a request body to an AppError, or undefined when it is not a body
 * error. zlib / brotli failures (corrupt or truncated compressed bodies) carry no body-parser `type`,
 * only their library code, so they are recognised by that.
 */
export function bodyError(err: unknown): AppError | undefined {
  if (err instanceof BodyRejectedError) return new AppError(err.errorCode, err.message);
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as BodyParserError;
  if (typeof e.type === 'string') {
    const known = BODY_ERRORS[e.type];
    if (known) return new AppError(known[0], known[1]);
  }
  if (
    typeof e.code === 'string' &&
    typeof e.errno === 'number' &&
    /^(Z_|ERR__ERROR_|ERR_BROTLI|ERR_ZLIB|ERR_ZSTD)/.test(e.code)
  ) {
    return new AppError(
      'invalid-encoding',
      'Request body could not be decompressed (corrupt or truncated gzip, deflate or br data)',
    );
  }
  return undefined;
}

/** PostgreSQL "data exception" (SQLSTATE class 22): a value the database refuses is the caller's. */
export function databaseDataError(err: unknown): AppError | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const code = (err as { code?: unknown }).code;
  const severity = (err as { severity?: unknown }).severity;
  if (typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code) && typeof severity === 'string') {
    return new AppError(
      'invalid-value',
      'A value in the request is out of range or not representable (the database refused it)',
    );
  }
  return undefined;
}
