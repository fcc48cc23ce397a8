/**
 * The console's queries (src/console/): read-only views of the audit trail, feedback and outbox, the few
 * writes the console owns (its sessions, the catalogue of shown cards, last client authentication) and the
 * one administrative action (retry of a dead outbox item). Same two dialects as src/store/store.ts: SQLite
 * keeps JSON and timestamps as text, decoded here so callers get the same values on both.
 */
import type { Db, SqlParam } from './db.js';

/** Audit outcome groups the console filters by. */
export const AUDIT_OUTCOME_GROUPS = ['cards', 'no-cards', '412', 'errors'] as const;
export type AuditOutcomeGroup = (typeof AUDIT_OUTCOME_GROUPS)[number];

export interface AuditFilter {
  from?: Date;
  to?: Date;
  service?: string;
  client?: string;
  outcome?: AuditOutcomeGroup;
  limit: number;
  offset: number;
}

export interface AuditEntry {
  id: number;
  at: Date;
  serviceId: string;
  hookInstance: string;
  clientIss: string;
  patientId: string | null;
  outcome: string;
  cardCount: number;
  durationMs: number;
}

export interface ShownCardRecord {
  cardUuid: string;
  serviceId: string;
  topic: string;
  indicator: string;
  summary: string;
  suggestions: { uuid: string; label: string }[];
  firstShownAt: Date;
}

export interface FeedbackEntry {
  cardUuid: string;
  serviceId: string;
  outcome: 'accepted' | 'overridden';
  acceptedSuggestions: string[];
  overrideReason: { code?: string; display?: string } | null;
  outcomeTimestamp: Date;
}

export type OutboxState = 'pending' | 'retrying' | 'dead' | 'done';

export interface OutboxEntry {
  id: number;
  kind: string;
  dedupeKey: string;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ClientAuthRecord {
  clientIss: string;
  lastSuccessAt: Date | null;
  lastFailureAt: Date | null;
  lastFailureReason: string | null;
  failureCount: number;
}

/** Unflushed authentication events of one client (see src/console/auth-log.ts). */
export interface ClientAuthDelta {
  clientIss: string;
  lastSuccessAt?: Date;
  lastFailureAt?: Date;
  lastFailureReason?: string;
  failures: number;
}

const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));
const maybeDate = (v: unknown): Date | null => (v === null || v === undefined ? null : date(v));
const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

export class ConsoleQueries {
  private readonly sqlite: boolean;

  constructor(readonly db: Db) {
    this.sqlite = db.kind === 'sqlite';
  }

  // ---- sessions (express-session store) ----------------------------------------------------------

  async getSession(sid: string, now: Date): Promise<unknown> {
    const rows = await this.db.query<{ data: unknown }>(
      'SELECT data FROM console_sessions WHERE sid = $1 AND expires_at > $2',
      [sid, now],
    );
    return rows[0] ? json<unknown>(rows[0].data) : undefined;
  }

