import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDb, migrate, SQLITE_FILE } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import { storeBackends } from '../helpers/store.js';

for (const backend of storeBackends()) {
  describe(`store on ${backend.name}`, () => {
    let store: Store | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it('applies migrations once and again without error (idempotent)', async () => {
      store = await backend.open();
      await migrate(store.db);
      const rows = await store.db.query<{ version: number }>(
        'SELECT version FROM schema_migrations ORDER BY version',
      );
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });

    it('remembers a jti until its token expires and refuses its replay', async () => {
      store = await backend.open();
      const exp = new Date(Date.now() + 60_000);
      expect(await store.claimJti('iss-a', 'j1', exp)).toBe(true);
      expect(await store.claimJti('iss-a', 'j1', exp)).toBe(false);
      expect(await store.claimJti('iss-b', 'j1', exp)).toBe(true);
      // An expired entry no longer blocks (its token would fail the exp check anyway).
      expect(await store.claimJti('iss-a', 'old', new Date(Date.now() - 1000))).toBe(true);
      expect(await store.claimJti('iss-a', 'old', exp)).toBe(true);
      await store.purgeExpired(new Date(Date.now() + 120_000));
      expect(await store.claimJti('iss-a', 'j1', exp)).toBe(true);
    });

    it('stores feedback once per exact duplicate and keeps distinct entries', async () => {
      store = await backend.open();
      const entry = {
        serviceId: 's',
        cardUuid: 'c1',
        outcome: 'overridden' as const,
        overrideReason: { reason: { code: 'patient-declined', display: 'Patient declined' } },
        outcomeTimestamp: '2026-11-21T10:00:00.000Z',
        clientIss: 'iss',
      };
      expect(await store.saveFeedback([entry, entry])).toEqual({
        inserted: 1,
        duplicates: 1,
        stored: [true, false],
      });
      expect(
        await store.saveFeedback([entry, { ...entry, outcomeTimestamp: '2026-11-21T10:01:00.000Z' }]),
      ).toEqual({
        inserted: 1,
        duplicates: 1,
        stored: [false, true],
      });
      const rows = await store.listFeedback('c1');
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ card_uuid: 'c1', outcome: 'overridden', client_iss: 'iss' });
    });

    it('suppresses a card shown by the other hook of the same hookInstance, not on a retry of the same hook', async () => {
      store = await backend.open();
      const exp = new Date(Date.now() + 60_000);
      expect([...(await store.claimCards('h1', 'order-select', ['a', 'b'], exp))]).toEqual([]);
      expect([...(await store.claimCards('h1', 'order-select', ['a'], exp))]).toEqual([]);
      expect([...(await store.claimCards('h1', 'order-sign', ['a', 'c'], exp))]).toEqual(['a']);
      expect([...(await store.claimCards('h2', 'order-sign', ['a'], exp))]).toEqual([]);
    });

    it('leases outbox items exclusively, retries failures and completes them', async () => {
      store = await backend.open();
      const first = await store.enqueue('fhir-create', 'k1', { x: 1 });
      const again = await store.enqueue('fhir-create', 'k1', { x: 1 });
      expect(again).toEqual({ id: first.id, created: false });
      const now = new Date();
      const leased = await store.leaseDue<{ x: number }>(now, 10, 30_000);
      expect(leased.map((i) => i.payload)).toEqual([{ x: 1 }]);
      expect(await store.leaseDue(now, 10, 30_000)).toEqual([]);
      await store.failOutbox(first.id, 'FHIR server unreachable', new Date(now.getTime() + 1000));
      expect(await store.leaseDue(now, 10, 30_000)).toEqual([]);
      const later = await store.leaseDue(new Date(now.getTime() + 2000), 10, 30_000);
      expect(later).toHaveLength(1);
      expect(later[0]?.attempts).toBe(1);
      await store.completeOutbox(first.id, { id: 'Observation/1' });
      expect(await store.outboxStatus(first.id)).toMatchObject({
        status: 'done',
        attempts: 2,
        lastError: null,
      });
      expect(await store.outboxCounts()).toEqual({ pending: 0, done: 1, dead: 0 });
    });

    it('records an audit row per hook call', async () => {
      store = await backend.open();
      await store.recordAudit({
        at: new Date('2026-11-21T10:00:00Z'),
        serviceId: 's',
        hookInstance: 'h',
        clientIss: 'iss',
        patientId: 'p1',
        outcome: 'cards',
        cardIds: ['u1'],
        durationMs: 12.4,
      });
      expect(await store.listAudit('h')).toMatchObject([
        { service_id: 's', patient_id: 'p1', card_ids: ['u1'], duration_ms: 12 },
      ]);
    });

    it('renews an expired patient-view reminder and keeps an unexpired one', async () => {
      store = await backend.open();
      const t0 = new Date('2026-11-21T10:00:00.000Z');
      const t1 = new Date('2026-11-22T10:00:00.000Z');
      expect([...(await store.claimReminders('s', 'p', ['a'], t0, t1))]).toEqual([]);
      expect([...(await store.claimReminders('s', 'p', ['a', 'b'], t0, t1))]).toEqual(['a']);
      // At expiry the row is renewed (the window is over), so the card may show again.
      expect([
        ...(await store.claimReminders('s', 'p', ['a'], t1, new Date('2026-11-23T10:00:00Z'))),
      ]).toEqual([]);
    });

    it('gives up an outbox item on a permanent failure and reads JSON back as values', async () => {
      store = await backend.open();
      const { id } = await store.enqueue('fhir-create', 'dead-1', { nested: { list: [1, 'two'] } });
      const now = new Date();
      expect((await store.leaseDue<{ nested: unknown }>(now, 5, 1000))[0]?.payload).toEqual({
        nested: { list: [1, 'two'] },
      });
      await store.failOutbox(id, 'HTTP 422', null);
      expect(await store.outboxStatus(id)).toEqual({
        status: 'dead',
        attempts: 1,
        lastError: 'HTTP 422',
        result: null,
      });
      expect(await store.leaseDue(new Date(now.getTime() + 3_600_000), 5, 1000)).toEqual([]);
      expect(await store.outboxCounts()).toEqual({ pending: 0, done: 0, dead: 1 });
    });

    it('returns timestamps as Dates and audit card ids as arrays', async () => {
      store = await backend.open();
      await store.saveFeedback([
        {
          serviceId: 's',
          cardUuid: 'ts',
          outcome: 'accepted',
          acceptedSuggestions: ['x'],
          outcomeTimestamp: '2026-11-21T10:05:00+01:00',
          clientIss: 'iss',
        },
      ]);
      const [row] = await store.listFeedback('ts');
      expect(row?.outcome_timestamp).toBeInstanceOf(Date);
      expect((row?.outcome_timestamp as Date).toISOString()).toBe('2026-11-21T09:05:00.000Z');
      expect(row?.received_at).toBeInstanceOf(Date);
      expect(row?.accepted_suggestions).toEqual(['x']);
      expect(row?.override_reason).toBeNull();
    });

    it('refuses an unrepresentable date as a data error (SQLSTATE class 22), which the API answers with 400', async () => {
      store = await backend.open();
      const err: unknown = await store
        .claimJti('iss', 'bad-date', new Date(Number.NaN))
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: expect.stringMatching(/^22/), severity: 'ERROR' });
      if (store.db.kind === 'sqlite') {
        // Text comparison orders ISO-8601 timestamps only within years 0000-9999.
        const far: unknown = await store
          .claimJti('iss', 'far', new Date('+050000-01-01T00:00:00Z'))
          .catch((e: unknown) => e);
        expect(far).toMatchObject({ code: '22007' });
      }
      // The store is still usable afterwards.
      expect(await store.claimJti('iss', 'good-date', new Date(Date.now() + 1000))).toBe(true);
    });

    it('keeps concurrent transactions apart: neither sees the other half-done', async () => {
      store = await backend.open();
      const s = store;
      const writer = (key: string) =>
        s.db.transaction(async (tx) => {
          await tx.query("INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('t', $1, '{}')", [
            `${key}-1`,
          ]);
          // Yield to the event loop between the two writes: any other query could run here.
          await new Promise((r) => setTimeout(r, 20));
          const seen = await tx.query<{ n: number | string }>(
            "SELECT count(*) AS n FROM outbox WHERE kind = 't'",
          );
          await tx.query("INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('t', $1, '{}')", [
            `${key}-2`,
          ]);
          return Number(seen[0]?.n);
        });
      const observed: number[] = [];
      const reader = async () => {
        for (let i = 0; i < 10; i++) {
          const rows = await s.db.query<{ n: number | string }>(
            "SELECT count(*) AS n FROM outbox WHERE kind = 't'",
          );
          observed.push(Number(rows[0]?.n));
          await new Promise((r) => setTimeout(r, 5));
        }
      };
      const [a, b] = await Promise.all([writer('a'), writer('b'), reader()]);
      // Inside its transaction each writer sees its own first row plus none or both of the other's.
      for (const n of [a, b]) expect(n! % 2).toBe(1);
      // SQLite's one connection runs the transactions one after the other.
      if (s.db.kind === 'sqlite') expect([a, b].sort()).toEqual([1, 3]);
      // Outside, only whole transactions are visible: 0, 2 or 4 rows, never an odd count.
      expect(observed.length).toBe(10);
      for (const n of observed) expect(n % 2).toBe(0);
      // A failed transaction leaves nothing behind.
      await expect(
        s.db.transaction(async (tx) => {
          await tx.query("INSERT INTO outbox (kind, dedupe_key, payload) VALUES ('t', 'c-1', '{}')");
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await s.outboxCounts()).toEqual({ pending: 4, done: 0, dead: 0 });
    });
  });
}

