/**
 * DXA facts, read from the shapes EHRs store them in: one Observation per site and kind (T-score, Z-score,
 * BMD), results as `component`s of one DXA panel Observation, `hasMember` panels, and DiagnosticReports
 * whose `result` references (contained or elsewhere in the prefetch) lead to the results. A DXA that yields
 * no T-score (BMD only, Z-score only) is "DXA on record" (`recent`) but never evidence of adequate density:
 * `recentTScore` says whether a T-score exists in the look-back window.
 */
import { findConceptEntry } from '../../knowledge/index.js';
import type { CodeEntry } from '../../knowledge/schema.js';
import { resolveReference } from '../read/bundle.js';
import type { CodeableConcept, Quantity, Reference } from '../read/primitives.js';
import { isType, type ReadObservation, type ReadResource } from '../read/resources.js';
import {
  latestFirst,
  latestFirstBySource,
  monthsBetween,
  parseDate,
  VALID_OBSERVATION_STATUS,
  withinMonths,
  type FactContext,
} from './common.js';

/** DXA sites as LOINC names them (LOINC's "Femur" codes are the femur, not the femoral neck). */
export type DxaSite = 'lumbar-spine' | 'total-hip' | 'femur' | 'femoral-neck' | 'forearm';
export type DxaKind = 't-score' | 'z-score' | 'bmd';

export interface TScoreFact {
  site: DxaSite;
  laterality: 'left' | 'right' | undefined;
  value: number;
  source: string;
  date: string;
  ageMonths: number;
}

/** A Z-score (same shape as a T-score): used where the WHO T-score classification does not apply. */
export type ZScoreFact = TScoreFact;

export interface DxaFacts {
  /** T-scores considered: those within the DXA look-back, else the latest exam's (then `stale`). */
  tScores: TScoreFact[];
  lowest: TScoreFact | undefined;
  /** Only lumbar-spine T-scores were considered: possibly falsely high in degenerative disease. */
  lumbarOnly: boolean;
  /** Any DXA result (T-score, Z-score, BMD or panel) within the look-back window: a DXA is on record. */
  recent: boolean;
  /** A T-score within the look-back window: only this can show (or rule out) osteoporosis by DXA. */
  recentTScore: boolean;
  stale: boolean;
  lastDate: string | undefined;
  /** Z-scores considered, chosen like the T-scores; lowest first. */
  zScores: ZScoreFact[];
  lowestZ: ZScoreFact | undefined;
  /** BMD values (g/cm2) considered, chosen like the T-scores: on record, never evidence by themselves. */
  bmd: TScoreFact[];
}

const DXA_SITES: readonly string[] = ['lumbar-spine', 'total-hip', 'femur', 'femoral-neck', 'forearm'];
/** Plausible ranges: a value outside is a unit or data-entry error, not a result. */
const RANGE: Record<DxaKind, [number, number]> = {
  't-score': [-10, 10],
  'z-score': [-10, 10],
  bmd: [0.05, 3],
};
// UCUM units a result of each kind may carry (unit-less results are accepted: many EHRs omit them).
const UNITS: Record<DxaKind, RegExp> = {
  't-score': /^(\{t-?score\}|t-?score|sd|\{sd\}|1)$/i,
  'z-score': /^(\{z-?score\}|z-?score|sd|\{sd\}|1)$/i,
  bmd: /^g\/cm2$|^g\/cm\^2$|^g\/cm²$/i,
};
const MAX_DEPTH = 4;

interface DxaResult {
  kind: DxaKind | 'panel';
  site: DxaSite | undefined;
  laterality: 'left' | 'right' | undefined;
  value: number | undefined;
  source: string;
  date: string;
}

function dxaEntry(ctx: FactContext, code: CodeableConcept | undefined): CodeEntry | undefined {
  return findConceptEntry(ctx.kb, 'dxa-t-score', code);
}

function asKind(entry: CodeEntry): DxaKind | 'panel' | undefined {
  const kind: string | undefined = entry.kind;
  return kind === 't-score' || kind === 'z-score' || kind === 'bmd' || kind === 'panel' ? kind : undefined;
}

/** The value of a result when its unit fits its kind and it is in range; otherwise recorded and dropped. */
function resultValue(
  ctx: FactContext,
  kind: DxaKind,
  quantity: Quantity | undefined,
  where: string,
): number | undefined {
  const value = quantity?.value;
  if (value === undefined) return undefined;
  const unit = quantity?.code ?? quantity?.unit;
  if (unit !== undefined && !UNITS[kind].test(unit.trim())) {
    ctx.log.add(where, `${kind} in unit ${unit}: not used`);
    return undefined;
  }
  const [min, max] = RANGE[kind];
  if (value < min || value > max) {
    ctx.log.add(where, `${kind} ${value} outside ${min}..${max}: not used`);
    return undefined;
  }
  return value;
}

function toResult(
  ctx: FactContext,
  entry: CodeEntry,
  quantity: Quantity | undefined,
  source: string,
  date: string,
): DxaResult | undefined {
  const kind = asKind(entry);
  if (kind === undefined) return undefined;
  const site: string | undefined = entry.site;
  return {
    kind,
    site: site !== undefined && DXA_SITES.includes(site) ? (site as DxaSite) : undefined,
    laterality: entry.laterality,
    value: kind === 'panel' ? undefined : resultValue(ctx, kind, quantity, source),
    source,
    date,
  };
}

