import { afterEach, describe, expect, it } from 'vitest';
import { openDb, migrate } from '../../src/store/db.js';
import type { Store } from '../../src/store/store.js';
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
      expect(rows.map((r) => r.version)).toEqual([1, 2]);
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
  });
}

describe('embedded store on disk', () => {
  it('keeps data across a reopen of the same DATA_DIR', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const { Store } = await import('../../src/store/store.js');
    const dir = mkdtempSync(path.join(tmpdir(), 'sbh-store-'));
    const a = new Store(await openDb({ dataDir: dir }));
    await a.enqueue('fhir-create', 'persisted', { y: 2 });
    await a.close();
    const b = new Store(await openDb({ dataDir: dir }));
    expect(await b.outboxCounts()).toEqual({ pending: 1, done: 0, dead: 0 });
    await b.close();
  });
});