describe('embedded SQLite store on disk', () => {
  it('keeps data across a close and reopen of the same DATA_DIR', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbh-store-'));
    const a = new Store(await openDb({ dataDir: dir }));
    expect(a.db.kind).toBe('sqlite');
    const queued = await a.enqueue('fhir-create', 'persisted', { y: 2 });
    await a.saveFeedback([
      {
        serviceId: 's',
        cardUuid: 'durable',
        outcome: 'overridden',
        overrideReason: { reason: { code: 'patient-declined' } },
        outcomeTimestamp: '2026-11-21T10:00:00.000Z',
        clientIss: 'iss',
      },
    ]);
    await a.recordAudits([
      {
        at: new Date('2026-11-21T10:00:00.000Z'),
        serviceId: 's',
        hookInstance: 'h-durable',
        clientIss: 'iss',
        outcome: 'no-cards',
        cardIds: [],
        durationMs: 3,
      },
    ]);
    await a.close();
    expect(existsSync(path.join(dir, SQLITE_FILE))).toBe(true);

    const b = new Store(await openDb({ dataDir: dir }));
    expect(await b.outboxCounts()).toEqual({ pending: 1, done: 0, dead: 0 });
    const [item] = await b.leaseDue<{ y: number }>(new Date(), 5, 1000);
    expect(item).toMatchObject({ id: queued.id, dedupeKey: 'persisted', payload: { y: 2 }, attempts: 0 });
    expect((await b.listFeedback('durable'))[0]).toMatchObject({
      override_reason: { reason: { code: 'patient-declined' } },
    });
    expect(await b.listAudit('h-durable')).toMatchObject([{ outcome: 'no-cards', card_ids: [] }]);
    // Reopening applied no migration twice.
    const versions = await b.db.query<{ version: number }>('SELECT version FROM schema_migrations');
    expect(versions.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    // A new queue item after the reopen gets a fresh id.
    expect((await b.enqueue('fhir-create', 'second', {})).id).toBeGreaterThan(queued.id);
    await b.close();
  });

  it('opens in well under a second', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sbh-store-'));
    const started = performance.now();
    const store = new Store(await openDb({ dataDir: dir }));
    const elapsed = performance.now() - started;
    await store.close();
    expect(elapsed).toBeLessThan(1000);
  });
});
