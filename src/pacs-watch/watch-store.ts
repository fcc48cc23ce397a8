/**
 * The PACS watcher's state in the shared store (migration 60): the discovery checkpoint, one row per ROI
 * report seen (its claim, so replicas sharing the database measure each report once, and its outcome, for
 * the console), and the lineage of results (which Observation a corrected report amends). Same SQL on
 * PostgreSQL and SQLite; timestamps are bound as Dates (ISO text on SQLite, which orders in time).
 */
import type { Db } from '../store/db.js';

/** What became of a report. `claimed` and `retry` are the only states that are worked on again. */
export const REPORT_STATUSES = [
  'claimed',
  'retry',
  'measured',
  'amended',
  'superseded',
  'ignored',
  'malformed',
  'refused',
  'own',
  'failed',
] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];

export interface ReportRow {
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  status: ReportStatus;
  attempts: number;
  /** Why it was skipped, refused or failed; free of patient data. */
  reason?: string;
  updatedAt: Date;
  result?: unknown;
}

/** An MR series the watcher noticed, with its verdict. */
export interface SeriesRow {
  seriesInstanceUID: string;
  studyInstanceUID: string;
  /** The spine region VBQ can be measured on in this series; undefined when it cannot. */
  region?: string;
  description?: string;
}

export interface LineageRow {
  metric: string;
  identifierValue: string;
  srSopInstanceUID: string;
  contentKey: string;
  revision: number;
}

interface RawReport {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  status: ReportStatus;
  attempts: number | string;
  reason: string | null;
  updated_at: Date | string;
  result: string | null;
}

function toReport(r: RawReport): ReportRow {
  const row: ReportRow = {
    sopInstanceUID: r.sop_instance_uid,
    studyInstanceUID: r.study_instance_uid,
    seriesInstanceUID: r.series_instance_uid,
    status: r.status,
    attempts: Number(r.attempts),
    updatedAt: new Date(r.updated_at),
  };
  if (r.reason) row.reason = r.reason;
  if (r.result) row.result = JSON.parse(r.result) as unknown;
  return row;
}

export class WatchStore {
  constructor(private readonly db: Db) {}

  async checkpoint(source: string): Promise<string | undefined> {
    const rows = await this.db.query<{ position: string }>(
      'SELECT position FROM pacs_watch_checkpoint WHERE source = $1',
      [source],
    );
    return rows[0]?.position;
  }

