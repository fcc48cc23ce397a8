/**
 * Starts the real app (createApp) with the imaging router mounted at /imaging, a real store, the real JWT
 * authenticator and a test client; posts multipart uploads signed for the exact URL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createApp } from '../../src/app.js';
import type { CdsClientInput } from '../../src/config/clients.js';
import { createClientAuthenticator } from '../../src/http/auth/authenticator.js';
import { createLogger } from '../../src/http/logger.js';
import { createImagingRouter, type ImagingRouterDeps } from '../../src/imaging/api.js';
import type { Store } from '../../src/store/store.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';

export interface ImagingService {
  baseUrl: string;
  client: TestClient;
  logs: string[];
  /** POSTs a multipart form; `token: null` sends no Authorization header. */
  upload(path: string, form: FormData, init?: { token?: string | null }): Promise<Response>;
  post(
    path: string,
    init?: { token?: string | null; body?: string; contentType?: string },
  ): Promise<Response>;
  close(): Promise<void>;
}

export type RouterOptions = Omit<ImagingRouterDeps, 'authenticator' | 'logger'>;

export async function startImagingService(store: Store, options: RouterOptions): Promise<ImagingService> {
  const client = await createTestClient({ alg: 'ES384' });
  const logs: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const authenticator = createClientAuthenticator({
    clients: [{ iss: client.iss, jwks: client.jwks } as CdsClientInput],
    publicBaseUrl: baseUrl,
    replayGuard: { claim: (iss, jti, exp) => store.claimJti(iss, jti, exp) },
    logger,
  });
  const router = createImagingRouter({ ...options, authenticator, logger });
  const app = createApp({
    config: { maxRequestBytes: 1024 * 1024, fhirTimeoutMs: 2000 },
    logger,
    store,
    services: [],
    authenticator,
    mounts: [{ path: '/imaging', router, label: '/imaging/*' }],
  });
  server.on('request', app);
  const auth = async (path: string, token: string | null | undefined): Promise<Record<string, string>> =>
    token === null
      ? {}
      : { authorization: `Bearer ${token ?? (await client.sign({ aud: baseUrl + path.split('?')[0] }))}` };
  return {
    baseUrl,
    client,
    logs,
    async upload(path, form, init = {}) {
      return fetch(baseUrl + path, { method: 'POST', headers: await auth(path, init.token), body: form });
    },
    async post(path, init = {}) {
      return fetch(baseUrl + path, {
        method: 'POST',
        headers: {
          ...(await auth(path, init.token)),
          ...(init.contentType ? { 'content-type': init.contentType } : {}),
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A multipart form with DICOM files and either JSON ROIs or an SR file. */
export function form(parts: {
  files?: { name: string; data: Uint8Array }[];
  rois?: unknown;
  roisAsField?: boolean;
  sr?: Uint8Array;
  write?: string;
}): FormData {
  const f = new FormData();
  for (const file of parts.files ?? []) {
    f.append('files', new Blob([file.data], { type: 'application/dicom' }), file.name);
  }
  if (parts.rois !== undefined) {
    const text = typeof parts.rois === 'string' ? parts.rois : JSON.stringify(parts.rois);
    if (parts.roisAsField) f.append('rois', text);
    else f.append('rois', new Blob([text], { type: 'application/json' }), 'rois.json');
  }
  if (parts.sr) f.append('sr', new Blob([parts.sr], { type: 'application/dicom' }), 'rois-sr.dcm');
  if (parts.write !== undefined) f.append('write', parts.write);
  return f;
}
