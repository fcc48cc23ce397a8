/**
 * Two back-ends behind one small surface: a PostgreSQL server (`pg`) when DATABASE_URL is set (replicas
 * share it), else embedded SQLite (better-sqlite3) in DATA_DIR/cds.sqlite. `kind` names the SQL dialect;
 * the store and the migrations say where the two differ.
 */
import path from 'node:path';
// Each driver is loaded only when its back-end is used: start-up pays for one, not both.
import type pg from 'pg';
import { MIGRATIONS } from './migrations.js';

export type SqlParam = string | number | boolean | null | Date;

/** The smallest database surface the store needs; both back-ends implement it. */
export interface Db {
  /** The SQL dialect: PostgreSQL or SQLite. */
  readonly kind: 'postgres' | 'sqlite';
  query<R extends object>(sql: string, params?: SqlParam[]): Promise<R[]>;
  /** Runs `fn` in one transaction (on one connection). */
  transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

class PgDb implements Db {
  readonly kind = 'postgres' as const;
  constructor(readonly pool: pg.Pool) {}

  async query<R extends object>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    const res = await this.pool.query<R>(sql, params);
    return res.rows;
  }

  async transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await fn({
        query: async <R extends object>(sql: string, params: SqlParam[] = []) =>
          (await client.query<R>(sql, params)).rows,
      });
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export interface DbOptions {
  databaseUrl?: string;
  /** Directory of the embedded database file (cds.sqlite); `memory://` keeps it in memory (tests). */
  dataDir: string;
  /**
   * How long to keep retrying (with backoff) while DATABASE_URL's server does not accept connections yet,
   * as when the service and its database start together. 0: one attempt. Default 30 s.
   */
  startupTimeoutMs?: number;
}

/** The pg pool behind a PostgreSQL-backed Db (shared with, e.g., the rate limiter), or undefined. */
export function postgresPool(db: Db): pg.Pool | undefined {
  return db instanceof PgDb ? db.pool : undefined;
}

/** The server cannot be reached or is not ready yet: worth waiting for at start-up. */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  '57P03', // cannot_connect_now: the server is starting up or shutting down
  '53300', // too_many_connections
]);

function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
  // pg reports its own connection timeout without a code.
  return err instanceof Error && /timeout|terminated unexpectedly|Connection terminated/i.test(err.message);
}

/** DATABASE_URL with its password masked, for messages. */
export function redactDatabaseUrl(databaseUrl: string): string {
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') url.password = '***';
    for (const key of [...url.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) url.searchParams.set(key, '***');
    }
    return url.href;
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

/** A start-up failure of the database; the message names DATABASE_URL, never its password. */
export class DatabaseStartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseStartupError';
  }
}

/**
 * Waits until the PostgreSQL server accepts a query, retrying transient failures with exponential
 * backoff (250 ms doubling to 5 s) for at most `timeoutMs`. Authentication or configuration errors are not
 * retried.
 */
async function waitForPostgres(pool: pg.Pool, databaseUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      await pool.query('SELECT 1');
      return;
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      const reason = `${err instanceof Error ? err.message : 'error'}${typeof code === 'string' ? ` (${code})` : ''}`;
      const where = `the PostgreSQL server of DATABASE_URL ${redactDatabaseUrl(databaseUrl)}`;
      if (!isTransient(err)) {
        throw new DatabaseStartupError(`Cannot use ${where}: ${reason}`);
      }
      if (Date.now() + delay > deadline) {
        throw new DatabaseStartupError(
          `Cannot reach ${where} after ${attempts} attempt(s) in ${Math.round(timeoutMs / 1000)} s (DATABASE_STARTUP_TIMEOUT_MS): ${reason}`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/** The embedded database's file name inside DATA_DIR. */
export const SQLITE_FILE = 'cds.sqlite';

/** Opens the database and applies pending migrations. */
export async function openDb(options: DbOptions): Promise<Db> {
  let db: Db;
  if (options.databaseUrl) {
    const { default: pgDriver } = await import('pg');
    const pool = new pgDriver.Pool({
      connectionString: options.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5000,
    });
    // An idle client's network error must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    try {
      await waitForPostgres(pool, options.databaseUrl, options.startupTimeoutMs ?? 30_000);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    db = new PgDb(pool);
  } else {
    const { openSqlite } = await import('./sqlite.js');
    db = openSqlite(options.dataDir === 'memory://' ? ':memory:' : path.join(options.dataDir, SQLITE_FILE));
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/**
 * Applies migrations in order, once each. On PostgreSQL under an advisory lock so replicas starting
 * together agree; on SQLite the transaction's write lock (BEGIN IMMEDIATE) does the same for processes
 * sharing the file.
 */
export async function migrate(db: Db): Promise<void> {
  const sqlite = db.kind === 'sqlite';
  await db.transaction(async (tx) => {
    if (!sqlite) await tx.query('SELECT pg_advisory_xact_lock(727274)');
    await tx.query(
      sqlite
        ? SQLITE_SCHEMA_MIGRATIONS
        : 'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      for (const statement of sqlite ? m.sqlite : m.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}

const SQLITE_SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,
  applied_at text NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))`;
