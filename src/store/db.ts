/**
 * One SQL dialect (PostgreSQL) and one set of migrations for both back-ends: a PostgreSQL server (`pg`)
 * when DATABASE_URL is set, else embedded PostgreSQL (PGlite) in DATA_DIR.
 */
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';
import { MIGRATIONS } from './migrations.js';

export type SqlParam = string | number | boolean | null | Date;

/** The smallest database surface the store needs; both back-ends implement it. */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
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

class PgliteDb implements Db {
  readonly kind = 'pglite' as const;
  constructor(private readonly db: PGlite) {}

  async query<R extends object>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    return (await this.db.query<R>(sql, params)).rows;
  }

  async transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) =>
      fn({
        query: async <R extends object>(sql: string, params: SqlParam[] = []) =>
          (await tx.query<R>(sql, params)).rows,
      }),
    );
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}

export interface DbOptions {
  databaseUrl?: string;
  /** Directory for the embedded database; `memory://` keeps it in memory (tests). */
  dataDir: string;
}

/** Opens the database and applies pending migrations. */
export async function openDb(options: DbOptions): Promise<Db> {
  let db: Db;
  if (options.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: options.databaseUrl,
      max: 10,
      connectionTimeoutMillis: 5000,
    });
    // An idle client's network error must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    db = new PgDb(pool);
  } else if (options.dataDir === 'memory://') {
    db = new PgliteDb(await PGlite.create('memory://'));
  } else {
    const dir = path.join(options.dataDir, 'pglite');
    fs.mkdirSync(dir, { recursive: true });
    db = new PgliteDb(await PGlite.create(dir));
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return db;
}

/** Applies migrations in order, once each, under an advisory lock so replicas starting together agree. */
export async function migrate(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(727274)');
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const applied = new Set(
      (await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version),
    );
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      for (const statement of m.statements) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
  });
}
