/**
 * Issue 9: start-up against a database that is not up yet. openDb retries with backoff for a bounded time,
 * then gives up with a message naming DATABASE_URL (never its password); a database that comes up within
 * the time is used.
 */
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { DatabaseStartupError, openDb } from '../../src/store/db.js';
import { freePort } from '../helpers/net.js';

describe('database start-up', () => {
  it('gives up after DATABASE_STARTUP_TIMEOUT_MS with a message naming DATABASE_URL, never the password', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await openDb({
      databaseUrl: `postgres://cds:s3cret-pw@127.0.0.1:${port}/cds`,
      dataDir: 'unused',
      startupTimeoutMs: 1200,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseStartupError);
    const message = (err as Error).message;
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain(`postgres://cds:***@127.0.0.1:${port}/cds`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).not.toContain('s3cret-pw');
    // It retried (several attempts) and stopped near the limit.
    expect(message).toMatch(/after [2-9]\d* attempt/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
    expect(Date.now() - started).toBeLessThan(6000);
  });

  const pgUrl = process.env.TEST_DATABASE_URL;
  it.skipIf(!pgUrl)(
    'waits for a database that comes up during start-up (needs TEST_DATABASE_URL; .ci/run sets it)',
    async () => {
      const target = new URL(pgUrl!);
      const port = await freePort();
      // The "database" appears on `port` after 1 s: a TCP relay to the real server.
      let relay: net.Server | undefined;
      const timer = setTimeout(() => {
        relay = net.createServer((socket) => {
          const upstream = net.connect(Number(target.port || 5432), target.hostname);
          socket.pipe(upstream).pipe(socket);
          socket.on('error', () => upstream.destroy());
          upstream.on('error', () => socket.destroy());
        });
        relay.listen(port, '127.0.0.1');
      }, 1000);
      const late = new URL(pgUrl!);
      late.hostname = '127.0.0.1';
      late.port = String(port);
      try {
        const db = await openDb({ databaseUrl: late.href, dataDir: 'unused', startupTimeoutMs: 15_000 });
        expect(await db.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
        await db.close();
      } finally {
        clearTimeout(timer);
        await new Promise((r) => (relay ? relay.close(r) : r(undefined)));
      }
    },
  );
});
