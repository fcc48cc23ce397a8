/**
 * The local cohort: one row per patient, metric and outcome (a score, its acquisition, and the reference
 * standard). Read from CSV with csv-parse: a header row, columns in any order, extra columns ignored;
 * every invalid cell is reported with its row (line in the file) and column, never guessed or skipped.
 * Messages never echo a cell's content (the patient column may hold identifiers).
 */
import { parse } from 'csv-parse/sync';
import { SCORE_METRICS, type ScoreMetric } from '../knowledge/schema.js';

export interface CohortRow {
  /** 1-based line of the row in the CSV (the header is line 1); 0 for rows not from a CSV. */
  row: number;
  patient: string;
  metric: ScoreMetric;
  value: number;
  /** null when unknown (empty cell). */
  fieldStrengthT: number | null;
  /** null when unknown (empty cell). */
  scanner: string | null;
  measuredOn: string;
  outcome: string;
  event: boolean;
  outcomeOn: string;
}

export const CSV_COLUMNS = [
  'patient',
  'metric',
  'value',
  'field_strength_t',
  'scanner',
  'measured_on',
  'outcome',
  'event',
  'outcome_on',
] as const;
type Column = (typeof CSV_COLUMNS)[number];

/** Documented input limits: beyond them the input is refused rather than slowly processed. */
export const COHORT_LIMITS = { rows: 200_000, errorsReported: 50 } as const;

/** The cohort cannot be read: `problems` name row and column. */
export class CohortError extends Error {
  readonly problems: string[];
  constructor(message: string, problems: string[] = []) {
    super(message);
    this.name = 'CohortError';
    this.problems = problems;
  }
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written YYYY-MM-DD. */
export function isIsoDate(text: string): boolean {
  const m = ISO_DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

const METRIC_SET = new Set<string>(SCORE_METRICS);
const OUTCOME_NAME = /^[a-z0-9][a-z0-9-]*$/;

/**
 * Parses and validates a cohort CSV. Throws `CohortError` listing every problem (up to
 * `COHORT_LIMITS.errorsReported`) with its row and column.
 */
export function parseCohortCsv(text: string): CohortRow[] {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      info: true,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: false,
      max_record_size: 64 * 1024,
      to: COHORT_LIMITS.rows + 2,
    }) as unknown as { record: string[]; info: { lines: number } }[];
  } catch (err) {
    const e = err as { message?: string; lines?: number; code?: string };
    const where = e.lines !== undefined ? `row ${e.lines}: ` : '';
    throw new CohortError('the CSV cannot be parsed', [`${where}${e.code ?? 'CSV_ERROR'}`]);
  }
  const header = records[0];
  if (header === undefined) throw new CohortError('the CSV is empty: a header row is required');
  if (records.length - 1 > COHORT_LIMITS.rows) {
    throw new CohortError(`the CSV has more than ${COHORT_LIMITS.rows} rows`);
  }
  const index = new Map<Column, number>();
  header.record.forEach((name, i) => {
    const key = name.trim().toLowerCase() as Column;
    if ((CSV_COLUMNS as readonly string[]).includes(key)) {
      if (index.has(key)) throw new CohortError(`row 1: column ${key} appears twice in the header`);
      index.set(key, i);
    }
  });
  const required: Column[] = CSV_COLUMNS.filter((c) => c !== 'scanner' && c !== 'field_strength_t');
  const missing = CSV_COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0) {
    throw new CohortError(
      `row 1: the header lacks column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      [`required columns: ${CSV_COLUMNS.join(', ')} (any order; ${required.length} must be non-empty)`],
    );
  }

  const problems: string[] = [];
  const rows: CohortRow[] = [];
  const seen = new Map<string, number>();
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    const cell = (c: Column): string => record[index.get(c)!] ?? '';
    const bad = (c: Column, message: string): void => {
      problems.push(`row ${line}, column ${c}: ${message}`);
    };
    const before = problems.length;
    const patient = cell('patient');
    if (patient === '') bad('patient', 'is empty');
    const metric = cell('metric');
    if (!METRIC_SET.has(metric)) bad('metric', `must be one of ${SCORE_METRICS.join(', ')}`);
    const valueText = cell('value');
    const value = Number(valueText);
    if (valueText === '' || !Number.isFinite(value) || value <= 0) bad('value', 'must be a positive number');
    const fsText = cell('field_strength_t');
    const fieldStrengthT = fsText === '' ? null : Number(fsText);
    if (
      fieldStrengthT !== null &&
      (!Number.isFinite(fieldStrengthT) || fieldStrengthT <= 0 || fieldStrengthT > 12)
    ) {
      bad('field_strength_t', 'must be a field strength in tesla (e.g. 1.5 or 3) or empty');
    }
    const scanner = cell('scanner');
    const measuredOn = cell('measured_on');
    if (!isIsoDate(measuredOn)) bad('measured_on', 'must be a date YYYY-MM-DD');
    const outcome = cell('outcome');
    if (!OUTCOME_NAME.test(outcome)) bad('outcome', 'must be an outcome name such as osteoporosis-dxa');
    const eventText = cell('event');
    if (eventText !== '0' && eventText !== '1') bad('event', 'must be 1 (event) or 0 (no event)');
    const outcomeOn = cell('outcome_on');
    if (!isIsoDate(outcomeOn)) {
      bad('outcome_on', 'must be a date YYYY-MM-DD (when the reference standard was established)');
    }
    if (problems.length === before) {
      const key = `${patient}\u0000${metric}\u0000${outcome}`;
      const first = seen.get(key);
      if (first !== undefined) {
        bad('patient', `the same patient, metric and outcome as row ${first}: one row per patient`);
      } else {
        seen.set(key, line);
        rows.push({
          row: line,
          patient,
          metric: metric as ScoreMetric,
          value,
          fieldStrengthT,
          scanner: scanner === '' ? null : scanner,
          measuredOn,
          outcome,
          event: eventText === '1',
          outcomeOn,
        });
      }
    }
    if (problems.length >= COHORT_LIMITS.errorsReported) break;
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, COHORT_LIMITS.errorsReported);
    throw new CohortError(
      `${problems.length >= COHORT_LIMITS.errorsReported ? `at least ${shown.length}` : shown.length} invalid cell${shown.length > 1 ? 's' : ''} in the CSV`,
      shown,
    );
  }
  if (rows.length === 0) throw new CohortError('the CSV has a header but no rows');
  return rows;
}

/** Months between two ISO dates (absolute, 30.4375-day months). */
export function monthsBetween(a: string, b: string): number {
  return Math.abs(Date.parse(`${a}T00:00:00Z`) - Date.parse(`${b}T00:00:00Z`)) / (86_400_000 * 30.4375);
}
