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
  constructor(private readonly pool: pg.Pool) {}

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
