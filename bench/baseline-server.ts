/**
 * The baselines of the throughput and latency benchmarks, run as their own process (spawned by
 * bench/service.ts) on a port of its own, answering for the service's public URL (PUBLIC_BASE_URL) as a
 * server behind a proxy does, so the same signed requests fit both:
 * - POST /bare: a bare express JSON handler (parse the body, answer `{"cards":[]}`), for context;
 * - POST <BENCH_SERVICE_PATH>: the same, plus verification of the ES384 JWT the way the service's
 *   authenticator does it with jose: header and claims decoded and checked (alg, kid, iss, aud, exp,
 *   iat, jti unique), then compactVerify with the key imported once.
 * Env: PORT, PUBLIC_BASE_URL, CDS_CLIENTS_FILE (the bench client), BENCH_SERVICE_PATH, MAX_REQUEST_BYTES.
 */
import fs from 'node:fs';
import http from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import { compactVerify, importJWK, type JWK } from 'jose';

const port = Number(process.env.PORT);
const publicBaseUrl = process.env.PUBLIC_BASE_URL ?? '';
const servicePath = process.env.BENCH_SERVICE_PATH ?? '';
const limit = Number(process.env.MAX_REQUEST_BYTES ?? 5 * 1024 * 1024);
const [client] = JSON.parse(fs.readFileSync(process.env.CDS_CLIENTS_FILE ?? '', 'utf8')) as {
  iss: string;
  jwks: { keys: (JWK & { kid: string })[] };
}[];
if (!client || !port || !servicePath)
  throw new Error('baseline-server: PORT, BENCH_SERVICE_PATH and CDS_CLIENTS_FILE are required');
const jwk = client.jwks.keys[0];
if (!jwk) throw new Error('baseline-server: the bench client has no key');
const key = await importJWK(jwk, 'ES384');
const expectedAud = publicBaseUrl + servicePath;
const seen = new Map<string, number>();

const BEARER = /^Bearer +(.*)$/i;
const COMPACT_JWS = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/;

function decode(segment: string): Record<string, unknown> {
  const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
  return value as Record<string, unknown>;
}

async function verify(authorization: string | undefined): Promise<boolean> {
  const token = BEARER.exec(authorization?.trim() ?? '')?.[1] ?? '';
  const parts = COMPACT_JWS.exec(token);
  if (!parts || token.length > 8192) return false;
  const header = decode(parts[1] ?? '');
  if (header.alg !== 'ES384' || header.kid !== jwk?.kid || (header.typ ?? 'JWT') !== 'JWT') return false;
  const claims = decode(parts[2] ?? '');
  const now = Date.now() / 1000;
  if (claims.iss !== client?.iss || claims.aud !== expectedAud) return false;
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') return false;
  if (claims.exp + 60 <= now || claims.iat - 60 > now || claims.exp - claims.iat > 3600) return false;
  if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > 256) return false;
  try {
    await compactVerify(token, key, { algorithms: ['ES384'] });
  } catch {
    return false;
  }
  // The replay check a single instance needs: in memory, forgotten after expiry.
  if (seen.has(claims.jti)) return false;
  seen.set(claims.jti, claims.exp + 60);
  return true;
}

const app = express();
app.disable('x-powered-by');
const json = express.json({ limit, type: ['application/json', 'application/*+json'] });
app.post('/bare', json, (_req: Request, res: Response) => {
  res.json({ cards: [] });
});
app.post(servicePath, json, async (req: Request, res: Response, next: NextFunction) => {
  try {
    if (!(await verify(req.headers.authorization))) {
      res.status(401).json({ resourceType: 'OperationOutcome' });
      return;
    }
    res.json({ cards: [] });
  } catch (err) {
    next(err);
  }
});
setInterval(() => {
  const now = Date.now() / 1000;
  for (const [jti, until] of seen) if (until < now) seen.delete(jti);
}, 10_000).unref();

const server = http.createServer(app);
server.listen(port, '127.0.0.1', () => console.log(`BASELINE-READY ${JSON.stringify({ port })}`));
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