/** Walks the DXA prefetch: Observations, their components and members, and reports' results. */
function collectResults(ctx: FactContext, roots: readonly ReadResource[]): DxaResult[] {
  const results: DxaResult[] = [];
  const visited = new Set<ReadObservation>();

  const follow = (
    refs: readonly Reference[],
    contained: readonly ReadResource[],
    date: string | undefined,
    depth: number,
  ): void => {
    for (const r of refs) {
      const target = resolveReference(ctx.prefetch, r.reference, contained);
      if (target !== undefined && isType('Observation')(target)) visitObservation(target, date, depth + 1);
    }
  };

  const visitObservation = (obs: ReadObservation, inheritedDate: string | undefined, depth: number): void => {
    // Identity, not ref: two id-less Observations share the ref Observation/unknown.
    if (depth > MAX_DEPTH || visited.has(obs)) return;
    visited.add(obs);
    if (obs.status === undefined || !VALID_OBSERVATION_STATUS.has(obs.status)) return;
    const date = obs.date ?? inheritedDate;
    if (date === undefined) {
      ctx.log.add(obs.ref, 'DXA result without a date: not used');
      return;
    }
    const entry = dxaEntry(ctx, obs.code);
    if (entry !== undefined) {
      const result = toResult(ctx, entry, obs.valueQuantity, obs.ref, date);
      if (result !== undefined) results.push(result);
    }
    // A panel's results as components (one Observation, several coded values).
    for (const component of obs.components) {
      const c = dxaEntry(ctx, component.code);
      if (c === undefined) continue;
      const result = toResult(ctx, c, component.valueQuantity, obs.ref, date);
      if (result !== undefined && result.kind !== 'panel') results.push(result);
    }
    follow(obs.hasMember, [], date, depth);
  };

  // Reports first, so results they list inherit the report's date wherever the bundle lists them.
  for (const root of roots) {
    if (isType('DiagnosticReport')(root)) {
      if (root.status === 'entered-in-error' || root.status === 'cancelled') continue;
      const before = results.length;
      follow(root.result, root.contained, root.date, 0);
      // A report coded as a DXA with no readable result is still a DXA on record.
      const entry = dxaEntry(ctx, root.code);
      if (results.length === before && entry !== undefined && root.date !== undefined) {
        results.push({
          kind: 'panel',
          site: undefined,
          laterality: undefined,
          value: undefined,
          source: root.ref,
          date: root.date,
        });
      }
    }
  }
  // Then panels (their members inherit the panel's date), then the remaining results.
  const observations = roots.filter(isType('Observation'));
  for (const root of observations) if (root.hasMember.length > 0) visitObservation(root, undefined, 0);
  for (const root of observations) visitObservation(root, undefined, 0);
  return results;
}

/** Results of one kind to consider: those within the look-back, else the latest exam's. */
function considered(all: TScoreFact[], lookback: number): { list: TScoreFact[]; stale: boolean } {
  const recent = all.filter((t) => t.ageMonths <= lookback);
  let list = recent;
  if (list.length === 0 && all.length > 0) {
    const latest = [...all].sort(latestFirst)[0]!;
    const day = latest.date.slice(0, 10);
    list = all.filter((t) => t.date.slice(0, 10) === day);
  }
  list = [...list].sort((a, b) => a.value - b.value || latestFirstBySource(a, b));
  return { list, stale: list.length > 0 && recent.length === 0 };
}

export function extractDxa(ctx: FactContext, roots: readonly ReadResource[]): DxaFacts {
  const { kb, now } = ctx;
  const results = collectResults(ctx, roots);
  const byKind: Record<DxaKind, TScoreFact[]> = { 't-score': [], 'z-score': [], bmd: [] };
  const seen = new Set<string>();
  let lastDate: string | undefined;
  for (const r of results) {
    if (lastDate === undefined || (parseDate(r.date) ?? 0) > (parseDate(lastDate) ?? 0)) lastDate = r.date;
    if (r.kind === 'panel' || r.value === undefined || r.site === undefined) continue;
    // The same value reached twice (a member listed in the bundle and by a report) counts once.
    const key = `${r.source}|${r.kind}|${r.site}|${r.laterality ?? ''}|${r.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    byKind[r.kind].push({
      site: r.site,
      laterality: r.laterality,
      value: r.value,
      source: r.source,
      date: r.date,
      ageMonths: monthsBetween(r.date, now),
    });
  }
  const lookback = kb.parameters.dxaLookbackMonths;
  const t = considered(byKind['t-score'], lookback);
  const z = considered(byKind['z-score'], lookback);
  const bmd = considered(byKind.bmd, lookback);
  return {
    tScores: t.list,
    lowest: t.list[0],
    lumbarOnly: t.list.length > 0 && t.list.every((s) => s.site === 'lumbar-spine'),
    recent: withinMonths(lastDate, lookback, now),
    recentTScore: t.list.length > 0 && !t.stale,
    stale: t.stale,
    lastDate,
    zScores: z.list,
    lowestZ: z.list[0],
    bmd: bmd.list,
  };
}
