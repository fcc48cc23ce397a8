/**
 * Medication facts: current osteoporosis treatment and glucocorticoid exposure, from MedicationRequest and
 * MedicationStatement, with the drug read from the inline concept, a contained Medication or a Medication
 * found in the prefetch (its code and its ingredients).
 */
import { findConceptEntry, findIngredientEntry } from '../../knowledge/index.js';
import type { CodeEntry, CodeListId } from '../../knowledge/schema.js';
import { resolveReference } from '../read/bundle.js';
import type { CodeableConcept } from '../read/primitives.js';
import {
  isType,
  type ReadDosage,
  type ReadMedication,
  type ReadMedicationRequest,
  type ReadMedicationStatement,
} from '../read/resources.js';
import { addDays, DAYS_PER_MONTH, MS_PER_DAY, parseDate, withinMonths, type FactContext } from './common.js';
import type { ConditionFact } from './conditions.js';

export interface MedicationFact {
  ingredient: string;
  drugClass: 'antiresorptive' | 'anabolic' | undefined;
  source: string;
  status: string;
  start: string | undefined;
  end: string | undefined;
  days: number | undefined;
  /**
   * The latest dose the record shows: a statement's effective date (or period end), a request's start
   * or, when refills were allowed, the start of the last refill due by now (refills are assumed taken).
   */
  lastDose?: string;
  /** Route of the first dosage: systemic / non-systemic by the knowledge base's route lists, else unknown. */
  route?: 'systemic' | 'non-systemic' | 'unknown';
  /** Daily dose in mg from the first dosage (dose x frequency / period), when it states one in mg. */
  dailyDoseMg?: number;
  /** Glucocorticoids: the daily dose as prednisone-equivalent mg (knowledge base's conversion table). */
  prednisoneEquivalentMgPerDay?: number;
}

export interface GlucocorticoidFacts {
  longTerm: boolean;
  /** Days of the longest recent systemic exposure, successive requests, renewals and refills summed. */
  days: number | undefined;
  /** The requests and statements that make up that exposure (and any long-term-steroid-use diagnosis). */
  sources: string[];
  /** Every glucocorticoid request or statement read, any date and route: the exposure the rules weigh. */
  courses: MedicationFact[];
}

interface MedicationRecord {
  /** Every concept naming the drug: the inline one, the Medication's code and its ingredients. */
  concepts: CodeableConcept[];
  dosage: ReadDosage | undefined;
  source: string;
  status: string;
  start: string | undefined;
  end: string | undefined;
  lastDose: string | undefined;
}

const REQUEST_STATUS = new Set(['active', 'completed', 'on-hold', 'stopped']);
const STATEMENT_STATUS = new Set(['active', 'completed', 'intended', 'on-hold', 'stopped']);

function medicationConcepts(
  ctx: FactContext,
  resource: ReadMedicationRequest | ReadMedicationStatement,
): CodeableConcept[] {
  if (resource.medicationCodeableConcept !== undefined) return [resource.medicationCodeableConcept];
  const reference = resource.medicationReference;
  const target = resolveReference(ctx.prefetch, reference?.reference, resource.contained);
  const medication: ReadMedication | undefined =
    target !== undefined && isType('Medication')(target) ? target : undefined;
  const concepts = medication === undefined ? [] : [medication.code, ...medication.ingredients];
  if (reference?.display !== undefined) concepts.push({ coding: [], text: reference.display });
  return concepts.filter((c): c is CodeableConcept => c !== undefined);
}

/** Days one fill lasts (`expectedSupplyDuration`), when stated. */
function fillDays(request: ReadMedicationRequest): number | undefined {
  const duration = request.expectedSupplyDuration;
  if (duration?.value === undefined) return undefined;
  const perUnit: Record<string, number> = { d: 1, wk: 7, mo: DAYS_PER_MONTH, a: 365.25 };
  const factor = perUnit[duration.code ?? duration.unit ?? 'd'] ?? 1;
  return duration.value * factor;
}

