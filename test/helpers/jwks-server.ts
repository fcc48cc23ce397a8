/**
 * A real HTTP server on a free loopback port that publishes a JWKS, counting every request so tests can
 * prove what the service fetched (and what it did not). Keys can be rotated and failures injected.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JwksServer {
  /** Base URL, e.g. http://127.0.0.1:12345 */
  origin: string;
  /** URL of the published JWKS: `${origin}/.well-known/jwks.json`. */
  url: string;
  /** Requests received, per path (any path counts, so a fetch of an unlisted URL shows up). */
  hits(path?: string): number;
  /** Total requests received. */
  totalHits(): number;
  /** Replaces the published key set (key rotation). */
  setJwks(jwks: unknown): void;
  /** Serves this raw body instead of the JWKS (garbage, oversized, ...); undefined restores the JWKS. */
  setRawBody(body: string | undefined): void;
  /** Delays every answer (timeout tests). */
  setDelayMs(ms: number): void;
  /** Answers with this status instead of 200. */
  setStatus(status: number): void;
  /** Answers every request with a 302 to this URL; undefined stops redirecting. */
  setRedirect(location: string | undefined): void;
  close(): Promise<void>;
}

/** Starts the server; `jwks` is published at `/.well-known/jwks.json`. */
export async function startJwksServer(jwks: unknown): Promise<JwksServer> {
  let current: unknown = jwks;
  let raw: string | undefined;
  let delayMs = 0;
  let status = 200;
  let redirect: string | undefined;
  const counts = new Map<string, number>();
  let total = 0;

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    total += 1;
    const answer = (): void => {
      if (redirect !== undefined) {
        res.writeHead(302, { location: redirect }).end();
        return;
      }
      if (status !== 200) {
        res.writeHead(status, { 'content-type': 'text/plain' }).end('no');
        return;
      }
      if (path !== '/.well-known/jwks.json' && raw === undefined) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(raw ?? JSON.stringify(current));
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    url: `${origin}/.well-known/jwks.json`,
    hits: (path = '/.well-known/jwks.json') => counts.get(path) ?? 0,
    totalHits: () => total,
    setJwks: (next) => {
      current = next;
    },
    setRawBody: (body) => {
      raw = body;
    },
    setDelayMs: (ms) => {
      delayMs = ms;
    },
    setStatus: (next) => {
      status = next;
    },
    setRedirect: (location) => {
      redirect = location;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
