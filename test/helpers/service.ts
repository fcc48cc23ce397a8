/**
 * Starts the real service app on a free loopback port, with a real store, the real JWT authenticator
 * and a captured JSON log, and signs requests as a trusted test client would.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createApp, type AppDeps } from '../../src/app.js';
import { ehrProfile } from '../../src/cds/ehr-profiles.js';
import type { CdsClientInput } from '../../src/config/clients.js';
import type { FhirFetchLimits } from '../../src/fhir/client.js';
import { createFhirAccess } from '../../src/fhir/access.js';
import { createClientAuthenticator } from '../../src/http/auth/authenticator.js';
import { createClientLimiter, type ClientLimitsOptions } from '../../src/http/rate-limit.js';
import { createLogger } from '../../src/http/logger.js';
import type { CdsService } from '../../src/services/service.js';
import { createAuditQueue } from '../../src/store/audit-queue.js';
import type { Store } from '../../src/store/store.js';
import { createTestClient, type TestClient } from './jwt.js';

export interface TestService {
  baseUrl: string;
  store: Store;
  client: TestClient;
  /** Every log line the service wrote, raw. */
  logs: string[];
  /** POST JSON with a freshly signed JWT for the exact URL. */
  post(
    path: string,
    body: unknown,
    init?: { headers?: Record<string, string>; token?: string | null },
  ): Promise<Response>;
  get(path: string, init?: { token?: string | null }): Promise<Response>;
  /** Writes the queued audit rows now (they are written off the request path). */
  flushAudit(): Promise<void>;
  /** A valid token for `path`. */
  token(path: string): Promise<string>;
  close(): Promise<void>;
}

export interface TestServiceOptions {
  store: Store;
  services: CdsService[];
  /** Extra trusted clients besides the default ES384 test client. */
  clients?: CdsClientInput[];
  fhirTimeoutMs?: number;
  maxRequestBytes?: number;
  now?: () => Date;
  readinessChecks?: AppDeps['readinessChecks'];
  mounts?: AppDeps['mounts'];
  /** FHIR servers the default test client may name (loopback servers must be listed to be read). */
  fhirServers?: string[];
  fhirLimits?: Partial<FhirFetchLimits>;
  /** Per-client limits (default: none). */
  clientLimits?: ClientLimitsOptions;
}

export async function startTestService(options: TestServiceOptions): Promise<TestService> {
  const client = await createTestClient({ alg: 'ES384' });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger('debug', sink);
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients: CdsClientInput[] = [
    {
      iss: client.iss,
      jwks: client.jwks,
      ...(options.fhirServers ? { fhirServers: options.fhirServers } : {}),
    } as CdsClientInput,
    ...(options.clients ?? []),
  ];
  const authenticator = createClientAuthenticator({
    clients,
    publicBaseUrl: baseUrl,
    replayGuard: { claim: (iss, jti, exp) => options.store.claimJti(iss, jti, exp) },
    logger,
  });
  const audit = createAuditQueue(options.store, logger, { flushMs: 20 });
  const app = createApp({
    config: {
      maxRequestBytes: options.maxRequestBytes ?? 5 * 1024 * 1024,
      fhirTimeoutMs: options.fhirTimeoutMs ?? 2000,
    },
    logger,
    store: options.store,
    services: options.services,
    authenticator,
    audit,
    now: options.now,
    readinessChecks: options.readinessChecks,
    mounts: options.mounts,
    fhirAccess: createFhirAccess({ clients, limits: options.fhirLimits }),
    clientLimiter: options.clientLimits ? await createClientLimiter(options.clientLimits) : undefined,
    // Each client's EHR profile, as src/server.ts wires it (generic for the default test client).
    profileOf: (iss) => ehrProfile(options.clients?.find((c) => c.iss === iss) ?? {}),
  });
  server.on('request', app);

  const token = (path: string) => client.sign({ aud: baseUrl + path.split('?')[0] });
  const authHeader = async (path: string, t: string | null | undefined): Promise<Record<string, string>> => {
    if (t === null) return {};
    return { authorization: `Bearer ${t ?? (await token(path))}` };
  };
  return {
    baseUrl,
    store: options.store,
    client,
    logs,
    token,
    flushAudit: () => audit.flush(),
    async post(path, body, init = {}) {
      return fetch(baseUrl + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(await authHeader(path, init.token)),
          ...init.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async get(path, init = {}) {
      return fetch(baseUrl + path, { headers: await authHeader(path, init.token) });
    },
    async close() {
      await audit.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
