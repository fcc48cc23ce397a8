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
  /** Route of the first dosage: systemic / non-systemic by the knowledge base's route lists, else unknown. */
  route?: 'systemic' | 'non-systemic' | 'unknown';
  /** Daily dose in mg from the first dosage (dose x frequency / period), when it states one in mg. */
  dailyDoseMg?: number;
  /** Glucocorticoids: the daily dose as prednisone-equivalent mg (knowledge base's conversion table). */
  prednisoneEquivalentMgPerDay?: number;
}

export interface GlucocorticoidFacts {
  longTerm: boolean;
  days: number | undefined;
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

function supplyDays(request: ReadMedicationRequest): number | undefined {
  const duration = request.expectedSupplyDuration;
  if (duration?.value === undefined) return undefined;
  const perUnit: Record<string, number> = { d: 1, wk: 7, mo: DAYS_PER_MONTH, a: 365.25 };
  const factor = perUnit[duration.code ?? duration.unit ?? 'd'] ?? 1;
  const repeats = Math.max(0, request.numberOfRepeatsAllowed ?? 0);
  return duration.value * factor * (1 + repeats);
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
  const gc = (ctx.kb as unknown as { clinicalData?: { glucocorticoids?: Record<string, unknown> } })
    .clinicalData?.glucocorticoids;
  const systemic = typeof gc?.systemicRoutesList === 'string' ? gc.systemicRoutesList : 'systemic-routes';
  const local =
    typeof gc?.nonSystemicRoutesList === 'string' ? gc.nonSystemicRoutesList : 'non-systemic-routes';
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
  const table = (
    ctx.kb as unknown as { clinicalData?: { glucocorticoids?: { prednisoneEquivalents?: unknown } } }
  ).clinicalData?.glucocorticoids?.prednisoneEquivalents;
  if (!Array.isArray(table)) return undefined;
  for (const row of table as unknown[]) {
    if (typeof row !== 'object' || row === null) continue;
    const { ingredient: name, mgEquivalentToPrednisone5mg: mg } = row as Record<string, unknown>;
    if (
      typeof name === 'string' &&
      name.toLowerCase() === ingredient.toLowerCase() &&
      typeof mg === 'number' &&
      mg > 0
    ) {
      return Math.round(((mgPerDay * 5) / mg) * 100) / 100;
    }
  }
  return undefined;
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
  };
}

export function extractMedications(
  ctx: FactContext,
  requests: readonly ReadMedicationRequest[],
  statements: readonly ReadMedicationStatement[],
  steroidConditions: readonly ConditionFact[],
): { treatments: MedicationFact[]; glucocorticoids: GlucocorticoidFacts } {
  const { kb, now } = ctx;
  const glucocorticoidFacts: MedicationFact[] = [];
  const treatments: MedicationFact[] = [];
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
    const current =
      record.status === 'active' ||
      record.status === 'intended' ||
      ((record.status === 'completed' || record.status === 'on-hold') &&
        withinMonths(record.end ?? record.start, kb.parameters.treatmentRecencyMonths, now));
    if (current) treatments.push(toMedicationFact(record, tx.ingredient ?? tx.display, tx.drugClass));
  }
  // Inhaled, topical, nasal, ophthalmic, otic or rectal-local glucocorticoids are not systemic exposure.
  const recent = glucocorticoidFacts.filter(
    (g) =>
      g.route !== 'non-systemic' &&
      (g.status === 'active' || withinMonths(g.end ?? g.start, kb.parameters.treatmentRecencyMonths, now)),
  );
  const longestDays = recent.reduce<number | undefined>(
    (max, g) => (g.days !== undefined && (max === undefined || g.days > max) ? g.days : max),
    undefined,
  );
  const longTerm = (longestDays ?? 0) >= kb.parameters.glucocorticoidMinDays || steroidConditions.length > 0;
  return {
    treatments,
    glucocorticoids: {
      longTerm,
      days: longestDays,
      sources: [
        ...recent.filter((g) => (g.days ?? 0) >= kb.parameters.glucocorticoidMinDays).map((g) => g.source),
        ...steroidConditions.map((c) => c.source),
      ],
      courses: glucocorticoidFacts,
    },
  };
}