  async saveCheckpoint(source: string, position: string, now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO pacs_watch_checkpoint (source, position, updated_at) VALUES ($1, $2, $3)
       ON CONFLICT (source) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at`,
      [source, position, now],
    );
  }

  /** SOP Instance UIDs among `uids` that already have a row (seen before: not claimed again here). */
  async known(uids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < uids.length; i += 200) {
      const chunk = uids.slice(i, i + 200);
      const rows = await this.db.query<{ sop_instance_uid: string }>(
        `SELECT sop_instance_uid FROM pacs_watch_report WHERE sop_instance_uid IN (${chunk
          .map((_, j) => `$${j + 1}`)
          .join(', ')})`,
        chunk,
      );
      for (const r of rows) out.add(r.sop_instance_uid);
    }
    return out;
  }

  /**
   * Claims a report for `owner` until `until`: a new report, or one whose claim ran out (a crashed
   * replica) or whose retry is due. Returns the attempt number, or undefined when another replica holds it
   * or it is done. One statement, so two replicas cannot both win.
   */
  async claim(
    report: { sopInstanceUID: string; studyInstanceUID: string; seriesInstanceUID: string },
    owner: string,
    now: Date,
    until: Date,
  ): Promise<number | undefined> {
    const rows = await this.db.query<{ attempts: number | string }>(
      `INSERT INTO pacs_watch_report (sop_instance_uid, study_instance_uid, series_instance_uid, status, owner,
                                      claimed_until, attempts, created_at, updated_at)
       VALUES ($1, $2, $3, 'claimed', $4, $5, 1, $6, $6)
       ON CONFLICT (sop_instance_uid) DO UPDATE SET status = 'claimed', owner = EXCLUDED.owner,
         claimed_until = EXCLUDED.claimed_until, attempts = pacs_watch_report.attempts + 1,
         updated_at = EXCLUDED.updated_at
       WHERE pacs_watch_report.status IN ('claimed', 'retry') AND pacs_watch_report.claimed_until < $6
       RETURNING attempts`,
      [report.sopInstanceUID, report.studyInstanceUID, report.seriesInstanceUID, owner, until, now],
    );
    return rows[0] ? Number(rows[0].attempts) : undefined;
  }

  /** Records the outcome of a claimed report (only the owner of the claim may). */
  async finish(
    sopInstanceUID: string,
    owner: string,
    outcome: {
      status: Exclude<ReportStatus, 'claimed'>;
      reason?: string;
      retryAt?: Date;
      lineageKey?: string;
      contentKey?: string;
      result?: unknown;
    },
    now: Date,
  ): Promise<void> {
    await this.db.query(
      `UPDATE pacs_watch_report SET status = $3, reason = $4, claimed_until = $5, lineage_key = $6,
         content_key = $7, result = $8, updated_at = $9
       WHERE sop_instance_uid = $1 AND owner = $2`,
      [
        sopInstanceUID,
        owner,
        outcome.status,
        outcome.reason ?? null,
        outcome.retryAt ?? null,
        outcome.lineageKey ?? null,
        outcome.contentKey ?? null,
        outcome.result === undefined ? null : JSON.stringify(outcome.result),
        now,
      ],
    );
  }

  /** Reports whose retry is due (they are claimed again through `claim`). */
  async dueRetries(now: Date, limit: number): Promise<ReportRow[]> {
    const rows = await this.db.query<RawReport>(
      `SELECT sop_instance_uid, study_instance_uid, series_instance_uid, status, attempts, reason, updated_at, result
       FROM pacs_watch_report
       WHERE (status = 'retry' OR status = 'claimed') AND claimed_until < $1
       ORDER BY updated_at LIMIT $2`,
      [now, limit],
    );
    return rows.map(toReport);
  }

  async report(sopInstanceUID: string): Promise<(ReportRow & { lineageKey?: string }) | undefined> {
    const rows = await this.db.query<RawReport & { lineage_key: string | null }>(
      `SELECT sop_instance_uid, study_instance_uid, series_instance_uid, status, attempts, reason, updated_at, result,
              lineage_key
       FROM pacs_watch_report WHERE sop_instance_uid = $1`,
      [sopInstanceUID],
    );
    const r = rows[0];
    if (!r) return undefined;
    return { ...toReport(r), ...(r.lineage_key ? { lineageKey: r.lineage_key } : {}) };
  }

  /** The newest reports first, optionally of some statuses (for the console). */
  async reports(opts: { statuses?: ReportStatus[]; limit?: number } = {}): Promise<ReportRow[]> {
    const params: (string | number)[] = [];
    let where = '';
    if (opts.statuses && opts.statuses.length > 0) {
      where = `WHERE status IN (${opts.statuses.map((s) => (params.push(s), `$${params.length}`)).join(', ')})`;
    }
    params.push(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
    const rows = await this.db.query<RawReport>(
      `SELECT sop_instance_uid, study_instance_uid, series_instance_uid, status, attempts, reason, updated_at, result
       FROM pacs_watch_report ${where} ORDER BY updated_at DESC, sop_instance_uid LIMIT $${params.length}`,
      params,
    );
    return rows.map(toReport);
  }

  async lineage(lineageKey: string): Promise<LineageRow[]> {
    const rows = await this.db.query<{
      metric: string;
      identifier_value: string;
      sr_sop_instance_uid: string;
      content_key: string;
      revision: number | string;
    }>(
      `SELECT metric, identifier_value, sr_sop_instance_uid, content_key, revision
       FROM pacs_watch_lineage WHERE lineage_key = $1`,
      [lineageKey],
    );
    return rows.map((r) => ({
      metric: r.metric,
      identifierValue: r.identifier_value,
      srSopInstanceUID: r.sr_sop_instance_uid,
      contentKey: r.content_key,
      revision: Number(r.revision),
    }));
  }

  async saveLineage(lineageKey: string, studyInstanceUID: string, row: LineageRow, now: Date): Promise<void> {
    await this.db.query(
      `INSERT INTO pacs_watch_lineage (lineage_key, metric, study_instance_uid, identifier_value,
                                       sr_sop_instance_uid, content_key, revision, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (lineage_key, metric) DO UPDATE SET sr_sop_instance_uid = EXCLUDED.sr_sop_instance_uid,
         content_key = EXCLUDED.content_key, revision = EXCLUDED.revision, updated_at = EXCLUDED.updated_at`,
      [
        lineageKey,
        row.metric,
        studyInstanceUID,
        row.identifierValue,
        row.srSopInstanceUID,
        row.contentKey,
        row.revision,
        now,
      ],
    );
  }

  /** Studies (of `uids`) that have a measured VBQ result (for the worklist). */
  async measuredStudies(uids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < uids.length; i += 200) {
      const chunk = uids.slice(i, i + 200);
      const rows = await this.db.query<{ study_instance_uid: string }>(
        `SELECT DISTINCT study_instance_uid FROM pacs_watch_lineage WHERE study_instance_uid IN (${chunk
          .map((_, j) => `$${j + 1}`)
          .join(', ')})`,
        chunk,
      );
      for (const r of rows) out.add(r.study_instance_uid);
    }
    return out;
  }

  // ---- MR series (migration 61): noticed by the watcher, judged once, read by the worklist ----

  /** Series UIDs among `uids` already recorded. */
  async knownSeries(uids: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < uids.length; i += 200) {
      const chunk = uids.slice(i, i + 200);
      const rows = await this.db.query<{ series_instance_uid: string }>(
        `SELECT series_instance_uid FROM pacs_watch_series WHERE series_instance_uid IN (${chunk
          .map((_, j) => `$${j + 1}`)
          .join(', ')})`,
        chunk,
      );
      for (const r of rows) out.add(r.series_instance_uid);
    }
    return out;
  }

  /** Records a series and its verdict (`region` undefined: VBQ cannot be measured on it); once. */
  async recordSeries(row: SeriesRow, now: Date): Promise<boolean> {
    const rows = await this.db.query<{ series_instance_uid: string }>(
      `INSERT INTO pacs_watch_series (series_instance_uid, study_instance_uid, region, description, seen_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (series_instance_uid) DO NOTHING
       RETURNING series_instance_uid`,
      [row.seriesInstanceUID, row.studyInstanceUID, row.region ?? null, row.description ?? null, now],
    );
    return rows.length > 0;
  }

  /** Recorded verdicts of `uids` (region, or null when VBQ cannot be measured on the series). */
  async seriesVerdicts(uids: string[]): Promise<Map<string, string | null>> {
    const out = new Map<string, string | null>();
    for (let i = 0; i < uids.length; i += 200) {
      const chunk = uids.slice(i, i + 200);
      const rows = await this.db.query<{ series_instance_uid: string; region: string | null }>(
        `SELECT series_instance_uid, region FROM pacs_watch_series WHERE series_instance_uid IN (${chunk
          .map((_, j) => `$${j + 1}`)
          .join(', ')})`,
        chunk,
      );
      for (const r of rows) out.set(r.series_instance_uid, r.region);
    }
    return out;
  }

  /** The newest recorded series VBQ can be measured on (for the worklist), newest first. */
  async measurableSeries(limit: number): Promise<SeriesRow[]> {
    const rows = await this.db.query<{
      series_instance_uid: string;
      study_instance_uid: string;
      region: string;
      description: string | null;
    }>(
      `SELECT series_instance_uid, study_instance_uid, region, description FROM pacs_watch_series
       WHERE region IS NOT NULL ORDER BY seen_at DESC, series_instance_uid LIMIT $1`,
      [Math.min(Math.max(limit, 1), 1000)],
    );
    return rows.map((r) => ({
      seriesInstanceUID: r.series_instance_uid,
      studyInstanceUID: r.study_instance_uid,
      region: r.region,
      ...(r.description ? { description: r.description } : {}),
    }));
  }
}