function repeatsOf(request: ReadMedicationRequest): number {
  return Math.max(0, request.numberOfRepeatsAllowed ?? 0);
}

/** Days the request supplies: the first fill and every refill (numberOfRepeatsAllowed x expectedSupplyDuration). */
function supplyDays(request: ReadMedicationRequest): number | undefined {
  const days = fillDays(request);
  return days === undefined ? undefined : days * (1 + repeatsOf(request));
}

/** The start of the last fill due by `now` (refills assumed taken when due). */
function lastFill(request: ReadMedicationRequest, start: string | undefined, now: Date): string | undefined {
  const days = fillDays(request);
  const startMs = parseDate(start);
  if (start === undefined || startMs === undefined || days === undefined || days <= 0) return start;
  const due = Math.floor((now.getTime() - startMs) / MS_PER_DAY / days);
  const fills = Math.min(repeatsOf(request), Math.max(0, due));
  return fills === 0 ? start : addDays(start, fills * days);
}

function medicationRecords(
  ctx: FactContext,
  requests: readonly ReadMedicationRequest[],
  statements: readonly ReadMedicationStatement[],
): MedicationRecord[] {
  const nowIso = ctx.now.toISOString();
  const records: MedicationRecord[] = [];
  for (const r of requests) {
    if (r.status === undefined || !REQUEST_STATUS.has(r.status)) continue;
    const bounds = r.dosage[0]?.boundsPeriod;
    const start = bounds?.start ?? r.validityPeriod?.start ?? r.authoredOn;
    const days = supplyDays(r);
    const end =
      bounds?.end ??
      r.validityPeriod?.end ??
      (start !== undefined && days !== undefined ? addDays(start, days) : undefined) ??
      (r.status === 'active' ? nowIso : start);
    records.push({
      concepts: medicationConcepts(ctx, r),
      dosage: r.dosage[0],
      source: r.ref,
      status: r.status,
      start,
      end,
      lastDose: lastFill(r, start, ctx.now),
    });
  }
  for (const s of statements) {
    if (s.status === undefined || !STATEMENT_STATUS.has(s.status)) continue;
    const start = s.effectivePeriod?.start ?? s.effectiveDateTime ?? s.dateAsserted;
    const end = s.effectivePeriod?.end ?? (s.status === 'active' ? nowIso : start);
    records.push({
      concepts: medicationConcepts(ctx, s),
      dosage: s.dosage[0],
      source: s.ref,
      status: s.status,
      start,
      end,
      // An open-ended active statement says the drug is taken, not when the last dose was given.
      lastDose: s.effectiveDateTime ?? s.effectivePeriod?.end ?? s.dateAsserted,
    });
  }
  return records;
}

