/**
 * The bench CDS client: an ES384 key pair (test/helpers/jwt.ts), its trusted-client entry for
 * CDS_CLIENTS_FILE, and tokens signed exactly as a real client signs them (one per request, unique jti,
 * aud = the URL called). Tokens for load phases are signed before the phase starts, so the load
 * generator spends no CPU on signing while the server is being measured.
 */
import { KeyObject, randomUUID, sign, type KeyObject as NodeKeyObject } from 'node:crypto';
import { createTestClient, type TestClient } from '../../test/helpers/jwt.js';

export const BENCH_ISS = 'urn:spine-bone-health-cds:bench-ehr';
/** Long enough for a whole run, well under the service's one-hour cap on exp - iat. */
const LIFETIME_S = 1800;

export interface BenchClient {
  client: TestClient;
  /** The entry for CDS_CLIENTS_FILE (public key only). */
  clientsFileEntry: { iss: string; jwks: TestClient['jwks']; label: string };
  /** Signs one token for `aud` now (synchronous: usable inside autocannon's setupRequest). */
  signSync(aud: string): string;
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

export async function createBenchClient(): Promise<BenchClient> {
  const client = await createTestClient({ alg: 'ES384', iss: BENCH_ISS, kid: `bench-${randomUUID()}` });
  const key: NodeKeyObject = KeyObject.from(client.privateKey);
  const header = b64({ alg: 'ES384', typ: 'JWT', kid: client.kid });
  return {
    client,
    clientsFileEntry: { iss: client.iss, jwks: client.jwks, label: 'benchmark client' },
    signSync(aud) {
      const iat = Math.floor(Date.now() / 1000);
      const input = `${header}.${b64({ iss: BENCH_ISS, aud, iat, exp: iat + LIFETIME_S, jti: randomUUID() })}`;
      // JWS ES384 signatures are the raw r||s pair (RFC 7518 §3.4), not DER.
      const signature = sign('sha384', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
      return `${input}.${signature.toString('base64url')}`;
    },
  };
}

/**
 * Tokens signed ahead for one audience. `next()` hands out each token once; when the stock runs out it
 * signs on the spot and counts it, so an underestimate shows up in the report instead of as 401s.
 */
export class TokenPool {
  private cursor = 0;
  /** Tokens signed on the spot since the last fill(): the stock was too small. */
  signedDuringLoad = 0;

  constructor(
    private readonly bench: BenchClient,
    readonly aud: string,
    private readonly tokens: string[] = [],
  ) {}

  /**
   * A pool handing out the same tokens with a cursor of its own, for a second server answering for the
   * same URL: each process sees each jti once, and the tokens are signed once.
   */
  sibling(): TokenPool {
    return new TokenPool(this.bench, this.aud, this.tokens);
  }

  /**
   * Signs until `count` unused tokens are in stock and starts counting shortfalls afresh (tokens signed
   * on the spot during a warm-up do not matter). Returns the milliseconds spent.
   */
  fill(count: number): number {
    const started = performance.now();
    while (this.tokens.length - this.cursor < count) this.tokens.push(this.bench.signSync(this.aud));
    this.signedDuringLoad = 0;
    return performance.now() - started;
  }

  next(): string {
    const token = this.tokens[this.cursor];
    if (token !== undefined) {
      this.cursor++;
      return token;
    }
    this.signedDuringLoad++;
    return this.bench.signSync(this.aud);
  }
}
