/**
 * JSON logging (pino) with a per-request child logger carried by AsyncLocalStorage, so every line of a
 * request carries its request id. Secrets and patient data never reach the log: request bodies and headers
 * are not logged at all, and the redact list is a second line of defence.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

const REDACT = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'access_token',
  'fhirAuthorization',
  'token',
  'jwt',
  'prefetch',
  'context',
  '*.access_token',
  '*.authorization',
];

/** Creates the root logger. `destination` lets tests capture output to prove nothing sensitive is logged. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      // `app`, not `service`: request lines also carry `cdsService` (the CDS service id), and a key that
      // appears twice in one JSON line is kept only once by most log tools.
      base: { app: 'spine-bone-health-cds' },
      redact: { paths: REDACT, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

const requestScope = new AsyncLocalStorage<Logger>();

/** Runs `fn` with `logger` as the current request logger. */
export function runWithLogger<T>(logger: Logger, fn: () => T): T {
  return requestScope.run(logger, fn);
}

/** The current request's logger, or `fallback` outside a request. */
export function currentLogger(fallback: Logger): Logger {
  return requestScope.getStore() ?? fallback;
}
