/** Number, date and metric wording shared by rules and cards (presentation only, no logic). */
import type { ScoreMetric } from '../knowledge/schema.js';

export const METRIC_LABEL: Record<ScoreMetric, string> = {
  'vbq-l1-l4': 'VBQ',
  ebq: 'EBQ',
  'vbq-s1': 'S1 VBQ',
  'c-vbq': 'C-VBQ',
};

/** A number as published: no trailing zeros, at most three decimals. */
export function num(value: number): string {
  return String(Number(value.toFixed(3)));
}

/** The calendar date of a FHIR date/dateTime. */
export function day(value: string | undefined): string {
  return value === undefined ? 'date unknown' : value.slice(0, 10);
}

export function pct(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `${num(value * 100)}%`;
}

export function metricLabel(metric: ScoreMetric, region: 'lumbar' | 'cervical'): string {
  return metric === 'ebq' && region === 'cervical' ? 'C-EBQ' : METRIC_LABEL[metric];
}
