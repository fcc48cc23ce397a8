/** DXA facts: T-scores by site within the look-back window, the lowest one, and when the last DXA was. */
import { findConceptEntry } from '../../knowledge/index.js';
import type { ReadObservation } from '../read/resources.js';
import {
  latestFirst,
  latestFirstBySource,
  monthsBetween,
  parseDate,
  VALID_OBSERVATION_STATUS,
  withinMonths,
  type FactContext,
} from './common.js';

export type DxaSite = 'lumbar-spine' | 'total-hip' | 'femoral-neck' | 'forearm';

export interface TScoreFact {
  site: DxaSite;
  laterality: 'left' | 'right' | undefined;
  value: number;
  source: string;
  date: string;
  ageMonths: number;
}

export interface DxaFacts {
  /** T-scores considered: those within the DXA look-back, else the latest exam's (then `stale`). */
  tScores: TScoreFact[];
  lowest: TScoreFact | undefined;
  /** Only lumbar-spine T-scores were considered: possibly falsely high in degenerative disease. */
  lumbarOnly: boolean;
  /** Any DXA result within the look-back window. */
  recent: boolean;
  stale: boolean;
  lastDate: string | undefined;
}

export function extractDxa(ctx: FactContext, observations: readonly ReadObservation[]): DxaFacts {
  const { kb, now } = ctx;
  const all: TScoreFact[] = [];
  let lastDate: string | undefined;
  for (const obs of observations) {
    if (obs.status === undefined || !VALID_OBSERVATION_STATUS.has(obs.status)) continue;
    const entry = findConceptEntry(kb, 'dxa-t-score', obs.code);
    const date = obs.date;
    if (entry === undefined || date === undefined) continue;
    if (lastDate === undefined || (parseDate(date) ?? 0) > (parseDate(lastDate) ?? 0)) lastDate = date;
    const value = obs.valueQuantity?.value;
    if (
      entry.kind !== 't-score' ||
      value === undefined ||
      entry.site === undefined ||
      entry.site === 'panel'
    ) {
      continue;
    }
    all.push({
      site: entry.site,
      laterality: entry.laterality,
      value,
      source: obs.ref,
      date,
      ageMonths: monthsBetween(date, now),
    });
  }
  const lookback = kb.parameters.dxaLookbackMonths;
  const recentScores = all.filter((t) => t.ageMonths <= lookback);
  let considered = recentScores;
  if (considered.length === 0 && all.length > 0) {
    // No recent DXA: report the latest exam's T-scores, flagged stale.
    const latest = [...all].sort(latestFirst)[0]!;
    const day = latest.date.slice(0, 10);
    considered = all.filter((t) => t.date.slice(0, 10) === day);
  }
  considered = [...considered].sort((a, b) => a.value - b.value || latestFirstBySource(a, b));
  const lowest = considered[0];
  return {
    tScores: considered,
    lowest,
    lumbarOnly: considered.length > 0 && considered.every((t) => t.site === 'lumbar-spine'),
    recent: withinMonths(lastDate, lookback, now),
    stale: considered.length > 0 && recentScores.length === 0,
    lastDate,
  };
}
