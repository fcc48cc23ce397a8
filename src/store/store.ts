/**
 * Persistence for the service: JWT replay cache, feedback, audit trail, per-hookInstance card
 * deduplication and the write-back outbox. All SQL lives here; callers get typed operations.
 *
 * The SQL runs on PostgreSQL and on SQLite (>= 3.35: UPSERT with RETURNING). Where they differ, the code
 * branches on `db.kind`: SQLite has no row locks (one connection, serialised: nothing to skip), keeps
 * JSON and timestamps as text (decoded on read by `decodeRow` so callers get the same values on both) and
 * gets `now()` from the adapter (src/store/sqlite.ts).
 */
import { createHash } from 'node:crypto';
import type { Db, SqlParam } from './db.js';

export interface FeedbackRow {
  serviceId: string;
  cardUuid: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions?: string[];
  overrideReason?: unknown;
  outcomeTimestamp: string;
  clientIss: string;
}

export interface AuditRow {
  at: Date;
  serviceId: string;
  hookInstance: string;
  clientIss: string;
  patientId?: string;
  /** e.g. `cards`, `no-cards`, `invalid-request`, `prefetch-unavailable`, `error`. */
  outcome: string;
  cardIds: string[];
  durationMs: number;
}

export interface OutboxItem<P = unknown> {
  id: number;
  kind: string;
  dedupeKey: string;
  payload: P;
  attempts: number;
}

export type OutboxStatus = 'pending' | 'done' | 'dead';

/** Canonical JSON (sorted keys) so that equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Columns held as jsonb on PostgreSQL (parsed by the driver) and as JSON text on SQLite. */
const JSON_COLUMNS = new Set(['accepted_suggestions', 'override_reason', 'card_ids', 'payload', 'result']);
/** Columns held as timestamptz on PostgreSQL (read as Date by the driver) and as ISO text on SQLite. */
const TIME_COLUMNS = new Set([
  'expires_at',
  'outcome_timestamp',
  'received_at',
  'at',
  'next_attempt_at',
  'locked_until',
  'created_at',
  'updated_at',
]);

export class Store {
  private readonly sqlite: boolean;

  constructor(readonly db: Db) {
    this.sqlite = db.kind === 'sqlite';
  }

  /** A row as PostgreSQL's driver returns it: JSON parsed, timestamps as Dates. */
  private decodeRow<R extends object>(row: R): R {
    if (!this.sqlite) return row;
    const out = { ...row } as Record<string, unknown>;
    for (const [key, value] of Object.entries(out)) {
      if (typeof value !== 'string') continue;
      if (JSON_COLUMNS.has(key)) out[key] = JSON.parse(value) as unknown;
      else if (TIME_COLUMNS.has(key)) out[key] = new Date(value);
    }
    return out as R;
  }

  private async select<R extends object>(sql: string, params?: SqlParam[]): Promise<R[]> {
    const rows = await this.db.query<R>(sql, params);
    return this.sqlite ? rows.map((r) => this.decodeRow(r)) : rows;
  }

  /**
   * A client's date-time as the database compares it: PostgreSQL parses the text itself; SQLite compares
   * text, so an offset (`+01:00`) is normalised to UTC first. The value was validated as a date-time.
   */
  private timestamp(value: string): SqlParam {
    if (!this.sqlite) return value;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? value : date;
  }

  /** True when the database answers. */
  async ping(): Promise<void> {
    await this.db.query('SELECT 1');
  }

  /**
   * Records a JWT id until its token expires. Returns false when (iss, jti) was already seen: a replay.
   * Kept in the database so every replica shares the cache.
   */
  async claimJti(iss: string, jti: string, expiresAt: Date): Promise<boolean> {
    const rows = await this.db.query<{ jti: string }>(
      `INSERT INTO jti_replay (iss, jti, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (iss, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE jti_replay.expires_at < now()
       RETURNING jti`,
      [iss, jti, expiresAt],
    );
    return rows.length === 1;
  }

