/**
 * The schema, as ordered migrations: `statements` for PostgreSQL, `sqlite` for the embedded store, one
 * migration carrying both so they cannot drift apart in numbering. Append only: never edit a migration
 * that has shipped (the PostgreSQL statements are exactly those applied to existing deployments).
 *
 * SQLite mapping: timestamptz -> text holding ISO-8601 UTC with milliseconds (what Date#toISOString
 * gives; compared as text, it orders in time), jsonb -> text holding JSON (the store parses it on read),
 * bigserial -> INTEGER PRIMARY KEY AUTOINCREMENT (ids never reused, like a sequence).
 */
export interface Migration {
  version: number;
  name: string;
  /** PostgreSQL. */
  statements: string[];
  /** SQLite: the same tables, columns, keys and indexes. */
  sqlite: string[];
}

/** `now()` as a SQLite column default, in the format the store writes. */
const NOW = "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'jti replay cache, feedback, audit, card deduplication',
    statements: [
      `CREATE TABLE jti_replay (
         iss text NOT NULL,
         jti text NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (iss, jti)
       )`,
      'CREATE INDEX jti_replay_expires ON jti_replay (expires_at)',
      `CREATE TABLE feedback (
         id bigserial PRIMARY KEY,
         dedupe_key text NOT NULL UNIQUE,
         service_id text NOT NULL,
         card_uuid text NOT NULL,
         outcome text NOT NULL,
         accepted_suggestions jsonb,
         override_reason jsonb,
         outcome_timestamp timestamptz NOT NULL,
         client_iss text NOT NULL,
         received_at timestamptz NOT NULL DEFAULT now()
       )`,
      'CREATE INDEX feedback_card ON feedback (card_uuid)',
      `CREATE TABLE audit (
         id bigserial PRIMARY KEY,
         at timestamptz NOT NULL,
         service_id text NOT NULL,
         hook_instance text NOT NULL,
         client_iss text NOT NULL,
         patient_id text,
         outcome text NOT NULL,
         card_ids jsonb NOT NULL,
         duration_ms integer NOT NULL
       )`,
      'CREATE INDEX audit_at ON audit (at)',
      `CREATE TABLE shown_cards (
         hook_instance text NOT NULL,
         card_uuid text NOT NULL,
         hook text NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (hook_instance, card_uuid)
       )`,
      'CREATE INDEX shown_cards_expires ON shown_cards (expires_at)',
    ],
    sqlite: [
      `CREATE TABLE jti_replay (
         iss text NOT NULL,
         jti text NOT NULL,
         expires_at text NOT NULL,
         PRIMARY KEY (iss, jti)
       )`,
      'CREATE INDEX jti_replay_expires ON jti_replay (expires_at)',
      `CREATE TABLE feedback (
         id integer PRIMARY KEY AUTOINCREMENT,
         dedupe_key text NOT NULL UNIQUE,
         service_id text NOT NULL,
         card_uuid text NOT NULL,
         outcome text NOT NULL,
         accepted_suggestions text,
         override_reason text,
         outcome_timestamp text NOT NULL,
         client_iss text NOT NULL,
         received_at text NOT NULL DEFAULT ${NOW}
       )`,
      'CREATE INDEX feedback_card ON feedback (card_uuid)',
      `CREATE TABLE audit (
         id integer PRIMARY KEY AUTOINCREMENT,
         at text NOT NULL,
         service_id text NOT NULL,
         hook_instance text NOT NULL,
         client_iss text NOT NULL,
         patient_id text,
         outcome text NOT NULL,
         card_ids text NOT NULL,
         duration_ms integer NOT NULL
       )`,
      'CREATE INDEX audit_at ON audit (at)',
      `CREATE TABLE shown_cards (
         hook_instance text NOT NULL,
         card_uuid text NOT NULL,
         hook text NOT NULL,
         expires_at text NOT NULL,
         PRIMARY KEY (hook_instance, card_uuid)
       )`,
      'CREATE INDEX shown_cards_expires ON shown_cards (expires_at)',
    ],
  },
  {
    version: 2,
    name: 'durable outbox for FHIR and DICOM write-back',
    statements: [
      `CREATE TABLE outbox (
         id bigserial PRIMARY KEY,
         kind text NOT NULL,
         dedupe_key text NOT NULL UNIQUE,
         payload jsonb NOT NULL,
         status text NOT NULL DEFAULT 'pending',
         attempts integer NOT NULL DEFAULT 0,
         next_attempt_at timestamptz NOT NULL DEFAULT now(),
         locked_until timestamptz,
         last_error text,
         result jsonb,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      'CREATE INDEX outbox_due ON outbox (status, next_attempt_at)',
    ],
    sqlite: [
      `CREATE TABLE outbox (
         id integer PRIMARY KEY AUTOINCREMENT,
         kind text NOT NULL,
         dedupe_key text NOT NULL UNIQUE,
         payload text NOT NULL,
         status text NOT NULL DEFAULT 'pending',
         attempts integer NOT NULL DEFAULT 0,
         next_attempt_at text NOT NULL DEFAULT ${NOW},
         locked_until text,
         last_error text,
         result text,
         created_at text NOT NULL DEFAULT ${NOW},
         updated_at text NOT NULL DEFAULT ${NOW}
       )`,
      'CREATE INDEX outbox_due ON outbox (status, next_attempt_at)',
    ],
  },
  {
    version: 3,
    name: 'patient-view reminders: a card shown to a chart is not repeated within the window',
    statements: [
      `CREATE TABLE chart_reminders (
         service_id text NOT NULL,
         patient_id text NOT NULL,
         card_uuid text NOT NULL,
         expires_at timestamptz NOT NULL,
         PRIMARY KEY (service_id, patient_id, card_uuid)
       )`,
      'CREATE INDEX chart_reminders_expires ON chart_reminders (expires_at)',
    ],
    sqlite: [
      `CREATE TABLE chart_reminders (
         service_id text NOT NULL,
         patient_id text NOT NULL,
         card_uuid text NOT NULL,
         expires_at text NOT NULL,
         PRIMARY KEY (service_id, patient_id, card_uuid)
       )`,
      'CREATE INDEX chart_reminders_expires ON chart_reminders (expires_at)',
    ],
  },
  {
    version: 40,
    name: 'console: sessions, the catalogue of shown cards (topic, indicator, suggestions), client authentication',
    statements: [
      // Server-side console sessions (express-session store): the cookie holds only the signed id.
      `CREATE TABLE console_sessions (
         sid text PRIMARY KEY,
         data jsonb NOT NULL,
         expires_at timestamptz NOT NULL
       )`,
      'CREATE INDEX console_sessions_expires ON console_sessions (expires_at)',
      // What each card uuid was (written in batches off the hook path): analytics by topic need it, as
      // audit rows and feedback carry only the uuid.
      `CREATE TABLE console_cards (
         card_uuid text PRIMARY KEY,
         service_id text NOT NULL,
         topic text NOT NULL,
         indicator text NOT NULL,
         summary text NOT NULL,
         suggestions jsonb NOT NULL,
         first_shown_at timestamptz NOT NULL
       )`,
      // Last successful and failed authentication per client (flushed from memory periodically).
      `CREATE TABLE console_client_auth (
         client_iss text PRIMARY KEY,
         last_success_at timestamptz,
         last_failure_at timestamptz,
         last_failure_reason text,
         failure_count integer NOT NULL DEFAULT 0
       )`,
    ],
    sqlite: [
      `CREATE TABLE console_sessions (
         sid text PRIMARY KEY,
         data text NOT NULL,
         expires_at text NOT NULL
       )`,
      'CREATE INDEX console_sessions_expires ON console_sessions (expires_at)',
      `CREATE TABLE console_cards (
         card_uuid text PRIMARY KEY,
         service_id text NOT NULL,
         topic text NOT NULL,
         indicator text NOT NULL,
         summary text NOT NULL,
         suggestions text NOT NULL,
         first_shown_at text NOT NULL
       )`,
      `CREATE TABLE console_client_auth (
         client_iss text PRIMARY KEY,
         last_success_at text,
         last_failure_at text,
         last_failure_reason text,
         failure_count integer NOT NULL DEFAULT 0
       )`,
    ],
  },
  {
    version: 60,
    name: 'PACS watcher: checkpoint, one claim row per ROI report (shared by replicas), result lineage for amendments',
    statements: [
      `CREATE TABLE pacs_watch_checkpoint (
         source text PRIMARY KEY,
         position text NOT NULL,
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      `CREATE TABLE pacs_watch_report (
         sop_instance_uid text PRIMARY KEY,
         study_instance_uid text NOT NULL,
         series_instance_uid text NOT NULL,
         status text NOT NULL,
         owner text,
         claimed_until timestamptz,
         attempts integer NOT NULL DEFAULT 0,
         reason text,
         lineage_key text,
         content_key text,
         result text,
         created_at timestamptz NOT NULL DEFAULT now(),
         updated_at timestamptz NOT NULL DEFAULT now()
       )`,
      'CREATE INDEX pacs_watch_report_status ON pacs_watch_report (status, updated_at)',
      'CREATE INDEX pacs_watch_report_study ON pacs_watch_report (study_instance_uid)',
      `CREATE TABLE pacs_watch_lineage (
         lineage_key text NOT NULL,
         metric text NOT NULL,
         study_instance_uid text NOT NULL,
         identifier_value text NOT NULL,
         sr_sop_instance_uid text NOT NULL,
         content_key text NOT NULL,
         revision integer NOT NULL DEFAULT 0,
         updated_at timestamptz NOT NULL DEFAULT now(),
         PRIMARY KEY (lineage_key, metric)
       )`,
      'CREATE INDEX pacs_watch_lineage_study ON pacs_watch_lineage (study_instance_uid)',
    ],
    sqlite: [
      `CREATE TABLE pacs_watch_checkpoint (
         source text PRIMARY KEY,
         position text NOT NULL,
         updated_at text NOT NULL DEFAULT ${NOW}
       )`,
      `CREATE TABLE pacs_watch_report (
         sop_instance_uid text PRIMARY KEY,
         study_instance_uid text NOT NULL,
         series_instance_uid text NOT NULL,
         status text NOT NULL,
         owner text,
         claimed_until text,
         attempts integer NOT NULL DEFAULT 0,
         reason text,
         lineage_key text,
         content_key text,
         result text,
         created_at text NOT NULL DEFAULT ${NOW},
         updated_at text NOT NULL DEFAULT ${NOW}
       )`,
      'CREATE INDEX pacs_watch_report_status ON pacs_watch_report (status, updated_at)',
      'CREATE INDEX pacs_watch_report_study ON pacs_watch_report (study_instance_uid)',
      `CREATE TABLE pacs_watch_lineage (
         lineage_key text NOT NULL,
         metric text NOT NULL,
         study_instance_uid text NOT NULL,
         identifier_value text NOT NULL,
         sr_sop_instance_uid text NOT NULL,
         content_key text NOT NULL,
         revision integer NOT NULL DEFAULT 0,
         updated_at text NOT NULL DEFAULT ${NOW},
         PRIMARY KEY (lineage_key, metric)
       )`,
      'CREATE INDEX pacs_watch_lineage_study ON pacs_watch_lineage (study_instance_uid)',
    ],
  },
  {
    version: 61,
    name: 'PACS watcher: MR series it noticed, with the verdict (spine region VBQ can be measured on, or none) for the worklist',
    statements: [
      `CREATE TABLE pacs_watch_series (
         series_instance_uid text PRIMARY KEY,
         study_instance_uid text NOT NULL,
         region text,
         description text,
         seen_at timestamptz NOT NULL DEFAULT now()
       )`,
      'CREATE INDEX pacs_watch_series_seen ON pacs_watch_series (region, seen_at)',
    ],
    sqlite: [
      `CREATE TABLE pacs_watch_series (
         series_instance_uid text PRIMARY KEY,
         study_instance_uid text NOT NULL,
         region text,
         description text,
         seen_at text NOT NULL DEFAULT ${NOW}
       )`,
      'CREATE INDEX pacs_watch_series_seen ON pacs_watch_series (region, seen_at)',
    ],
  },
];
