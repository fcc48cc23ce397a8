/**
 * Store back-ends for tests: embedded SQLite (in memory) always; a real PostgreSQL server when TEST_DATABASE_URL is set
 * (.ci/run starts one). Each opened PostgreSQL store gets its own schema, so test files never see each
 * other's rows.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<Store>;
}

async function openPostgres(url: string): Promise<Store> {
  return new Store(await openDb({ databaseUrl: await scopedPostgresUrl(url), dataDir: 'unused' }));
}

/** The back-ends to run store-dependent tests against. */
export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [
    { name: 'sqlite', open: async () => new Store(await openDb({ dataDir: 'memory://' })) },
  ];
  const url = process.env.TEST_DATABASE_URL;
  if (url) backends.push({ name: 'postgres', open: () => openPostgres(url) });
  return backends;
}

/** A scoped PostgreSQL URL (fresh schema) for tests that start the whole service on PostgreSQL. */
export async function scopedPostgresUrl(url: string): Promise<string> {
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const scoped = new URL(url);
  scoped.searchParams.set('options', `-c search_path=${schema}`);
  return scoped.toString();
}
