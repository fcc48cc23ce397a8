/**
 * The cohort from a FHIR server: our bone-quality Observations of one metric, plus the outcome's
 * reference standard, found by the code lists of `calibration-outcomes.json` (and the knowledge base
 * lists it names):
 *  - DXA: the T-score exam closest in time to the score; event when its lowest T-score is at or below
 *    the knowledge base's osteoporosis threshold;
 *  - clinical events (Conditions / Procedures): event when a matching resource exists, dated by its onset
 *    (or performance); the one closest in time to the score is used. A patient without one is a non-event
 *    only once the whole window (`maxGapMonths`) after the score has passed, observed to the window's end;
 *    patients still inside the window are left out (their outcome is not known yet).
 * Each patient contributes their earliest valid score. Rows carry no CSV line (row 0).
 */
import type { RecentScore } from './drift.js';
import type { Bundle, Condition, FhirResource, Observation, Procedure } from 'fhir/r4.js';
import { BONE_QUALITY_SYSTEM, type KnowledgeBase } from '../knowledge/index.js';
import type { CodeEntry, ScoreMetric } from '../knowledge/schema.js';
import { isIsoDate, monthsBetween, type CohortRow } from './cohort.js';
import { outcomeCodes, type CalibrationOutcome } from './outcomes.js';

export class FhirCohortError extends Error {
  readonly problems: string[];
  constructor(message: string, problems: string[] = []) {
    super(message);
    this.name = 'FhirCohortError';
    this.problems = problems;
  }
}

export interface FhirCohortOptions {
  baseUrl: string;
  token?: string | undefined;
  metric: ScoreMetric;
  outcomeName: string;
  outcome: CalibrationOutcome;
  kb: KnowledgeBase;
  now: Date;
  maxGapMonths: number;
  fetchImpl?: typeof fetch;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /** Most pages followed per search (default 100). */
  maxPages?: number;
}

const VALID_STATUS = new Set(['final', 'amended', 'corrected']);
/** ICD-10-CM 7th characters (initial, subsequent, sequela) tried for a prefix code: FHIR token search has no prefix match. */
const ICD10_EXTENSIONS = ['A', 'D', 'S'];

type SearchOptions = Pick<FhirCohortOptions, 'baseUrl' | 'token' | 'fetchImpl' | 'timeoutMs' | 'maxPages'>;

