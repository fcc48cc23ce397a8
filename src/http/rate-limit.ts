/**
 * Per-client limits, applied after authentication (keyed by the client's `iss`), so one abusive or broken
 * EHR cannot starve the others: a request rate over a fixed window (rate-limiter-flexible; shared by every
 * replica through PostgreSQL when DATABASE_URL is set, in memory otherwise) and a cap on requests in
 * flight (per instance). Over either: 429 with Retry-After and an OperationOutcome.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type pg from 'pg';
import {
  RateLimiterMemory,
  RateLimiterPostgres,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { AppError } from '../errors.js';

export interface ClientLimitsOptions {
  /** Requests per client per window; 0 disables the rate limit. */
  requests: number;
  windowSeconds: number;
  /** Requests per client in flight at once on this instance; 0 disables the cap. */
  maxConcurrent: number;
  /** Shared PostgreSQL pool: the rate counters live there so replicas share them. */
  pool?: pg.Pool;
  /** Table for the shared counters (created when missing). */
  tableName?: string;
}

/**
 * The limiter key of the client a request was authenticated as (set by the authentication middleware).
 * Hashed: an issuer is any string (possibly longer than the store's key column); the hash is not secret.
 * Only configured clients get this far, so the memo of hashes stays as small as CDS_CLIENTS_FILE.
 */
function keyOf(memo: Map<string, string>, locals: Record<string, unknown>): string | undefined {
  const iss = (locals.client as { iss?: unknown } | undefined)?.iss;
  if (typeof iss !== 'string') return undefined;
  let key = memo.get(iss);
  if (key === undefined) {
    key = createHash('sha256').update(iss).digest('base64url');
    memo.set(iss, key);
  }
  return key;
}

async function postgresLimiter(
  pool: pg.Pool,
  options: { points: number; duration: number; tableName: string; insurance: RateLimiterAbstract },
): Promise<RateLimiterAbstract> {
  return new Promise((resolve, reject) => {
    const limiter: RateLimiterPostgres = new RateLimiterPostgres(
      {
        storeClient: pool,
        storeType: 'pool',
        tableName: options.tableName,
        keyPrefix: 'cds-client',
        points: options.points,
        duration: options.duration,
        clearExpiredByTimeout: true,
        // When PostgreSQL fails mid-flight, each instance keeps limiting on its own rather than failing
        // every request or none.
        insuranceLimiter: options.insurance,
      },
      (err?: Error) => (err ? reject(err) : resolve(limiter)),
    );
  });
}

/** Builds the limiter middleware (async: the shared table is created when missing). */
export async function createClientLimiter(options: ClientLimitsOptions): Promise<RequestHandler> {
  const duration = options.windowSeconds;
  let rate: RateLimiterAbstract | undefined;
  if (options.requests > 0) {
    const memory = new RateLimiterMemory({ keyPrefix: 'cds-client', points: options.requests, duration });
    rate = options.pool
      ? await postgresLimiter(options.pool, {
          points: options.requests,
          duration,
          tableName: options.tableName ?? 'client_rate_limits',
          insurance: memory,
        })
      : memory;
  }
  // Requests in flight per client on this instance: a plain counter, incremented on arrival and given back
  // once when the answer is sent or the connection closes (nothing to expire, nothing to share).
  const inFlight = new Map<string, number>();
  const keys = new Map<string, string>();

  return async (_req, res, next) => {
    const key = keyOf(keys, res.locals as Record<string, unknown>);
    if (key === undefined) {
      next();
      return;
    }
    if (rate) {
      try {
        await rate.consume(key);
      } catch (rejection) {
        if (rejection instanceof RateLimiterRes) {
          res.setHeader('Retry-After', String(Math.max(1, Math.ceil(rejection.msBeforeNext / 1000))));
          throw new AppError(
            'rate-limited',
            `Too many requests from this client: at most ${options.requests} per ${duration} s`,
          );
        }
        throw rejection;
      }
    }
    if (options.maxConcurrent > 0) {
      const current = inFlight.get(key) ?? 0;
      if (current >= options.maxConcurrent) {
        res.setHeader('Retry-After', '1');
        throw new AppError(
          'too-many-concurrent-requests',
          `Too many requests from this client in progress at once: at most ${options.maxConcurrent}`,
        );
      }
      inFlight.set(key, current + 1);
      let released = false;
      const release = () => {
        if (released) return;
        released = true;
        const left = (inFlight.get(key) ?? 1) - 1;
        if (left > 0) inFlight.set(key, left);
        else inFlight.delete(key);
      };
      res.once('finish', release);
      res.once('close', release);
    }
    next();
  };
}
