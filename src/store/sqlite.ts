/**
 * The embedded store: SQLite through better-sqlite3, behind the same `Db` surface as PostgreSQL. Opening a
 * file takes milliseconds and a few MiB, where embedded PostgreSQL (PGlite, WASM) took seconds and hundreds
 * of MiB. The store's SQL is written for both dialects (see store.ts and migrations.ts); this adapter binds
 * PostgreSQL's `$n` placeholders (to SQLite a parameter named `n`), converts values SQLite has no type for
 * and provides `now()`.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Db, SqlParam } from './db.js';

type Bindable = string | number | bigint | Buffer | null;

/**
 * A value the database cannot represent, reported like PostgreSQL's data exceptions (SQLSTATE class 22) so
 * that the HTTP error handler answers 400 on either back-end rather than 500.
 */
export class SqliteDataError extends Error {
  readonly code = '22007';
  readonly severity = 'ERROR';
}

/**
 * Dates are stored as ISO-8601 UTC text with milliseconds (what `Date#toISOString` and `now()` below
 * produce), so comparing them as text orders them in time. That holds for years 0000-9999 only (beyond,
 * toISOString writes a sign and six digits), so other years are refused like an invalid date.
 */
function bindable(value: SqlParam): Bindable {
  if (value instanceof Date) {
    const iso = Number.isNaN(value.getTime()) ? '' : value.toISOString();
    if (iso.length !== 24) throw new SqliteDataError('date/time value out of range');
    return iso;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

/** SQLite reads `$1` as a parameter named "1": the SQL text is used unchanged, values bound by name. */
function namedParams(params: SqlParam[]): Record<string, Bindable> {
  const named: Record<string, Bindable> = {};
  params.forEach((value, i) => (named[String(i + 1)] = bindable(value)));
  return named;
}

/** One waiter at a time: better-sqlite3 has one connection, so a transaction owns it until it ends. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** Statements prepared once per SQL text; bounded because audit batches vary their VALUES lists. */
const MAX_CACHED_STATEMENTS = 256;

export class SqliteDb implements Db {
  readonly kind = 'sqlite' as const;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly lock = new Mutex();
  private closed = false;

  constructor(private readonly db: Database.Database) {}

  private run<R>(sql: string, params: SqlParam[]): R[] {
    let stmt = this.statements.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare(sql);
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      this.statements.set(sql, stmt);
    }
    const args = params.length === 0 ? [] : [namedParams(params)];
    if (stmt.reader) return stmt.all(...args) as R[];
    stmt.run(...args);
    return [];
  }

  query<R extends object>(sql: string, params: SqlParam[] = []): Promise<R[]> {
    return this.lock.run(() => this.run<R>(sql, params));
  }

  /**
   * BEGIN IMMEDIATE takes the write lock at once (another process on the same file waits busy_timeout
   * rather than failing mid-transaction); the mutex keeps every other query of this process out until
   * COMMIT or ROLLBACK, so no caller sees or interleaves with a partial transaction. `fn` must use `tx`,
   * not this Db, or it would wait for itself.
   */
  transaction<T>(fn: (tx: Pick<Db, 'query'>) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn({
          query: <R extends object>(sql: string, params: SqlParam[] = []) =>
            Promise.resolve().then(() => this.run<R>(sql, params)),
        });
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  close(): Promise<void> {
    return this.lock.run(() => {
      if (this.closed) return;
      this.closed = true;
      this.statements.clear();
      this.db.close();
    });
  }
}

/** Opens (creating) a SQLite database: `:memory:` or a file path. Migrations are applied by openDb. */
export function openSqlite(file: string): SqliteDb {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    if (file !== ':memory:') {
      // WAL: readers never block the writer; NORMAL: durable across a process crash, and across power
      // loss up to the last checkpointed transactions, at a fraction of FULL's fsyncs.
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
    }
    // Another process holding the write lock (an operator's sqlite3 shell, a second instance) is waited for.
    db.pragma('busy_timeout = 5000');
    // The store's SQL says `now()` (PostgreSQL); here it is the same ISO-8601 UTC text the Dates bind to.
    db.function('now', { deterministic: false }, () => new Date().toISOString());
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteDb(db);
}
