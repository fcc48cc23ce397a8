/** Number, date and metric wording for cards (presentation only, no logic). */
import type { ScoreMetric } from '../knowledge/schema.js';
import { num } from '../knowledge/text.js';

export const METRIC_LABEL: Record<ScoreMetric, string> = {
  'vbq-l1-l4': 'VBQ',
  ebq: 'EBQ',
  'vbq-s1': 'S1 VBQ',
  'c-vbq': 'C-VBQ',
};

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A FHIR date/dateTime as a person reads it: "1 Jun 2026" (the calendar date as recorded, no zone shift). */
export function humanDate(value: string | undefined): string {
  if (value === undefined) return 'date unknown';
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(value);
  if (!m) return 'date unknown';
  const [, y, mo, d] = m;
  if (mo === undefined) return y!;
  const month = MONTHS[Number(mo) - 1] ?? mo;
  return d === undefined ? `${month} ${y}` : `${Number(d)} ${month} ${y}`;
}

export function pct(value: number | undefined): string | undefined {
  return value === undefined ? undefined : `${num(value * 100)}%`;
}

export function metricLabel(metric: ScoreMetric, region: 'lumbar' | 'cervical'): string {
  return metric === 'ebq' && region === 'cervical' ? 'C-EBQ' : METRIC_LABEL[metric];
}

/** The text a reader sees once Markdown emphasis is rendered (for the detail length budget). */
export function renderedLength(markdown: string): number {
  // Every '*' and '_' is emphasis markup ("**", "__", "*", "_" all vanish), so count them rather than
  // build the stripped copy: the budget check runs for every detail line of every card.
  let markup = 0;
  for (let i = 0; i < markdown.length; i++) {
    const c = markdown.charCodeAt(i);
    if (c === 42 /* * */ || c === 95 /* _ */) markup++;
  }
  return markdown.length - markup;
}