async function searchAll<T extends FhirResource>(
  o: SearchOptions,
  resourceType: string,
  params: Record<string, string>,
): Promise<T[]> {
  const base = o.baseUrl.replace(/\/+$/, '');
  const origin = new URL(base).origin;
  let url: string | undefined =
    `${base}/${resourceType}?${new URLSearchParams({ ...params, _count: '200' }).toString()}`;
  const out: T[] = [];
  const doFetch = o.fetchImpl ?? fetch;
  for (let page = 0; url !== undefined; page++) {
    if (page >= (o.maxPages ?? 100)) {
      throw new FhirCohortError(`the ${resourceType} search has more than ${o.maxPages ?? 100} pages`);
    }
    let res: Response;
    try {
      res = await doFetch(url, {
        headers: {
          accept: 'application/fhir+json',
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        },
        signal: AbortSignal.timeout(o.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new FhirCohortError(`the FHIR server cannot be reached for the ${resourceType} search`, [
        err instanceof Error ? err.name : 'network error',
      ]);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new FhirCohortError(`the FHIR server answered ${res.status} to the ${resourceType} search`);
    }
    let bundle: Bundle;
    try {
      bundle = (await res.json()) as Bundle;
    } catch {
      throw new FhirCohortError(`the FHIR server's ${resourceType} search result is not JSON`);
    }
    if (bundle.resourceType !== 'Bundle') {
      throw new FhirCohortError(`the FHIR server's ${resourceType} search result is not a Bundle`);
    }
    for (const e of bundle.entry ?? []) {
      if (e.resource?.resourceType === resourceType && e.search?.mode !== 'include')
        out.push(e.resource as T);
    }
    const next = bundle.link?.find((l) => l.relation === 'next')?.url;
    // Only follow pages on the same server: a next link elsewhere would send the token there.
    url = next !== undefined && new URL(next, base).origin === origin ? new URL(next, base).href : undefined;
  }
  return out;
}

function patientId(ref: string | undefined): string | undefined {
  const m = /^(?:.*\/)?Patient\/([^/]+)$/.exec(ref ?? '');
  return m?.[1];
}

function day(text: string | undefined): string | undefined {
  const d = text?.slice(0, 10);
  return d !== undefined && isIsoDate(d) ? d : undefined;
}

function matches(
  entries: readonly CodeEntry[],
  system: string | undefined,
  code: string | undefined,
): boolean {
  if (system === undefined || code === undefined) return false;
  return entries.some(
    (e) => e.system === system && (e.match === 'prefix' ? code.startsWith(e.code) : code === e.code),
  );
}

function tokenList(entries: readonly CodeEntry[]): string {
  const tokens = entries.flatMap((e) => {
    const codes =
      e.match === 'prefix' && e.system.endsWith('icd-10-cm')
        ? [e.code, ...ICD10_EXTENSIONS.map((x) => `${e.code}${x}`)]
        : [e.code];
    return codes.map((c) => `${e.system}|${c}`);
  });
  return [...new Set(tokens)].join(',');
}

interface Score {
  patient: string;
  value: number;
  date: string;
  fieldStrengthT: number | null;
  scanner: string | null;
}

function component(obs: Observation, code: string) {
  return obs.component?.find((c) =>
    c.code.coding?.some((x) => x.system === BONE_QUALITY_SYSTEM && x.code === code),
  );
}

function readScores(observations: Observation[], metric: ScoreMetric): Map<string, Score> {
  const earliest = new Map<string, Score>();
  for (const obs of observations) {
    if (!VALID_STATUS.has(obs.status)) continue;
    if (!obs.code.coding?.some((c) => c.system === BONE_QUALITY_SYSTEM && c.code === metric)) continue;
    const patient = patientId(obs.subject?.reference);
    const value = obs.valueQuantity?.value;
    const date = day(obs.effectiveDateTime ?? obs.effectivePeriod?.start);
    if (patient === undefined || value === undefined || !(value > 0) || date === undefined) continue;
    const fs = component(obs, 'field-strength')?.valueQuantity?.value;
    const scanner = component(obs, 'scanner')?.valueString;
    const score: Score = {
      patient,
      value,
      date,
      fieldStrengthT: typeof fs === 'number' && fs > 0 ? fs : null,
      scanner: scanner?.trim() ? scanner.trim() : null,
    };
    const prev = earliest.get(patient);
    if (prev === undefined || score.date < prev.date) earliest.set(patient, score);
  }
  return earliest;
}

function closest<T extends { date: string }>(items: T[], date: string): T | undefined {
  let best: T | undefined;
  for (const item of items) {
    if (best === undefined || monthsBetween(item.date, date) < monthsBetween(best.date, date)) best = item;
  }
  return best;
}

function addMonths(iso: string, months: number): string {
  return new Date(Date.parse(`${iso}T00:00:00Z`) + months * 30.4375 * 86_400_000).toISOString().slice(0, 10);
}

/** Reads the cohort from the FHIR server. Throws `FhirCohortError` when it cannot. */
export async function fetchCohortFromFhir(o: FhirCohortOptions): Promise<CohortRow[]> {
  try {
    new URL(o.baseUrl);
  } catch {
    throw new FhirCohortError('the FHIR base URL is not a URL');
  }
  const observations = await searchAll<Observation>(o, 'Observation', {
    code: `${BONE_QUALITY_SYSTEM}|${o.metric}`,
  });
  const scores = readScores(observations, o.metric);
  const codes = outcomeCodes(o.outcome, o.kb);
  const rows: CohortRow[] = [];
  const row = (s: Score, event: boolean, outcomeOn: string): CohortRow => ({
    row: 0,
    patient: s.patient,
    metric: o.metric,
    value: s.value,
    fieldStrengthT: s.fieldStrengthT,
    scanner: s.scanner,
    measuredOn: s.date,
    outcome: o.outcomeName,
    event,
    outcomeOn,
  });

  if (o.outcome.source.kind === 'dxa-t-score') {
    const tCodes = codes.filter((c) => c.kind === undefined || c.kind === 't-score');
    const threshold = o.kb.parameters[o.outcome.source.tScoreParameter];
    const dxa = await searchAll<Observation>(o, 'Observation', { code: tokenList(tCodes) });
    const exams = new Map<string, Map<string, number>>(); // patient -> date -> lowest T
    for (const obs of dxa) {
      if (!VALID_STATUS.has(obs.status)) continue;
      if (!obs.code.coding?.some((c) => matches(tCodes, c.system, c.code))) continue;
      const patient = patientId(obs.subject?.reference);
      const date = day(obs.effectiveDateTime ?? obs.effectivePeriod?.start);
      const value = obs.valueQuantity?.value;
      if (patient === undefined || date === undefined || typeof value !== 'number') continue;
      const byDate = exams.get(patient) ?? new Map<string, number>();
      byDate.set(date, Math.min(byDate.get(date) ?? Infinity, value));
      exams.set(patient, byDate);
    }
    for (const s of scores.values()) {
      const byDate = exams.get(s.patient);
      if (byDate === undefined) continue; // no reference standard: not part of the cohort
      const exam = closest(
        [...byDate.entries()].map(([date, t]) => ({ date, t })),
        s.date,
      )!;
      rows.push(row(s, exam.t <= threshold, exam.date));
    }
    return rows;
  }

  const token = tokenList(codes);
  const events = new Map<string, { date: string }[]>();
  for (const type of o.outcome.source.resourceTypes) {
    const found = await searchAll<Condition | Procedure>(o, type, { code: token });
    for (const r of found) {
      if (!r.code?.coding?.some((c) => matches(codes, c.system, c.code))) continue;
      let date: string | undefined;
      if (r.resourceType === 'Condition') {
        if (r.verificationStatus?.coding?.some((c) => c.code === 'entered-in-error' || c.code === 'refuted'))
          continue;
        date = day(r.onsetDateTime ?? r.onsetPeriod?.start ?? r.recordedDate);
      } else {
        if (r.status === 'entered-in-error' || r.status === 'not-done') continue;
        date = day(r.performedDateTime ?? r.performedPeriod?.start);
      }
      const patient = patientId(r.subject?.reference);
      if (patient === undefined || date === undefined) continue;
      events.set(patient, [...(events.get(patient) ?? []), { date }]);
    }
  }
  const today = o.now.toISOString().slice(0, 10);
  for (const s of scores.values()) {
    const mine = events.get(s.patient);
    if (mine !== undefined && mine.length > 0) {
      rows.push(row(s, true, closest(mine, s.date)!.date));
      continue;
    }
    const windowEnd = addMonths(s.date, o.maxGapMonths);
    if (windowEnd <= today) rows.push(row(s, false, windowEnd));
  }
  return rows;
}

/**
 * A drift-watch source reading recent scores of one metric from a FHIR server
 * (`Observation?code=<metric>&date=ge<since>`); every valid score counts, not one per patient.
 */
export function fhirRecentScores(o: {
  baseUrl: string;
  token?: string | undefined;
  metric: ScoreMetric;
  fetchImpl?: typeof fetch;
}): (since: Date) => Promise<RecentScore[]> {
  return async (since) => {
    const observations = await searchAll<Observation>(o, 'Observation', {
      code: `${BONE_QUALITY_SYSTEM}|${o.metric}`,
      date: `ge${since.toISOString().slice(0, 10)}`,
    });
    return observations.flatMap((obs) => recentScoreOf(obs, o.metric) ?? []);
  };
}

/**
 * One recent score from a bone-quality Observation of `metric` (value, field strength, scanner, date: no
 * patient data), or undefined when it is not a valid score of that metric.
 */
export function recentScoreOf(obs: Observation, metric: ScoreMetric): RecentScore | undefined {
  const value = obs.valueQuantity?.value;
  if (!VALID_STATUS.has(obs.status) || typeof value !== 'number' || !(value > 0)) return undefined;
  if (!obs.code?.coding?.some((c) => c.system === BONE_QUALITY_SYSTEM && c.code === metric)) return undefined;
  const fs = component(obs, 'field-strength')?.valueQuantity?.value;
  const scanner = component(obs, 'scanner')?.valueString?.trim();
  return {
    metric,
    value,
    fieldStrengthT: typeof fs === 'number' && fs > 0 ? fs : null,
    scanner: scanner || null,
    measuredOn: day(obs.effectiveDateTime ?? obs.effectivePeriod?.start) ?? null,
  };
}
