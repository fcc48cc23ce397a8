/**
 * Bounds on JSON that arrives from outside (request bodies and FHIR answers), checked on the raw bytes
 * before JSON.parse or any recursive code sees them.
 */
import type { ErrorCode } from './errors.js';

/**
 * Deepest accepted JSON nesting. A hook request is at most ~15 levels deep (request > context >
 * draftOrders > entry > resource > code > coding > ...); 64 leaves room for extensions and contained
 * resources while keeping recursive code (schema validation, canonical JSON, fact readers) far from a
 * stack overflow.
 */
export const MAX_JSON_DEPTH = 64;

/** A body refused by the edge scan; mapped to its code by `bodyError`. */
export class BodyRejectedError extends Error {
  constructor(
    readonly errorCode: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BodyRejectedError';
  }
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Scans JSON bytes once, iteratively: throws BodyRejectedError when nesting exceeds `maxDepth` or a
 * string holds an escaped NUL (`\u0000`), which FHIR strings never contain and PostgreSQL cannot store.
 * Malformed JSON is left for JSON.parse to report.
 */
export function scanJson(buf: Uint8Array, maxDepth = MAX_JSON_DEPTH, refuseNul = true): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === BACKSLASH) {
        if (
          refuseNul &&
          buf[i + 1] === 0x75 /* u */ &&
          buf[i + 2] === 0x30 &&
          buf[i + 3] === 0x30 &&
          buf[i + 4] === 0x30 &&
          buf[i + 5] === 0x30
        ) {
          throw new BodyRejectedError(
            'invalid-characters',
            'JSON contains a NUL character (\\u0000), which is not allowed in any string',
          );
        }
        i++;
      } else if (c === QUOTE) {
        inString = false;
      }
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
      if (depth > maxDepth) {
        throw new BodyRejectedError(
          'json-too-deep',
          `JSON nests deeper than ${maxDepth} levels of objects and arrays`,
        );
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
}
