/**
 * Cards-and-feedback analytics, computed from the audit trail (which cards each hook call returned), the
 * catalogue of shown cards (topic, indicator, suggestions of each uuid) and the feedback table.
 *
 * Definitions (also in the README): a card counts once per period however often it was returned (card
 * uuids are deterministic per patient and finding, so a re-shown card is the same advice); `presentations`
 * counts every return. Its outcome is its latest feedback: accepted, overridden, or ignored when no
 * feedback came. A suggestion's (by label within a topic) acceptance rate is the share of the cards offering it whose feedback
 * accepted it. Override reasons are those of the cards whose outcome is overridden. Weeks are ISO weeks
 * (Monday, UTC) of a card's first return in the period.
 */
import type { FeedbackEntry, ShownCardRecord } from '../store/console-queries.js';

export interface TopicRow {
  serviceId: string;
  topic: string;
  indicator: string;
  shown: number;
  presentations: number;
  accepted: number;
  overridden: number;
  ignored: number;
  /** accepted / shown, null when nothing was shown. */
  acceptanceRate: number | null;
}

export interface SuggestionRow {
  topic: string;
  label: string;
  offered: number;
  accepted: number;
  acceptanceRate: number | null;
}

export interface ReasonRow {
  code: string;
  display: string;
  count: number;
  topics: string[];
}

export interface WeekPoint {
  week: string;
  series: 'shown' | 'accepted' | 'overridden' | 'ignored';
  count: number;
}

export interface FeedbackAnalytics {
  from: Date;
  to: Date;
  topics: TopicRow[];
  suggestions: SuggestionRow[];
  reasons: ReasonRow[];
  weekly: WeekPoint[];
}

/** The Monday (UTC) of `d`'s ISO week, as YYYY-MM-DD. */
export function isoWeekStart(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7;
  const monday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day));
  return monday.toISOString().slice(0, 10);
}

const rate = (num: number, den: number): number | null => (den === 0 ? null : num / den);

export function computeFeedbackAnalytics(input: {
  from: Date;
  to: Date;
  presentations: readonly { at: Date; serviceId: string; cardIds: readonly string[] }[];
  catalogue: readonly ShownCardRecord[];
  feedback: readonly FeedbackEntry[];
}): FeedbackAnalytics {
  const catalogue = new Map(input.catalogue.map((c) => [c.cardUuid, c]));
  const cards = new Map<string, { serviceId: string; firstAt: Date; presentations: number }>();
  for (const p of input.presentations) {
    for (const uuid of p.cardIds) {
      const seen = cards.get(uuid);
      if (seen) seen.presentations += 1;
      else cards.set(uuid, { serviceId: p.serviceId, firstAt: p.at, presentations: 1 });
    }
  }
  // Latest feedback per card (entries come ordered by outcome time); accepted suggestions from any entry.
  const latest = new Map<string, FeedbackEntry>();
  const acceptedSuggestions = new Map<string, Set<string>>();
  for (const f of input.feedback) {
    if (!cards.has(f.cardUuid)) continue;
    const prev = latest.get(f.cardUuid);
    if (!prev || prev.outcomeTimestamp.getTime() <= f.outcomeTimestamp.getTime()) latest.set(f.cardUuid, f);
    if (f.outcome === 'accepted') {
      const set = acceptedSuggestions.get(f.cardUuid) ?? new Set<string>();
      for (const s of f.acceptedSuggestions) set.add(s);
      acceptedSuggestions.set(f.cardUuid, set);
    }
  }

  const topics = new Map<string, TopicRow>();
  const suggestions = new Map<string, SuggestionRow>();
  const reasons = new Map<string, ReasonRow>();
  const weekly = new Map<string, WeekPoint>();
  const bump = (week: string, series: WeekPoint['series']) => {
    const key = `${week}|${series}`;
    const point = weekly.get(key) ?? { week, series, count: 0 };
    point.count += 1;
    weekly.set(key, point);
  };
  for (const [uuid, card] of cards) {
    const info = catalogue.get(uuid);
    const topic = info?.topic ?? 'unknown';
    const indicator = info?.indicator ?? 'unknown';
    const key = `${card.serviceId}|${topic}|${indicator}`;
    const row = topics.get(key) ?? {
      serviceId: card.serviceId,
      topic,
      indicator,
      shown: 0,
      presentations: 0,
      accepted: 0,
      overridden: 0,
      ignored: 0,
      acceptanceRate: null,
    };
    row.shown += 1;
    row.presentations += card.presentations;
    const outcome = latest.get(uuid);
    const series = outcome?.outcome ?? 'ignored';
    row[series] += 1;
    topics.set(key, row);
    const week = isoWeekStart(card.firstAt);
    bump(week, 'shown');
    bump(week, series);

    for (const s of info?.suggestions ?? []) {
      // By label within a topic: suggestion uuids are per card, the label names the advice ("Order DXA").
      const sKey = `${topic}|${s.label}`;
      const sRow = suggestions.get(sKey) ?? {
        topic,
        label: s.label,
        offered: 0,
        accepted: 0,
        acceptanceRate: null,
      };
      sRow.offered += 1;
      if (acceptedSuggestions.get(uuid)?.has(s.uuid)) sRow.accepted += 1;
      suggestions.set(sKey, sRow);
    }
    if (outcome?.outcome === 'overridden') {
      const code = outcome.overrideReason?.code ?? '(no reason given)';
      const r = reasons.get(code) ?? {
        code,
        display: outcome.overrideReason?.display ?? '',
        count: 0,
        topics: [],
      };
      r.count += 1;
      if (!r.topics.includes(topic)) r.topics.push(topic);
      reasons.set(code, r);
    }
  }
  for (const row of topics.values()) row.acceptanceRate = rate(row.accepted, row.shown);
  for (const row of suggestions.values()) row.acceptanceRate = rate(row.accepted, row.offered);
  return {
    from: input.from,
    to: input.to,
    topics: [...topics.values()].sort(
      (a, b) =>
        a.serviceId.localeCompare(b.serviceId) ||
        a.topic.localeCompare(b.topic) ||
        a.indicator.localeCompare(b.indicator),
    ),
    suggestions: [...suggestions.values()].sort(
      (a, b) => a.topic.localeCompare(b.topic) || a.label.localeCompare(b.label),
    ),
    reasons: [...reasons.values()].sort((a, b) => b.count - a.count || a.code.localeCompare(b.code)),
    weekly: [...weekly.values()].sort(
      (a, b) => a.week.localeCompare(b.week) || a.series.localeCompare(b.series),
    ),
  };
}

/** RFC 4180 field: quoted when it holds a comma, quote or line break; a leading =+-@ is neutralised. */
function csvField(value: unknown): string {
  let s = value === null || value === undefined ? '' : String(value);
  // Spreadsheet formula injection: a cell starting with these runs as a formula in Excel and friends.
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function analyticsCsv(a: FeedbackAnalytics): string {
  const header = [
    'period_start',
    'period_end',
    'service',
    'topic',
    'indicator',
    'shown',
    'presentations',
    'accepted',
    'overridden',
    'ignored',
    'acceptance_rate',
  ];
  const from = a.from.toISOString();
  const to = a.to.toISOString();
  const lines = a.topics.map((r) =>
    [
      from,
      to,
      r.serviceId,
      r.topic,
      r.indicator,
      r.shown,
      r.presentations,
      r.accepted,
      r.overridden,
      r.ignored,
      r.acceptanceRate === null ? '' : r.acceptanceRate.toFixed(4),
    ]
      .map(csvField)
      .join(','),
  );
  return `${[header.join(','), ...lines].join('\r\n')}\r\n`;
}
