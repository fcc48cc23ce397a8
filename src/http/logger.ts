/**
 * JSON logging (pino). Each request gets a child logger carrying its request id (src/http/middleware.ts
 * passes it along explicitly). Secrets and patient data never reach the log: request bodies and headers
 * are not logged at all, and the redact list is a second line of defence.
 */
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
