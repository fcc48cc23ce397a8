/**
 * The embedded FHIR server behind a bearer-token check and a fault injector, for the write-back tests that
 * need authentication or specific upstream failures (429, 503 with Retry-After). Real HTTP on a free port.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Bundle } from 'fhir/r4.js';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/server.js';

export interface GuardedFhirServer {
  baseUrl: string;
  /** Requests that reached the FHIR router (after the guard), e.g. `POST /Observation`. */
  readonly served: string[];
  /** Requests the guard refused with 401. */
  readonly refused: number;
  /** The next `count` requests are answered with `status` (and headers) instead of being served. */
  failNext(count: number, status: number, headers?: Record<string, string>): void;
  /** The next `count` requests are served (and applied), but the connection drops before the answer. */
  dropResponseNext(count: number): void;
  stop(): Promise<void>;
}

/** Starts the guarded server; `authorize` decides on the Authorization header (omit to allow all). */
export async function startGuardedFhirServer(options: {
  seed?: Bundle[];
  authorize?: (authorization: string | undefined) => boolean;
  /** Served unauthenticated at `/fhir/.well-known/smart-configuration`. */
  smartConfiguration?: Record<string, unknown>;
}): Promise<GuardedFhirServer> {
  const fhir = await createEmbeddedFhirServer(options.seed ? { seed: options.seed } : {});
  const served: string[] = [];
  let refused = 0;
  let faults: { count: number; status: number; headers: Record<string, string> } | undefined;
  let drops = 0;

  const app = express();
  if (options.smartConfiguration) {
    const config = options.smartConfiguration;
    app.get('/fhir/.well-known/smart-configuration', (_req, res) => {
      res.json(config);
    });
  }
  app.use('/fhir', (req, res, next) => {
    if (faults && faults.count > 0) {
      faults.count--;
      res
        .status(faults.status)
        .set(faults.headers)
        .type('application/fhir+json')
        .send(
          JSON.stringify({
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'transient', details: { text: 'injected fault' } }],
          }),
        );
      return;
    }
    if (options.authorize && !options.authorize(req.headers.authorization)) {
      refused++;
      res
        .status(401)
        .set('www-authenticate', 'Bearer error="invalid_token"')
        .json({
          resourceType: 'OperationOutcome',
          issue: [{ severity: 'error', code: 'login', details: { text: 'invalid or expired token' } }],
        });
      return;
    }
    served.push(`${req.method} ${req.path}`);
    if (drops > 0) {
      drops--;
      // The request is handled in full; only its answer is lost on the way back.
      res.end = (() => {
        req.socket.destroy();
        return res;
      }) as typeof res.end;
    }
    next();
  });
  app.use('/fhir', fhir.router);

  const server = http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  return {
    baseUrl: `http://127.0.0.1:${port}/fhir`,
    served,
    get refused() {
      return refused;
    },
    failNext(count, status, headers = {}) {
      faults = { count, status, headers };
    },
    dropResponseNext(count) {
      drops = count;
    },
    async stop() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
