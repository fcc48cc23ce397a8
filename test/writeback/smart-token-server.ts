/**
 * A small but real SMART Backend Services authorization server for tests: a token endpoint that verifies
 * the client assertion (signature with the registered public key, iss = sub = client_id, aud = token URL,
 * exp at most 5 minutes ahead, jti never reused) and issues opaque access tokens that the protected FHIR
 * server checks. Clock injectable so token expiry can be tested without waiting.
 */
import { once } from 'node:events';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express from 'express';
import {
  createLocalJWKSet,
  decodeJwt,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type ProtectedHeaderParameters,
} from 'jose';

export interface RegisteredClient {
  clientId: string;
  /** Public keys registered for the client (JWKs with kid). */
  keys: JWK[];
}

export interface VerifiedAssertion {
  header: ProtectedHeaderParameters;
  payload: JWTPayload;
  scope: string;
}

export interface SmartTokenServer {
  tokenUrl: string;
  /** Every POST to the token endpoint, successful or not. */
  readonly tokenRequests: number;
  /** Assertions that passed verification, in order. */
  readonly verified: VerifiedAssertion[];
  /** Why refused requests were refused. */
  readonly refusals: string[];
  /** Every access token issued so far (to prove none of them reaches a log). */
  readonly issued: string[];
  /** True when the header carries a token this server issued that is neither expired nor revoked. */
  accepts(authorization: string | undefined): boolean;
  revokeAll(): void;
  setExpiresIn(seconds: number): void;
  stop(): Promise<void>;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Starts the token endpoint at `http://127.0.0.1:<port>/auth/token`. */
export async function startSmartTokenServer(options: {
  clients: RegisteredClient[];
  expiresIn?: number;
  now?: () => Date;
}): Promise<SmartTokenServer> {
  const now = options.now ?? (() => new Date());
  let expiresIn = options.expiresIn ?? 300;
  let tokenRequests = 0;
  const verified: VerifiedAssertion[] = [];
  const refusals: string[] = [];
  const issued: string[] = [];
  const tokens = new Map<string, number>();
  const seenJti = new Set<string>();
  let tokenUrl = '';

  const app = express();
  app.post('/auth/token', express.urlencoded({ extended: false }), (req, res) => {
    tokenRequests++;
    const body = req.body as Record<string, string | undefined>;
    const refuse = (why: string, error = 'invalid_client', status = 401): void => {
      refusals.push(why);
      res.status(status).json({ error, error_description: why });
    };
    void (async () => {
      if (body.grant_type !== 'client_credentials')
        return refuse('grant_type', 'unsupported_grant_type', 400);
      if (body.client_assertion_type !== ASSERTION_TYPE)
        return refuse('client_assertion_type', 'invalid_request', 400);
      const assertion = body.client_assertion ?? '';
      let iss: string | undefined;
      try {
        iss = decodeJwt(assertion).iss;
      } catch {
        return refuse('assertion is not a JWT');
      }
      const client = options.clients.find((c) => c.clientId === iss);
      if (!client) return refuse('unknown client');
      try {
        const { payload, protectedHeader } = await jwtVerify(
          assertion,
          createLocalJWKSet({ keys: client.keys }),
          {
            algorithms: ['RS384', 'ES384'],
            issuer: client.clientId,
            subject: client.clientId,
            audience: tokenUrl,
            currentDate: now(),
            requiredClaims: ['exp', 'jti'],
          },
        );
        const nowSeconds = Math.floor(now().getTime() / 1000);
        if ((payload.exp ?? 0) - nowSeconds > 300) return refuse('exp more than 5 minutes ahead');
        if (!payload.jti || seenJti.has(payload.jti)) return refuse('jti reused');
        seenJti.add(payload.jti);
        const scope = body.scope ?? '';
        verified.push({ header: protectedHeader, payload, scope });
        const token = randomBytes(24).toString('base64url');
        issued.push(token);
        tokens.set(token, now().getTime() + expiresIn * 1000);
        res.json({ access_token: token, token_type: 'bearer', expires_in: expiresIn, scope });
      } catch (err) {
        refuse(`assertion refused: ${(err as Error).name}`);
      }
    })();
  });

  const server = http.createServer(app);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  tokenUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/token`;

  return {
    tokenUrl,
    get tokenRequests() {
      return tokenRequests;
    },
    verified,
    refusals,
    issued,
    accepts(authorization) {
      const m = /^Bearer (.+)$/.exec(authorization ?? '');
      const expiry = m?.[1] ? tokens.get(m[1]) : undefined;
      return expiry !== undefined && now().getTime() < expiry;
    },
    revokeAll() {
      tokens.clear();
    },
    setExpiresIn(seconds) {
      expiresIn = seconds;
    },
    async stop() {
      const closed = once(server, 'close');
      server.close();
      server.closeAllConnections();
      await closed;
    },
  };
}