  /**
   * Persists feedback entries; exact duplicates (same service, client and entry) are stored once.
   * `stored[i]` tells whether rows[i] was new (metrics count only those).
   */
  async saveFeedback(
    rows: FeedbackRow[],
  ): Promise<{ inserted: number; duplicates: number; stored: boolean[] }> {
    let inserted = 0;
    const stored: boolean[] = [];
    await this.db.transaction(async (tx) => {
      for (const row of rows) {
        const dedupeKey = createHash('sha256').update(canonicalJson(row)).digest('hex');
        const res = await tx.query(
          `INSERT INTO feedback (dedupe_key, service_id, card_uuid, outcome, accepted_suggestions, override_reason,
                                 outcome_timestamp, client_iss)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
          [
            dedupeKey,
            row.serviceId,
            row.cardUuid,
            row.outcome,
            row.acceptedSuggestions ? JSON.stringify(row.acceptedSuggestions) : null,
            row.overrideReason === undefined ? null : JSON.stringify(row.overrideReason),
            this.timestamp(row.outcomeTimestamp),
            row.clientIss,
          ],
        );
        inserted += res.length;
        stored.push(res.length > 0);
      }
    });
    return { inserted, duplicates: rows.length - inserted, stored };
  }

  async listFeedback(cardUuid?: string): Promise<Record<string, unknown>[]> {
    return cardUuid
      ? this.select('SELECT * FROM feedback WHERE card_uuid = $1 ORDER BY id', [cardUuid])
      : this.select('SELECT * FROM feedback ORDER BY id');
  }

  async recordAudit(row: AuditRow): Promise<void> {
    await this.recordAudits([row]);
  }

  /** Inserts audit rows in one statement (the audit queue writes its batches through this). */
  async recordAudits(rows: AuditRow[]): Promise<void> {
    if (rows.length === 0) return;
    const params: SqlParam[] = [];
    const values = rows.map((row) => {
      const base = params.length;
      params.push(
        row.at,
        row.serviceId,
        row.hookInstance,
        row.clientIss,
        row.patientId ?? null,
        row.outcome,
        JSON.stringify(row.cardIds),
        Math.round(row.durationMs),
      );
      return `(${Array.from({ length: 8 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    await this.db.query(
      `INSERT INTO audit (at, service_id, hook_instance, client_iss, patient_id, outcome, card_ids, duration_ms)
       VALUES ${values.join(', ')}`,
      params,
    );
  }

  async listAudit(hookInstance?: string): Promise<Record<string, unknown>[]> {
    return hookInstance
      ? this.select('SELECT * FROM audit WHERE hook_instance = $1 ORDER BY id', [hookInstance])
      : this.select('SELECT * FROM audit ORDER BY id');
  }

  /**
   * Card deduplication across the hooks of one hookInstance: records the cards `hook` shows and returns the
   * uuids already shown by a *different* hook in the same hookInstance (to be suppressed). A retry of the
   * same hook gets its cards again, so a client that lost a response is not left without advice.
   */
  async claimCards(
    hookInstance: string,
    hook: string,
    cardUuids: string[],
    expiresAt: Date,
  ): Promise<Set<string>> {
    if (cardUuids.length === 0) return new Set();
    return this.db.transaction(async (tx) => {
      const shownElsewhere = new Set<string>();
      for (const uuid of cardUuids) {
        const rows = await tx.query<{ hook: string }>(
          `INSERT INTO shown_cards (hook_instance, card_uuid, hook, expires_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (hook_instance, card_uuid) DO UPDATE SET expires_at = shown_cards.expires_at
           RETURNING hook`,
          [hookInstance, uuid, hook, expiresAt],
        );
        if (rows[0] && rows[0].hook !== hook) shownElsewhere.add(uuid);
      }
      return shownElsewhere;
    });
  }

  /**
   * patient-view reminders: records the cards a service showed to a patient's chart until `expiresAt`
   * and resolves the uuids that were already shown and have not expired (to be suppressed). Shared by
   * replicas; an expired row is renewed.
   */
  async claimReminders(
    serviceId: string,
    patientId: string,
    cardUuids: string[],
    now: Date,
    expiresAt: Date,
  ): Promise<Set<string>> {
    const shown = new Set<string>();
    for (const uuid of cardUuids) {
      const rows = await this.db.query<{ card_uuid: string }>(
        `INSERT INTO chart_reminders (service_id, patient_id, card_uuid, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (service_id, patient_id, card_uuid) DO UPDATE SET expires_at = EXCLUDED.expires_at
           WHERE chart_reminders.expires_at <= $5
         RETURNING card_uuid`,
        [serviceId, patientId, uuid, expiresAt, now],
      );
      if (rows.length === 0) shown.add(uuid);
    }
    return shown;
  }

  /** Deletes expired replay-cache and card-deduplication rows. */
  async purgeExpired(now: Date = new Date()): Promise<void> {
    await this.db.query('DELETE FROM jti_replay WHERE expires_at < $1', [now]);
    await this.db.query('DELETE FROM shown_cards WHERE expires_at < $1', [now]);
    await this.db.query('DELETE FROM chart_reminders WHERE expires_at < $1', [now]);
  }

  // ---- outbox ---------------------------------------------------------------------------------------

  /**
   * Queues a write, due at `dueAt` (the application's clock, the same one `leaseDue` is asked with: the
   * database's own `now()` has microseconds and may sit just after a JavaScript Date of the same instant).
   * An item with the same dedupe key is queued once. Returns its id.
   */
  async enqueue(
    kind: string,
    dedupeKey: string,
    payload: unknown,
    dueAt: Date = new Date(),
  ): Promise<{ id: number; created: boolean }> {
    const created = await this.db.query<{ id: string }>(
      `INSERT INTO outbox (kind, dedupe_key, payload, next_attempt_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (dedupe_key) DO NOTHING RETURNING id`,
      [kind, dedupeKey, JSON.stringify(payload), dueAt],
    );
    if (created[0]) return { id: Number(created[0].id), created: true };
    const existing = await this.db.query<{ id: string }>('SELECT id FROM outbox WHERE dedupe_key = $1', [
      dedupeKey,
    ]);
    return { id: Number(existing[0]?.id), created: false };
  }

  /**
   * Leases up to `limit` due items for `leaseMs` so concurrent workers (or replicas) never process the same
   * item at once; a crashed worker's lease simply runs out and the item is retried.
   */
  async leaseDue<P>(now: Date, limit: number, leaseMs: number): Promise<OutboxItem<P>[]> {
    // SQLite runs the statement alone on its one connection: no other worker can hold these rows.
    const skipLocked = this.sqlite ? '' : ' FOR UPDATE SKIP LOCKED';
    const rows = await this.select<{
      id: string;
      kind: string;
      dedupe_key: string;
      payload: P;
      attempts: number;
    }>(
      `UPDATE outbox SET locked_until = $2, updated_at = $1
       WHERE id IN (
         SELECT id FROM outbox
         WHERE status = 'pending' AND next_attempt_at <= $1 AND (locked_until IS NULL OR locked_until < $1)
         ORDER BY next_attempt_at, id LIMIT $3${skipLocked})
       RETURNING id, kind, dedupe_key, payload, attempts`,
      [now, new Date(now.getTime() + leaseMs), limit],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      dedupeKey: r.dedupe_key,
      payload: r.payload,
      attempts: r.attempts,
    }));
  }

  async completeOutbox(id: number, result: unknown): Promise<void> {
    await this.db.query(
      `UPDATE outbox SET status = 'done', attempts = attempts + 1, locked_until = NULL, result = $2, updated_at = now(),
         last_error = NULL WHERE id = $1`,
      [id, JSON.stringify(result ?? null)],
    );
  }

  /** Records a failed attempt: retried at `nextAttemptAt`, or given up (`dead`) for permanent errors. */
  async failOutbox(id: number, error: string, nextAttemptAt: Date | null): Promise<void> {
    const update =
      'UPDATE outbox SET attempts = attempts + 1, locked_until = NULL, last_error = $2, updated_at = now()';
    if (nextAttemptAt === null) {
      await this.db.query(`${update}, status = 'dead' WHERE id = $1`, [id, error.slice(0, 500)]);
    } else {
      await this.db.query(`${update}, status = 'pending', next_attempt_at = $3 WHERE id = $1`, [
        id,
        error.slice(0, 500),
        nextAttemptAt,
      ]);
    }
  }

  async outboxStatus(
    id: number,
  ): Promise<
    { status: OutboxStatus; attempts: number; lastError: string | null; result: unknown } | undefined
  > {
    const rows = await this.select<{
      status: OutboxStatus;
      attempts: number;
      last_error: string | null;
      result: unknown;
    }>('SELECT status, attempts, last_error, result FROM outbox WHERE id = $1', [id]);
    const r = rows[0];
    return r && { status: r.status, attempts: r.attempts, lastError: r.last_error, result: r.result };
  }

  async outboxCounts(): Promise<Record<OutboxStatus, number>> {
    const rows = await this.db.query<{ status: OutboxStatus; n: string }>(
      'SELECT status, count(*) AS n FROM outbox GROUP BY status',
    );
    const counts: Record<OutboxStatus, number> = { pending: 0, done: 0, dead: 0 };
    for (const r of rows) counts[r.status] = Number(r.n);
    return counts;
  }

  /**
   * The queue by kind and state for the metrics: `retrying` is a pending item that has failed before (its
   * next attempt is scheduled), `pending` one never tried. Plus when the oldest undelivered item was queued.
   */
  async outboxDepth(): Promise<{
    items: { kind: string; state: 'pending' | 'retrying' | 'dead' | 'done'; count: number }[];
    oldestPendingAt: Date | null;
  }> {
    const rows = await this.db.query<{
      kind: string;
      state: 'pending' | 'retrying' | 'dead' | 'done';
      n: string;
    }>(
      `SELECT kind, CASE WHEN status = 'pending' AND attempts > 0 THEN 'retrying' ELSE status END AS state,
              count(*) AS n
       FROM outbox GROUP BY 1, 2`,
    );
    const oldest = await this.db.query<{ at: Date | string | null }>(
      `SELECT min(created_at) AS at FROM outbox WHERE status = 'pending'`,
    );
    const at = oldest[0]?.at;
    return {
      items: rows.map((r) => ({ kind: r.kind, state: r.state, count: Number(r.n) })),
      oldestPendingAt: at === null || at === undefined ? null : new Date(at),
    };
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
