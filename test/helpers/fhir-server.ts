/**
 * Starts the embedded FHIR server on a free loopback port for tests, mounted at `/fhir`.
 * `stop()` closes the listener and every open connection but keeps the data; `restart()` listens again on
 * the same port with the same data ("FHIR server down, then back"). `slow` delays every request.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Bundle } from 'fhir/r4.js';
import type { EmbeddedFhirRepository, WriteValidator } from '../../src/demo/fhir-server/repository.js';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/server.js';

export interface StartFhirServerOptions {
  seed?: Bundle[];
  validate?: WriteValidator;
  /** Structural R4 validation of writes (default true). */
  baseValidation?: boolean;
  /** Artificial delay in ms before every request is handled (client-timeout tests). */
  slow?: number;
  maxPageSize?: number;
  defaultPageSize?: number;
  /** Largest accepted request body in bytes (default 10 MB). */
  maxBodyBytes?: number;
  now?: () => Date;
}

export interface RecordedRequest {
  method: string;
  /** Path and query relative to the FHIR base, e.g. `/Observation?patient=p1`. */
  url: string;
  /** The Authorization header as received (tests check the bearer token is passed on). */
  authorization?: string;
}

export interface TestFhirServer {
  /** e.g. `http://127.0.0.1:43123/fhir` (no trailing slash). */
  baseUrl: string;
  port: number;
  repo: EmbeddedFhirRepository;
  /** Every request received since start (or the last `clearRequests()`), in arrival order. */
  requests: RecordedRequest[];
  clearRequests(): void;
  /** Changes the per-request delay (ms) from now on. */
  setSlow(ms: number): void;
  /** Drops all data and reloads the seed. */
  reset(): Promise<void>;
  stop(): Promise<void>;
  restart(): Promise<void>;
}

/** Starts an embedded FHIR server on 127.0.0.1 with a free port; see TestFhirServer. */
export async function startFhirServer(options: StartFhirServerOptions = {}): Promise<TestFhirServer> {
  const fhir = await createEmbeddedFhirServer({
    ...(options.seed ? { seed: options.seed } : {}),
    ...(options.validate ? { validate: options.validate } : {}),
    ...(options.baseValidation !== undefined ? { baseValidation: options.baseValidation } : {}),
    ...(options.maxPageSize !== undefined ? { maxPageSize: options.maxPageSize } : {}),
    ...(options.defaultPageSize !== undefined ? { defaultPageSize: options.defaultPageSize } : {}),
    ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  let delay = options.slow ?? 0;
  const requests: RecordedRequest[] = [];

  const app = express();
  app.use('/fhir', (req, _res, next) => {
    requests.push({
      method: req.method,
      url: req.url,
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    if (delay > 0) {
      setTimeout(next, delay);
    } else {
      next();
    }
  });
  app.use('/fhir', fhir.router);

  let server: http.Server | undefined;
  let port = 0;

  async function listen(): Promise<void> {
    const s = http.createServer(app);
    s.listen(port, '127.0.0.1');
    await once(s, 'listening');
    port = (s.address() as AddressInfo).port;
    server = s;
  }

  await listen();

  return {
    get baseUrl() {
      return `http://127.0.0.1:${port}/fhir`;
    },
    get port() {
      return port;
    },
    repo: fhir.repo,
    requests,
    clearRequests() {
      requests.length = 0;
    },
    setSlow(ms: number) {
      delay = ms;
    },
    reset: () => fhir.reset(),
    async stop() {
      const s = server;
      if (!s) {
        return;
      }
      server = undefined;
      const closed = once(s, 'close');
      s.close();
      s.closeAllConnections();
      await closed;
    },
    async restart() {
      if (server) {
        return;
      }
      await listen();
    },
  };
}