function matchDrug(ctx: FactContext, listId: CodeListId, concepts: CodeableConcept[]): CodeEntry | undefined {
  for (const concept of concepts) {
    const entry = findConceptEntry(ctx.kb, listId, concept);
    if (entry !== undefined) return entry;
  }
  for (const concept of concepts) {
    const entry = findIngredientEntry(ctx.kb, listId, concept);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

/** A code list that may not exist yet in this knowledge base: matched only when it does. */
function matchOptionalList(ctx: FactContext, listId: string, concept: CodeableConcept | undefined): boolean {
  if (!Object.hasOwn(ctx.kb.codeLists, listId)) return false;
  return findConceptEntry(ctx.kb, listId as CodeListId, concept) !== undefined;
}

function routeOf(ctx: FactContext, dosage: ReadDosage | undefined): MedicationFact['route'] {
  const gc = ctx.kb.clinicalData.glucocorticoids;
  const systemic = gc.systemicRoutesList;
  const local = gc.nonSystemicRoutesList;
  if (matchOptionalList(ctx, systemic, dosage?.route)) return 'systemic';
  if (matchOptionalList(ctx, local, dosage?.route)) return 'non-systemic';
  return 'unknown';
}

const PER_DAY: Record<string, number> = { h: 24, d: 1, wk: 1 / 7, mo: 1 / DAYS_PER_MONTH };

function dailyDoseMg(dosage: ReadDosage | undefined): number | undefined {
  const dose = dosage?.doseQuantity;
  const unit = (dose?.code ?? dose?.unit)?.toLowerCase();
  if (dose?.value === undefined || unit !== 'mg' || dose.value <= 0) return undefined;
  const frequency = dosage?.frequency ?? 1;
  const period = dosage?.period ?? 1;
  const perDay = PER_DAY[dosage?.periodUnit ?? 'd'];
  if (perDay === undefined || period <= 0 || frequency <= 0) return undefined;
  return (dose.value * frequency * perDay) / period;
}

/** Prednisone-equivalent mg/day from the knowledge base's table (dose x 5 / mg equivalent to prednisone 5 mg). */
function prednisoneEquivalent(
  ctx: FactContext,
  ingredient: string,
  mgPerDay: number | undefined,
): number | undefined {
  if (mgPerDay === undefined) return undefined;
  const row = ctx.kb.clinicalData.glucocorticoids.prednisoneEquivalents.find(
    (r) => r.ingredient.toLowerCase() === ingredient.toLowerCase(),
  );
  return row === undefined
    ? undefined
    : Math.round(((mgPerDay * 5) / row.mgEquivalentToPrednisone5mg) * 100) / 100;
}

function toMedicationFact(
  record: MedicationRecord,
  ingredient: string,
  drugClass: MedicationFact['drugClass'],
): MedicationFact {
  const start = parseDate(record.start);
  const end = parseDate(record.end);
  const days = start === undefined || end === undefined ? undefined : Math.max(0, (end - start) / MS_PER_DAY);
  return {
    ingredient,
    drugClass,
    source: record.source,
    status: record.status,
    start: record.start,
    end: record.end,
    days: days === undefined ? undefined : Math.round(days),
    ...(record.lastDose === undefined ? {} : { lastDose: record.lastDose }),
  };
}

/** The knowledge base's dosing row of a treatment ingredient ("zoledronic" names "zoledronic acid"). */
export function treatmentRow(ctx: Pick<FactContext, 'kb'>, ingredient: string) {
  const name = ingredient.toLowerCase();
  return ctx.kb.clinicalData.treatments.find(
    (t) => t.ingredient.toLowerCase() === name || t.ingredient.toLowerCase().split(' ')[0] === name,
  );
}

/**
 * Current treatment by the drug's own dosing: an active or intended record (for a drug with an overdue
 * limit, only while its last dose is within it), or a completed / on-hold one whose supply ended or whose
 * last dose was given within the drug's `currentForDays`. Without a dosing row, the general recency window.
 */
function isCurrent(ctx: FactContext, fact: MedicationFact): boolean {
  const row = treatmentRow(ctx, fact.ingredient);
  const { now } = ctx;
  const days = (date: string | undefined): number | undefined => {
    const t = parseDate(date);
    return t === undefined ? undefined : (now.getTime() - t) / MS_PER_DAY;
  };
  if (fact.status === 'active' || fact.status === 'intended') {
    if (row?.overdueAfterDays === undefined) return true;
    const since = days(fact.lastDose);
    return since === undefined || since <= row.overdueAfterDays;
  }
  if (fact.status !== 'completed' && fact.status !== 'on-hold') return false;
  if (row === undefined)
    return withinMonths(fact.end ?? fact.start, ctx.kb.parameters.treatmentRecencyMonths, now);
  const endSince = days(row.overdueAfterDays === undefined ? (fact.end ?? fact.lastDose) : fact.lastDose);
  return endSince !== undefined && endSince <= row.currentForDays;
}

interface Interval {
  start: number;
  end: number;
  sources: string[];
}

/**
 * Systemic exposure as continuous intervals: each course's [start, end], merged when a renewal or refill
 * starts within the knowledge base's gap of the previous end (successive requests are one exposure).
 */
function exposures(ctx: FactContext, courses: readonly MedicationFact[]): Interval[] {
  const gapMs = ctx.kb.clinicalData.glucocorticoids.renewalGapDays.value * MS_PER_DAY;
  const intervals = courses
    .map((c) => ({ start: parseDate(c.start), end: parseDate(c.end), source: c.source }))
    .filter(
      (c): c is { start: number; end: number; source: string } =>
        c.start !== undefined && c.end !== undefined,
    )
    .sort((a, b) => a.start - b.start || a.source.localeCompare(b.source));
  const merged: Interval[] = [];
  for (const c of intervals) {
    const last = merged[merged.length - 1];
    if (last !== undefined && c.start <= last.end + gapMs) {
      last.end = Math.max(last.end, c.end);
      last.sources.push(c.source);
    } else merged.push({ start: c.start, end: Math.max(c.start, c.end), sources: [c.source] });
  }
  return merged;
}

export function extractMedications(
  ctx: FactContext,
  requests: readonly ReadMedicationRequest[],
  statements: readonly ReadMedicationStatement[],
  steroidConditions: readonly ConditionFact[],
): {
  treatments: MedicationFact[];
  treatmentHistory: MedicationFact[];
  glucocorticoids: GlucocorticoidFacts;
} {
  const { kb, now } = ctx;
  const glucocorticoidFacts: MedicationFact[] = [];
  const treatments: MedicationFact[] = [];
  const history: MedicationFact[] = [];
  for (const record of medicationRecords(ctx, requests, statements)) {
    const gc = matchDrug(ctx, 'glucocorticoids', record.concepts);
    if (gc !== undefined) {
      const ingredient = gc.ingredient ?? gc.display;
      const fact = toMedicationFact(record, ingredient, undefined);
      fact.route = routeOf(ctx, record.dosage);
      const mg = dailyDoseMg(record.dosage);
      if (mg !== undefined) fact.dailyDoseMg = mg;
      const equivalent = prednisoneEquivalent(ctx, ingredient, mg);
      if (equivalent !== undefined) fact.prednisoneEquivalentMgPerDay = equivalent;
      glucocorticoidFacts.push(fact);
    }
    const tx = matchDrug(ctx, 'osteoporosis-treatment', record.concepts);
    if (tx === undefined) continue;
    const name = tx.ingredient ?? tx.display;
    // The dosing table's full name ("zoledronic acid"), which cards show and the overdue rule matches.
    const fact = toMedicationFact(record, treatmentRow(ctx, name)?.ingredient ?? name, tx.drugClass);
    history.push(fact);
    if (isCurrent(ctx, fact)) treatments.push(fact);
  }
  const gc = kb.clinicalData.glucocorticoids;
  // Inhaled, topical, nasal, ophthalmic, otic or rectal-local glucocorticoids are not systemic exposure,
  // nor is a stated daily dose below the threshold (a dose that cannot be read still counts).
  const systemic = glucocorticoidFacts.filter(
    (g) =>
      g.route !== 'non-systemic' &&
      (g.prednisoneEquivalentMgPerDay === undefined ||
        g.prednisoneEquivalentMgPerDay >= gc.exposureThresholdMgPerDay.value),
  );
  const recencyMs = kb.parameters.treatmentRecencyMonths * DAYS_PER_MONTH * MS_PER_DAY;
  const recent = exposures(ctx, systemic).filter((e) => now.getTime() - e.end <= recencyMs);
  const longest = recent.reduce<Interval | undefined>(
    (best, e) => (best === undefined || e.end - e.start > best.end - best.start ? e : best),
    undefined,
  );
  const longestDays =
    longest === undefined ? undefined : Math.round((longest.end - longest.start) / MS_PER_DAY);
  const minDays = kb.parameters.glucocorticoidMinDays;
  const longTerm = (longestDays ?? 0) >= minDays || steroidConditions.length > 0;
  return {
    treatments,
    treatmentHistory: history,
    glucocorticoids: {
      longTerm,
      days: longestDays,
      sources: [
        ...((longestDays ?? 0) >= minDays ? [...longest!.sources].sort() : []),
        ...steroidConditions.map((c) => c.source),
      ],
      courses: glucocorticoidFacts,
    },
  };
}
