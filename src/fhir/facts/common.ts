/** What every fact family shares: the call's context, patient ownership and date arithmetic. */
import type { KnowledgeBase } from '../../knowledge/index.js';
import type { IssueLog } from '../read/primitives.js';
import type { ReadPrefetch } from '../read/bundle.js';
import type { ReadObservation, ReadResource } from '../read/resources.js';

export const MS_PER_DAY = 86_400_000;
export const DAYS_PER_MONTH = 30.4375;
/** Observation statuses whose value counts (https://hl7.org/fhir/R4/valueset-observation-status.html). */
export const VALID_OBSERVATION_STATUS: ReadonlySet<string> = new Set(['final', 'amended', 'corrected']);

export interface FactContext {
  kb: KnowledgeBase;
  now: Date;
  patientId: string;
  prefetch: ReadPrefetch;
  log: IssueLog;
}

export function belongsToPatient(subject: string | undefined, patientId: string): boolean {
  // A resource without a subject came from a patient-scoped query; one naming another patient never counts.
  if (subject === undefined) return true;
  return subject === `Patient/${patientId}` || subject.endsWith(`/Patient/${patientId}`);
}

/** The resources of one prefetch key of one type that belong to the call's patient. */
export function ownOfKey<T extends ReadResource>(
  ctx: FactContext,
  key: string,
  isWanted: (r: ReadResource) => r is T,
): T[] {
  const out: T[] = [];
  for (const r of ctx.prefetch.byKey.get(key) ?? []) {
    if (!isWanted(r)) continue;
    if (!belongsToPatient(r.subject, ctx.patientId)) {
      ctx.log.add(r.ref, 'subject is another patient: not used');
      continue;
    }
    out.push(r);
  }
  return out;
}

export function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

export function monthsBetween(from: string, now: Date): number {
  const t = parseDate(from);
  return t === undefined ? Number.POSITIVE_INFINITY : (now.getTime() - t) / MS_PER_DAY / DAYS_PER_MONTH;
}

export function withinMonths(date: string | undefined, months: number, now: Date): boolean {
  return date !== undefined && monthsBetween(date, now) <= months;
}

export function latestFirst<T extends { date: string | undefined }>(a: T, b: T): number {
  return (parseDate(b.date) ?? 0) - (parseDate(a.date) ?? 0);
}

/** Latest first, ties broken by source so every choice is deterministic. */
export function latestFirstBySource<T extends { date: string | undefined; source: string }>(
  a: T,
  b: T,
): number {
  return latestFirst(a, b) || a.source.localeCompare(b.source);
}

export function addDays(date: string, days: number): string {
  return new Date((parseDate(date) ?? 0) + days * MS_PER_DAY).toISOString();
}

/** A dated numeric result (CT HU, vitamin D). */
export interface MeasurementFact {
  value: number;
  source: string;
  date: string;
  ageMonths: number;
}

/** The latest valid-status, dated Observation whose value `accept` can read. */
export function latestMeasurement(
  ctx: FactContext,
  observations: readonly ReadObservation[],
  accept: (obs: ReadObservation) => number | undefined,
): MeasurementFact | undefined {
  const facts: MeasurementFact[] = [];
  for (const obs of observations) {
    if (obs.status === undefined || !VALID_OBSERVATION_STATUS.has(obs.status)) continue;
    const value = accept(obs);
    if (obs.date === undefined || value === undefined) continue;
    facts.push({ value, source: obs.ref, date: obs.date, ageMonths: monthsBetween(obs.date, ctx.now) });
  }
  facts.sort(latestFirstBySource);
  return facts[0];
}