  async setSession(sid: string, data: unknown, expiresAt: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO console_sessions (sid, data, expires_at) VALUES ($1, $2, $3)
       ON CONFLICT (sid) DO UPDATE SET data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
      [sid, JSON.stringify(data), expiresAt],
    );
  }

  async touchSession(sid: string, expiresAt: Date): Promise<void> {
    await this.db.query('UPDATE console_sessions SET expires_at = $2 WHERE sid = $1', [sid, expiresAt]);
  }

  async destroySession(sid: string): Promise<void> {
    await this.db.query('DELETE FROM console_sessions WHERE sid = $1', [sid]);
  }

  async purgeSessions(now: Date): Promise<void> {
    await this.db.query('DELETE FROM console_sessions WHERE expires_at <= $1', [now]);
  }

  // ---- the catalogue of shown cards ----------------------------------------------------------------

  /** Records what each card uuid was; a uuid already known keeps its first row (uuids are deterministic). */
  async recordShownCards(rows: readonly ShownCardRecord[]): Promise<void> {
    if (rows.length === 0) return;
    const params: SqlParam[] = [];
    const values = rows.map((r) => {
      const base = params.length;
      params.push(
        r.cardUuid,
        r.serviceId,
        r.topic,
        r.indicator,
        r.summary,
        JSON.stringify(r.suggestions),
        r.firstShownAt,
      );
      return `(${Array.from({ length: 7 }, (_, i) => `$${base + i + 1}`).join(', ')})`;
    });
    await this.db.query(
      `INSERT INTO console_cards (card_uuid, service_id, topic, indicator, summary, suggestions, first_shown_at)
       VALUES ${values.join(', ')} ON CONFLICT (card_uuid) DO NOTHING`,
      params,
    );
  }

  /** The catalogue rows of these card uuids (read in chunks: an IN list stays small). */
  async shownCards(uuids: readonly string[]): Promise<ShownCardRecord[]> {
    const rows: {
      card_uuid: string;
      service_id: string;
      topic: string;
      indicator: string;
      summary: string;
      suggestions: unknown;
      first_shown_at: unknown;
    }[] = [];
    const unique = [...new Set(uuids)];
    for (let i = 0; i < unique.length; i += 500) {
      const chunk = unique.slice(i, i + 500);
      rows.push(
        ...(await this.db.query<(typeof rows)[number]>(
          `SELECT * FROM console_cards WHERE card_uuid IN (${chunk.map((_, j) => `$${j + 1}`).join(', ')})`,
          chunk,
        )),
      );
    }
    return rows.map((r) => ({
      cardUuid: r.card_uuid,
      serviceId: r.service_id,
      topic: r.topic,
      indicator: r.indicator,
      summary: r.summary,
      suggestions: json<{ uuid: string; label: string }[]>(r.suggestions),
      firstShownAt: date(r.first_shown_at),
    }));
  }

  /** Every card presentation in [from, to): one row per hook call that returned cards. */
  async cardPresentations(
    from: Date,
    to: Date,
  ): Promise<{ at: Date; serviceId: string; cardIds: string[] }[]> {
    const rows = await this.db.query<{ at: unknown; service_id: string; card_ids: unknown }>(
      `SELECT at, service_id, card_ids FROM audit WHERE outcome = 'cards' AND at >= $1 AND at < $2 ORDER BY at`,
      [from, to],
    );
    return rows.map((r) => ({
      at: date(r.at),
      serviceId: r.service_id,
      cardIds: json<string[]>(r.card_ids),
    }));
  }

  /** Feedback given since `from` (a card shown in a period may be answered after it ends). */
  async feedbackSince(from: Date): Promise<FeedbackEntry[]> {
    const rows = await this.db.query<{
      card_uuid: string;
      service_id: string;
      outcome: 'accepted' | 'overridden';
      accepted_suggestions: unknown;
      override_reason: unknown;
      outcome_timestamp: unknown;
    }>(
      `SELECT card_uuid, service_id, outcome, accepted_suggestions, override_reason, outcome_timestamp
       FROM feedback WHERE outcome_timestamp >= $1 ORDER BY outcome_timestamp, id`,
      [from],
    );
    return rows.map((r) => {
      const reason = json<{ reason?: { code?: unknown; display?: unknown } } | null>(r.override_reason);
      return {
        cardUuid: r.card_uuid,
        serviceId: r.service_id,
        outcome: r.outcome,
        acceptedSuggestions: json<string[] | null>(r.accepted_suggestions) ?? [],
        overrideReason: reason?.reason
          ? {
              ...(typeof reason.reason.code === 'string' ? { code: reason.reason.code } : {}),
              ...(typeof reason.reason.display === 'string' ? { display: reason.reason.display } : {}),
            }
          : null,
        outcomeTimestamp: date(r.outcome_timestamp),
      };
    });
  }

  // ---- audit ---------------------------------------------------------------------------------------

  async searchAudit(filter: AuditFilter): Promise<{ rows: AuditEntry[]; total: number }> {
    const where: string[] = [];
    const params: SqlParam[] = [];
    const add = (clause: (p: string) => string, value: SqlParam) => {
      params.push(value);
      where.push(clause(`$${params.length}`));
    };
    if (filter.from) add((p) => `at >= ${p}`, filter.from);
    if (filter.to) add((p) => `at < ${p}`, filter.to);
    if (filter.service) add((p) => `service_id = ${p}`, filter.service);
    if (filter.client) add((p) => `client_iss = ${p}`, filter.client);
    switch (filter.outcome) {
      case 'cards':
        where.push(`outcome = 'cards'`);
        break;
      case 'no-cards':
        where.push(`outcome IN ('no-cards', 'not-triggered')`);
        break;
      case '412':
        where.push(`outcome = 'prefetch-unavailable'`);
        break;
      case 'errors':
        where.push(`outcome NOT IN ('cards', 'no-cards', 'not-triggered', 'prefetch-unavailable')`);
        break;
      default:
        break;
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const count = await this.db.query<{ n: string | number }>(
      `SELECT count(*) AS n FROM audit ${clause}`,
      params,
    );
    const rows = await this.db.query<{
      id: string | number;
      at: unknown;
      service_id: string;
      hook_instance: string;
      client_iss: string;
      patient_id: string | null;
      outcome: string;
      card_ids: unknown;
      duration_ms: number;
    }>(
      `SELECT * FROM audit ${clause} ORDER BY at DESC, id DESC LIMIT ${Math.trunc(filter.limit)} OFFSET ${Math.trunc(filter.offset)}`,
      params,
    );
    return {
      total: Number(count[0]?.n ?? 0),
      rows: rows.map((r) => ({
        id: Number(r.id),
        at: date(r.at),
        serviceId: r.service_id,
        hookInstance: r.hook_instance,
        clientIss: r.client_iss,
        patientId: r.patient_id,
        outcome: r.outcome,
        cardCount: json<string[]>(r.card_ids).length,
        durationMs: Number(r.duration_ms),
      })),
    };
  }

  // ---- outbox --------------------------------------------------------------------------------------

  async outboxItems(limit = 500): Promise<OutboxEntry[]> {
    const rows = await this.db.query<{
      id: string | number;
      kind: string;
      dedupe_key: string;
      status: 'pending' | 'done' | 'dead';
      attempts: number;
      next_attempt_at: unknown;
      last_error: string | null;
      created_at: unknown;
      updated_at: unknown;
    }>(
      `SELECT id, kind, dedupe_key, status, attempts, next_attempt_at, last_error, created_at, updated_at
       FROM outbox WHERE status <> 'done' ORDER BY CASE status WHEN 'dead' THEN 0 ELSE 1 END, updated_at DESC, id DESC
       LIMIT ${Math.trunc(limit)}`,
    );
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      dedupeKey: r.dedupe_key,
      // As the metrics count it: a pending item that has failed before is retrying.
      state: r.status === 'pending' && Number(r.attempts) > 0 ? 'retrying' : r.status,
      attempts: Number(r.attempts),
      nextAttemptAt: date(r.next_attempt_at),
      lastError: r.last_error,
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    }));
  }

  /** Items by kind and state (as the metrics count them: retrying = pending that failed before). */
  async outboxStateCounts(): Promise<{ kind: string; state: OutboxState; count: number }[]> {
    const rows = await this.db.query<{ kind: string; state: OutboxState; n: string | number }>(
      `SELECT kind, CASE WHEN status = 'pending' AND attempts > 0 THEN 'retrying' ELSE status END AS state,
              count(*) AS n
       FROM outbox GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    return rows.map((r) => ({ kind: r.kind, state: r.state, count: Number(r.n) }));
  }

  /**
   * Puts a dead item back in the queue, due now, with a fresh attempt budget (the operator fixed the cause).
   * Returns false when the item is not dead (already retried, or no such item).
   */
  async retryDeadOutboxItem(id: number, now: Date): Promise<boolean> {
    const rows = await this.db.query<{ id: string | number }>(
      `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2, locked_until = NULL, updated_at = $2
       WHERE id = $1 AND status = 'dead' RETURNING id`,
      [id, now],
    );
    return rows.length === 1;
  }

  // ---- client authentication -----------------------------------------------------------------------

  async recordClientAuth(deltas: readonly ClientAuthDelta[]): Promise<void> {
    // Newest wins whichever replica flushes first; GREATEST ignores NULL on PostgreSQL, SQLite's max()
    // does not, hence the COALESCE pair.
    const greatest = this.sqlite ? 'max' : 'GREATEST';
    const newest = (col: string) =>
      `${greatest}(COALESCE(EXCLUDED.${col}, console_client_auth.${col}), COALESCE(console_client_auth.${col}, EXCLUDED.${col}))`;
    for (const d of deltas) {
      await this.db.query(
        `INSERT INTO console_client_auth (client_iss, last_success_at, last_failure_at, last_failure_reason, failure_count)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (client_iss) DO UPDATE SET
           last_success_at = ${newest('last_success_at')},
           last_failure_reason = CASE
             WHEN console_client_auth.last_failure_at IS NULL OR EXCLUDED.last_failure_at >= console_client_auth.last_failure_at
             THEN COALESCE(EXCLUDED.last_failure_reason, console_client_auth.last_failure_reason)
             ELSE console_client_auth.last_failure_reason END,
           last_failure_at = ${newest('last_failure_at')},
           failure_count = console_client_auth.failure_count + EXCLUDED.failure_count`,
        [
          d.clientIss,
          d.lastSuccessAt ?? null,
          d.lastFailureAt ?? null,
          d.lastFailureReason ?? null,
          d.failures,
        ],
      );
    }
  }

  async clientAuth(): Promise<ClientAuthRecord[]> {
    const rows = await this.db.query<{
      client_iss: string;
      last_success_at: unknown;
      last_failure_at: unknown;
      last_failure_reason: string | null;
      failure_count: number;
    }>('SELECT * FROM console_client_auth ORDER BY client_iss');
    return rows.map((r) => ({
      clientIss: r.client_iss,
      lastSuccessAt: maybeDate(r.last_success_at),
      lastFailureAt: maybeDate(r.last_failure_at),
      lastFailureReason: r.last_failure_reason,
      failureCount: Number(r.failure_count),
    }));
  }
}
