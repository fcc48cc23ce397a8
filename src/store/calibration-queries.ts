/**
 * Store reads of the calibration drift watch (src/calibration/drift-watch.ts). Kept out of store.ts (the
 * hook path's persistence): nothing here runs on a request, and nothing here writes.
 */
import type { Store } from './store.js';

/**
 * The payloads of outbox items of `kind` queued since `since`, oldest first, except those given up on
 * (`dead`: never reached the record, possibly because they were malformed). Queued-but-not-yet-delivered
 * items count: the measurement happened whatever the FHIR server's state.
 *
 * `created_at >= since` is a safe pre-filter for "measured since": an item is queued after its images
 * were acquired. The caller filters on the acquisition date itself.
 */
export async function outboxPayloadsSince(store: Store, kind: string, since: Date): Promise<unknown[]> {
  const rows = await store.db.query<{ payload: unknown }>(
    `SELECT payload FROM outbox WHERE kind = $1 AND status <> 'dead' AND created_at >= $2 ORDER BY id`,
    [kind, since],
  );
  // jsonb arrives parsed from PostgreSQL; SQLite keeps JSON as text.
  return rows.map((r) => (typeof r.payload === 'string' ? (JSON.parse(r.payload) as unknown) : r.payload));
}
