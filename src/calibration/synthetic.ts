/**
 * Synthetic cohorts from a binormal model (scores of non-events ~ N(mu0, s0), of events ~ N(mu1, s1)), so
 * the true AUC and the true Youden-optimal cutoff are known (`binormalTruth`). Seeded: the same seed gives
 * the same cohort. Used by the tests and by the example-cohort script; never by the service.
 */
import type { ScoreMetric } from '../knowledge/schema.js';
import type { CohortRow } from './cohort.js';
import { CSV_COLUMNS } from './cohort.js';
import { reproducibleRandom } from './random.js';

export interface SyntheticStratum {
  fieldStrengthT: number | null;
  scanner: string | null;
  events: number;
  nonEvents: number;
  mu0: number;
  s0: number;
  mu1: number;
  s1: number;
}

export interface SyntheticOptions {
  seed: number;
  metric: ScoreMetric;
  outcome: string;
  /** First scan date (YYYY-MM-DD); scans are spread over `spanDays`. */
  start: string;
  spanDays?: number;
  /** Reference standard at most this many days after the score (default 150). */
  maxGapDays?: number;
  strata: SyntheticStratum[];
  /** Prefix of the synthetic patient ids. */
  patientPrefix?: string;
}

const DAY_MS = 86_400_000;

function addDays(iso: string, days: number): string {
  return new Date(Date.parse(`${iso}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Generates the rows; scores are rounded to 3 decimals as the measurement reports them. */
export function syntheticCohort(options: SyntheticOptions): CohortRow[] {
  const random = reproducibleRandom(options.seed);
  const span = options.spanDays ?? 730;
  const maxGap = options.maxGapDays ?? 150;
  const prefix = options.patientPrefix ?? 'SYN';
  const rows: CohortRow[] = [];
  let id = 0;
  for (const s of options.strata) {
    const labels = [...Array<boolean>(s.events).fill(true), ...Array<boolean>(s.nonEvents).fill(false)];
    for (const event of labels) {
      id++;
      const value = event ? random.normal(s.mu1, s.s1) : random.normal(s.mu0, s.s0);
      const measuredOn = addDays(options.start, random.index(span));
      rows.push({
        row: 0,
        patient: `${prefix}-${String(id).padStart(5, '0')}`,
        metric: options.metric,
        // Scores below 0.1 do not occur in practice; the floor keeps the synthetic values plausible.
        value: Math.max(0.1, Math.round(value * 1000) / 1000),
        fieldStrengthT: s.fieldStrengthT,
        scanner: s.scanner,
        measuredOn,
        outcome: options.outcome,
        event,
        outcomeOn: addDays(measuredOn, random.index(maxGap + 1)),
      });
    }
  }
  // Interleave strata and labels the way a registry export would list patients.
  for (let i = rows.length - 1; i > 0; i--) {
    const j = random.index(i + 1);
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return rows.map((r, i) => ({ ...r, row: i + 2 }));
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Writes rows as the CSV `vbq calibrate` reads (header row, the documented columns). */
export function cohortToCsv(rows: readonly CohortRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push(
      [
        r.patient,
        r.metric,
        String(r.value),
        r.fieldStrengthT === null ? '' : String(r.fieldStrengthT),
        r.scanner ?? '',
        r.measuredOn,
        r.outcome,
        r.event ? '1' : '0',
        r.outcomeOn,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}
