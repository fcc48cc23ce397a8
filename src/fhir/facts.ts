/**
 * Resource -> fact extraction: turns the hydrated prefetch into typed facts, each carrying the id of the
 * resource it came from and its date. Pure: the clock is an argument and nothing here does I/O.
 */
import type {
  Bundle,
  CodeableConcept,
  Condition,
  FhirResource,
  ImagingStudy,
  MedicationRequest,
  MedicationStatement,
  Observation,
  ObservationComponent,
  Patient,
  Reference,
} from 'fhir/r4.js';
import {
  BONE_QUALITY_SYSTEM,
  findConceptEntry,
  findIngredientEntry,
  type KnowledgeBase,
} from '../knowledge/index.js';
import { SCORE_METRICS, type CodeListId, type ScoreMetric } from '../knowledge/schema.js';
import type { HydratedPrefetch } from '../cds/types.js';
import { bundleResources, requestCode } from './facts-orders.js';

const MS_PER_DAY = 86_400_000;
const DAYS_PER_MONTH = 30.4375;
const VALID_OBSERVATION_STATUS = new Set(['final', 'amended', 'corrected']);

export type ScoreRegion = 'lumbar' | 'cervical';

/** The latest valid bone-quality score of one metric (and region, for EBQ). */
export interface BoneQualityScoreFact {
  metric: ScoreMetric;
  region: ScoreRegion;
  value: number;
  source: string;
  date: string;
  ageMonths: number;
  fieldStrengthT: number | undefined;
  sequence: string | undefined;
  scanner: string | undefined;
  levelsUsed: string | undefined;
  csfLevel: string | undefined;
  excludedLevels: string | undefined;
}

/** A bone-quality Observation that cannot be used, with why. */
export interface ExcludedScoreFact {
  metric: ScoreMetric;
  value: number | undefined;
  source: string;
  date: string | undefined;
  reasons: string[];
}

export type DxaSite = 'lumbar-spine' | 'total-hip' | 'femur' | 'femoral-neck' | 'forearm';

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

export interface MeasurementFact {
  value: number;
  source: string;
  date: string;
  ageMonths: number;
}

export interface ConditionFact {
  list: CodeListId;
  code: string;
  display: string;
  source: string;
  date: string | undefined;
}

export interface MedicationFact {
  ingredient: string;
  drugClass: 'antiresorptive' | 'anabolic' | undefined;
  source: string;
  status: string;
  start: string | undefined;
  end: string | undefined;
  days: number | undefined;
}

export interface OrderFact {
  source: string;
  code: string;
  display: string;
  status: string;
  date: string | undefined;
  /** The order is among this call's draft orders. */
  inDraftOrders: boolean;
}

export interface MrStudyFact {
  source: string;
  date: string;
  region: ScoreRegion;
  studyUid: string | undefined;
}

export interface PatientFact {
  id: string;
  ageYears: number | undefined;
  sex: 'male' | 'female' | 'other' | 'unknown';
}

export const CONDITION_LISTS = [
  'osteoporosis',
  'osteopenia',
  'fragility-fracture',
  'hyperlipidemia',
  'diabetes',
  'ckd',
  'rheumatoid-arthritis',
  'hyperparathyroidism',
  'long-term-steroid-use',
] as const satisfies readonly CodeListId[];
export type ConditionListId = (typeof CONDITION_LISTS)[number];

export interface Facts {
  patient: PatientFact;
  scores: BoneQualityScoreFact[];
  excludedScores: ExcludedScoreFact[];
  dxa: DxaFacts;
  ctHu: MeasurementFact | undefined;
  vitaminD: MeasurementFact | undefined;
  conditions: Record<ConditionListId, ConditionFact[]>;
  glucocorticoids: { longTerm: boolean; days: number | undefined; sources: string[] };
  treatments: MedicationFact[];
  dxaOrders: OrderFact[];
  referrals: OrderFact[];
  vitaminDOrders: OrderFact[];
  mrWithoutScore: MrStudyFact[];
}

export interface FactInput {
  patientId: string;
  prefetch: HydratedPrefetch;
  draftOrders: Bundle | undefined;
  now: Date;
}

// ---- helpers ----------------------------------------------------------------------------------------

function resourcesOf<T extends FhirResource>(
  value: FhirResource | null | undefined,
  type: T['resourceType'],
): T[] {
  if (value === null || value === undefined) return [];
  if (value.resourceType === 'Bundle') {
    return bundleResources(value).filter((r): r is T => r.resourceType === type);
  }
  return value.resourceType === type ? [value as T] : [];
}

function ref(resource: FhirResource): string {
  return `${resource.resourceType}/${resource.id ?? 'unknown'}`;
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

function monthsBetween(from: string, now: Date): number {
  const t = parseDate(from);
  return t === undefined ? Number.POSITIVE_INFINITY : (now.getTime() - t) / MS_PER_DAY / DAYS_PER_MONTH;
}

function withinMonths(date: string | undefined, months: number, now: Date): boolean {
  return date !== undefined && monthsBetween(date, now) <= months;
}

function observationDate(obs: Observation): string | undefined {
  return obs.effectiveDateTime ?? obs.effectivePeriod?.start ?? obs.effectiveInstant ?? obs.issued;
}

function belongsToPatient(subject: Reference | undefined, patientId: string): boolean {
  // A resource without a subject came from a patient-scoped query; one naming another patient never counts.
  if (subject?.reference === undefined) return true;
  return subject.reference === `Patient/${patientId}` || subject.reference.endsWith(`/Patient/${patientId}`);
}

function latestFirst<T extends { date: string | undefined }>(a: T, b: T): number {
  return (parseDate(b.date) ?? 0) - (parseDate(a.date) ?? 0);
}

function bqComponent(obs: Observation, code: string): ObservationComponent | undefined {
  return obs.component?.find((c) =>
    c.code.coding?.some((cd) => cd.system === BONE_QUALITY_SYSTEM && cd.code === code),
  );
}

function bqMetric(obs: Observation): ScoreMetric | undefined {
  for (const coding of obs.code.coding ?? []) {
    if (coding.system !== BONE_QUALITY_SYSTEM) continue;
    const metric = SCORE_METRICS.find((m) => m === coding.code);
    if (metric !== undefined) return metric;
  }
  return undefined;
}

// ---- bone-quality scores ----------------------------------------------------------------------------

function scoreRegion(metric: ScoreMetric, obs: Observation): ScoreRegion {
  if (metric === 'c-vbq') return 'cervical';
  if (metric !== 'ebq') return 'lumbar';
  const cervicalLevel = obs.component?.some((c) =>
    c.code.coding?.some((cd) => cd.system === BONE_QUALITY_SYSTEM && /^si-c\d$/.test(cd.code ?? '')),
  );
  const csfLevel = bqComponent(obs, 'csf-level')?.valueString;
  return cervicalLevel === true || /^c/i.test(csfLevel ?? '') ? 'cervical' : 'lumbar';
}

function extractScores(
  kb: KnowledgeBase,
  observations: Observation[],
  now: Date,
): { scores: BoneQualityScoreFact[]; excluded: ExcludedScoreFact[] } {
  const valid: BoneQualityScoreFact[] = [];
  const excluded: ExcludedScoreFact[] = [];
  for (const obs of observations) {
    const metric = bqMetric(obs);
    if (metric === undefined) continue;
    const value = obs.valueQuantity?.value;
    const date = observationDate(obs);
    const reasons: string[] = [];
    if (!VALID_OBSERVATION_STATUS.has(obs.status)) reasons.push(`status ${obs.status}`);
    if (typeof value !== 'number' || !Number.isFinite(value)) reasons.push('no numeric value');
    if (date === undefined || parseDate(date) === undefined) reasons.push('no measurement date');
    const sequence = bqComponent(obs, 'sequence')?.valueString;
    if (sequence !== undefined && /flair/i.test(sequence)) {
      reasons.push(`${sequence} sequence: FLAIR invalidates the CSF reference`);
    } else if (sequence !== undefined && !/t1/i.test(sequence)) {
      reasons.push(`${sequence} sequence: VBQ needs a T1-weighted image`);
    }
    if (bqComponent(obs, 'contrast-enhanced')?.valueBoolean === true) {
      reasons.push('contrast-enhanced image: contrast invalidates the CSF reference');
    }
    const levelsUsed = bqComponent(obs, 'levels-used')?.valueString;
    if (metric === 'vbq-l1-l4' && levelsUsed !== undefined) {
      const count = levelsUsed.split(',').filter((l) => l.trim() !== '').length;
      if (count < kb.parameters.minLumbarLevels) {
        reasons.push(
          `only ${count} valid lumbar level(s) (${levelsUsed}); at least ${kb.parameters.minLumbarLevels} needed`,
        );
      }
    }
    if (reasons.length > 0 || typeof value !== 'number' || date === undefined) {
      excluded.push({
        metric,
        value: typeof value === 'number' ? value : undefined,
        source: ref(obs),
        date,
        reasons,
      });
      continue;
    }
    const fieldStrength = bqComponent(obs, 'field-strength')?.valueQuantity?.value;
    valid.push({
      metric,
      region: scoreRegion(metric, obs),
      value,
      source: ref(obs),
      date,
      ageMonths: monthsBetween(date, now),
      fieldStrengthT: typeof fieldStrength === 'number' ? fieldStrength : undefined,
      sequence,
      scanner: bqComponent(obs, 'scanner')?.valueString,
      levelsUsed,
      csfLevel: bqComponent(obs, 'csf-level')?.valueString,
      excludedLevels: bqComponent(obs, 'excluded-levels')?.valueString,
    });
  }
  // The latest valid score per metric and region; ties broken by id so the choice is deterministic.
  valid.sort((a, b) => latestFirst(a, b) || a.source.localeCompare(b.source));
  const latest = new Map<string, BoneQualityScoreFact>();
  for (const score of valid) {
    const key = `${score.metric}|${score.region}`;
    if (!latest.has(key)) latest.set(key, score);
  }
  excluded.sort((a, b) => latestFirst(a, b) || a.source.localeCompare(b.source));
  return { scores: [...latest.values()], excluded };
}

// ---- DXA, CT HU, vitamin D ---------------------------------------------------------------------------

function extractDxa(kb: KnowledgeBase, observations: Observation[], now: Date): DxaFacts {
  const all: TScoreFact[] = [];
  let lastDate: string | undefined;
  for (const obs of observations) {
    if (!VALID_OBSERVATION_STATUS.has(obs.status)) continue;
    const entry = findConceptEntry(kb, 'dxa-t-score', obs.code);
    const date = observationDate(obs);
    if (entry === undefined || date === undefined || parseDate(date) === undefined) continue;
    if (lastDate === undefined || (parseDate(date) ?? 0) > (parseDate(lastDate) ?? 0)) lastDate = date;
    const value = obs.valueQuantity?.value;
    if (
      entry.kind !== 't-score' ||
      typeof value !== 'number' ||
      entry.site === undefined ||
      entry.site === 'panel'
    ) {
      continue;
    }
    all.push({
      site: entry.site,
      laterality: entry.laterality,
      value,
      source: ref(obs),
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
  considered = [...considered].sort(
    (a, b) => a.value - b.value || latestFirst(a, b) || a.source.localeCompare(b.source),
  );
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

function latestMeasurement(
  observations: Observation[],
  accept: (obs: Observation) => number | undefined,
  now: Date,
): MeasurementFact | undefined {
  const facts: MeasurementFact[] = [];
  for (const obs of observations) {
    if (!VALID_OBSERVATION_STATUS.has(obs.status)) continue;
    const date = observationDate(obs);
    const value = accept(obs);
    if (date === undefined || parseDate(date) === undefined || value === undefined) continue;
    facts.push({ value, source: ref(obs), date, ageMonths: monthsBetween(date, now) });
  }
  facts.sort((a, b) => latestFirst(a, b) || a.source.localeCompare(b.source));
  return facts[0];
}

/** 25-OH vitamin D in ng/mL; nmol/L is converted (1 ng/mL = 2.496 nmol/L). */
function vitaminDNgPerMl(obs: Observation): number | undefined {
  const q = obs.valueQuantity;
  if (typeof q?.value !== 'number') return undefined;
  const unit = (q.code ?? q.unit ?? '').toLowerCase();
  if (unit === 'nmol/l') return Math.round((q.value / 2.496) * 10) / 10;
  if (unit === 'ng/ml' || unit === 'ug/l' || unit === 'µg/l') return q.value;
  return undefined;
}

// ---- conditions ---------------------------------------------------------------------------------------

function conditionStatus(condition: Condition): { active: boolean; refuted: boolean } {
  const clinical = condition.clinicalStatus?.coding?.map((c) => c.code) ?? [];
  const verification = condition.verificationStatus?.coding?.map((c) => c.code) ?? [];
  const refuted = verification.some((c) => c === 'refuted' || c === 'entered-in-error');
  const active =
    clinical.length === 0 || clinical.some((c) => c === 'active' || c === 'recurrence' || c === 'relapse');
  return { active, refuted };
}

function extractConditions(
  kb: KnowledgeBase,
  conditions: Condition[],
): Record<ConditionListId, ConditionFact[]> {
  const out = Object.fromEntries(CONDITION_LISTS.map((l) => [l, [] as ConditionFact[]])) as Record<
    ConditionListId,
    ConditionFact[]
  >;
  for (const condition of conditions) {
    const { active, refuted } = conditionStatus(condition);
    if (refuted) continue;
    for (const list of CONDITION_LISTS) {
      // A fracture stays part of the history after it heals; the other conditions count only while active.
      if (!active && list !== 'fragility-fracture') continue;
      const entry = findConceptEntry(kb, list, condition.code);
      if (entry === undefined) continue;
      out[list].push({
        list,
        code: entry.code,
        display: condition.code?.text ?? entry.display,
        source: ref(condition),
        date: condition.onsetDateTime ?? condition.recordedDate,
      });
    }
  }
  for (const list of CONDITION_LISTS) out[list].sort((a, b) => a.source.localeCompare(b.source));
  return out;
}

// ---- medications --------------------------------------------------------------------------------------

interface MedicationRecord {
  concept: CodeableConcept | undefined;
  source: string;
  status: string;
  start: string | undefined;
  end: string | undefined;
}

function medicationConcept(resource: MedicationRequest | MedicationStatement): CodeableConcept | undefined {
  if (resource.medicationCodeableConcept !== undefined) return resource.medicationCodeableConcept;
  const reference = resource.medicationReference?.reference;
  if (reference?.startsWith('#') === true) {
    const contained = resource.contained?.find((c) => c.id === reference.slice(1));
    if (contained?.resourceType === 'Medication') return (contained as { code?: CodeableConcept }).code;
  }
  return resource.medicationReference?.display === undefined
    ? undefined
    : { text: resource.medicationReference.display };
}

function addDays(date: string, days: number): string {
  return new Date((parseDate(date) ?? 0) + days * MS_PER_DAY).toISOString();
}

function supplyDays(request: MedicationRequest): number | undefined {
  const duration = request.dispenseRequest?.expectedSupplyDuration;
  if (typeof duration?.value !== 'number') return undefined;
  const perUnit: Record<string, number> = { d: 1, wk: 7, mo: DAYS_PER_MONTH, a: 365.25 };
  const factor = perUnit[duration.code ?? duration.unit ?? 'd'] ?? 1;
  return duration.value * factor * (1 + (request.dispenseRequest?.numberOfRepeatsAllowed ?? 0));
}

function medicationRecords(
  requests: MedicationRequest[],
  statements: MedicationStatement[],
  now: Date,
): MedicationRecord[] {
  const nowIso = now.toISOString();
  const records: MedicationRecord[] = [];
  for (const r of requests) {
    if (!['active', 'completed', 'on-hold', 'stopped'].includes(r.status)) continue;
    const bounds = r.dosageInstruction?.[0]?.timing?.repeat?.boundsPeriod;
    const start = bounds?.start ?? r.dispenseRequest?.validityPeriod?.start ?? r.authoredOn;
    const days = supplyDays(r);
    const end =
      bounds?.end ??
      r.dispenseRequest?.validityPeriod?.end ??
      (start !== undefined && days !== undefined ? addDays(start, days) : undefined) ??
      (r.status === 'active' ? nowIso : start);
    records.push({ concept: medicationConcept(r), source: ref(r), status: r.status, start, end });
  }
  for (const s of statements) {
    if (!['active', 'completed', 'intended', 'on-hold', 'stopped'].includes(s.status)) continue;
    const start = s.effectivePeriod?.start ?? s.effectiveDateTime ?? s.dateAsserted;
    const end = s.effectivePeriod?.end ?? (s.status === 'active' ? nowIso : start);
    records.push({ concept: medicationConcept(s), source: ref(s), status: s.status, start, end });
  }
  return records;
}

function recordDays(record: MedicationRecord): number | undefined {
  const start = parseDate(record.start);
  const end = parseDate(record.end);
  return start === undefined || end === undefined ? undefined : Math.max(0, (end - start) / MS_PER_DAY);
}

function toMedicationFact(
  record: MedicationRecord,
  ingredient: string,
  drugClass: MedicationFact['drugClass'],
): MedicationFact {
  const days = recordDays(record);
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

// ---- orders -------------------------------------------------------------------------------------------

const ORDER_STATUS = new Set(['draft', 'active', 'on-hold', 'completed']);
const BONE_HEALTH_TEXT = /(bone|osteopor|osteopen|endocrin|metabolic)/i;

function orderText(resource: FhirResource): string {
  const record = resource as unknown as {
    code?: CodeableConcept;
    reasonCode?: CodeableConcept[];
    note?: { text?: string }[];
  };
  return [
    record.code?.text,
    ...(record.code?.coding ?? []).map((c) => c.display),
    ...(record.reasonCode ?? []).flatMap((r) => [r.text, ...(r.coding ?? []).map((c) => c.display)]),
    ...(record.note ?? []).map((n) => n.text),
  ]
    .filter((t): t is string => typeof t === 'string')
    .join(' ');
}

function extractOrders(
  kb: KnowledgeBase,
  listId: 'dxa-orders' | 'bone-health-referrals' | 'vitamin-d-25oh',
  stored: FhirResource[],
  drafts: FhirResource[],
  lookbackMonths: number,
  now: Date,
): OrderFact[] {
  const out: OrderFact[] = [];
  const consider = (resource: FhirResource, inDraftOrders: boolean): void => {
    const status = (resource as { status?: unknown }).status;
    if (typeof status !== 'string' || !ORDER_STATUS.has(status)) return;
    const entry = findConceptEntry(kb, listId, requestCode(resource));
    if (entry === undefined) return;
    if (entry.requiresBoneHealthText === true && !BONE_HEALTH_TEXT.test(orderText(resource))) return;
    const record = resource as { authoredOn?: string; occurrenceDateTime?: string };
    const date = record.authoredOn ?? record.occurrenceDateTime;
    // Open orders count whatever their age; completed ones only within the look-back window.
    if (!inDraftOrders && status === 'completed' && !withinMonths(date, lookbackMonths, now)) return;
    if (
      !inDraftOrders &&
      status !== 'completed' &&
      date !== undefined &&
      !withinMonths(date, lookbackMonths, now)
    ) {
      return;
    }
    out.push({
      source: ref(resource),
      code: entry.code,
      display: entry.display,
      status,
      date,
      inDraftOrders,
    });
  };
  stored.forEach((r) => consider(r, false));
  drafts.forEach((r) => consider(r, true));
  const seen = new Set<string>();
  return out.filter((o) => (seen.has(o.source) ? false : (seen.add(o.source), true)));
}

// ---- imaging studies ----------------------------------------------------------------------------------

const LUMBAR_TEXT = /(lumb|l-?spine|ls-?spine|lumbosacral)/i;
const CERVICAL_TEXT = /(cervic|c-?spine)/i;

function studyRegion(study: ImagingStudy): ScoreRegion | undefined {
  const texts = [
    study.description,
    ...(study.procedureCode ?? []).flatMap((p) => [p.text, ...(p.coding ?? []).map((c) => c.display)]),
    ...(study.series ?? []).flatMap((s) => [s.description, s.bodySite?.display, s.bodySite?.code]),
  ].filter((t): t is string => typeof t === 'string');
  const text = texts.join(' ');
  if (LUMBAR_TEXT.test(text) || /\b122496007\b/.test(text)) return 'lumbar';
  if (CERVICAL_TEXT.test(text) || /\b122494005\b/.test(text)) return 'cervical';
  return undefined;
}

function isMr(study: ImagingStudy): boolean {
  const modalities = [...(study.modality ?? []), ...(study.series ?? []).map((s) => s.modality)];
  return modalities.some((m) => m.code === 'MR');
}

function extractMrWithoutScore(
  kb: KnowledgeBase,
  studies: ImagingStudy[],
  boneQuality: Observation[],
  now: Date,
): MrStudyFact[] {
  const scored = new Set<string>();
  for (const obs of boneQuality) {
    for (const d of obs.derivedFrom ?? []) {
      if (d.reference !== undefined) scored.add(d.reference.replace(/^.*\/(ImagingStudy\/)/, '$1'));
      if (d.identifier?.value !== undefined) scored.add(d.identifier.value);
    }
  }
  const out: MrStudyFact[] = [];
  for (const study of studies) {
    if (study.status !== 'available' || !isMr(study) || study.started === undefined) continue;
    if (!withinMonths(study.started, kb.parameters.mrLookbackMonths, now)) continue;
    const region = studyRegion(study);
    if (region === undefined) continue;
    const uid = study.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value;
    if (scored.has(ref(study)) || (uid !== undefined && scored.has(uid))) continue;
    out.push({ source: ref(study), date: study.started, region, studyUid: uid });
  }
  return out.sort(latestFirst);
}

// ---- patient ------------------------------------------------------------------------------------------

function ageYears(birthDate: string | undefined, now: Date): number | undefined {
  if (birthDate === undefined) return undefined;
  const [y, m = 1, d = 1] = birthDate.split('-').map(Number);
  if (y === undefined || Number.isNaN(y)) return undefined;
  let age = now.getUTCFullYear() - y;
  const beforeBirthday = now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d);
  if (beforeBirthday) age -= 1;
  return age;
}

// ---- entry point --------------------------------------------------------------------------------------

/** Extracts every fact the rules use from the hydrated prefetch and the call's draft orders. */
export function extractFacts(kb: KnowledgeBase, input: FactInput): Facts {
  const { prefetch, now, patientId } = input;
  const own = <T extends FhirResource & { subject?: Reference }>(list: T[]): T[] =>
    list.filter((r) => belongsToPatient(r.subject, patientId));

  const patient = resourcesOf<Patient>(prefetch.patient, 'Patient')[0];
  const boneQualityObs = own(resourcesOf<Observation>(prefetch.boneQuality, 'Observation'));
  const { scores, excluded } = extractScores(kb, boneQualityObs, now);
  const ctHuObs = own(resourcesOf<Observation>(prefetch.ctHu, 'Observation')).filter((o) =>
    o.code.coding?.some((c) => c.system === BONE_QUALITY_SYSTEM && c.code === 'ct-hu-l1'),
  );
  const vitaminDObs = own(resourcesOf<Observation>(prefetch.vitaminD, 'Observation')).filter(
    (o) => findConceptEntry(kb, 'vitamin-d-25oh', o.code) !== undefined,
  );
  const conditions = extractConditions(kb, own(resourcesOf<Condition>(prefetch.conditions, 'Condition')));

  const records = medicationRecords(
    own(resourcesOf<MedicationRequest>(prefetch.medicationRequests, 'MedicationRequest')),
    own(resourcesOf<MedicationStatement>(prefetch.medicationStatements, 'MedicationStatement')),
    now,
  );
  const glucocorticoidFacts: MedicationFact[] = [];
  const treatments: MedicationFact[] = [];
  for (const record of records) {
    const gc =
      findConceptEntry(kb, 'glucocorticoids', record.concept) ??
      findIngredientEntry(kb, 'glucocorticoids', record.concept);
    if (gc !== undefined)
      glucocorticoidFacts.push(toMedicationFact(record, gc.ingredient ?? gc.display, undefined));
    const tx =
      findConceptEntry(kb, 'osteoporosis-treatment', record.concept) ??
      findIngredientEntry(kb, 'osteoporosis-treatment', record.concept);
    if (tx === undefined) continue;
    const current =
      record.status === 'active' ||
      record.status === 'intended' ||
      ((record.status === 'completed' || record.status === 'on-hold') &&
        withinMonths(record.end ?? record.start, kb.parameters.treatmentRecencyMonths, now));
    if (current) treatments.push(toMedicationFact(record, tx.ingredient ?? tx.display, tx.drugClass));
  }
  const recentGlucocorticoids = glucocorticoidFacts.filter(
    (g) => g.status === 'active' || withinMonths(g.end ?? g.start, kb.parameters.treatmentRecencyMonths, now),
  );
  const longestDays = recentGlucocorticoids.reduce<number | undefined>(
    (max, g) => (g.days !== undefined && (max === undefined || g.days > max) ? g.days : max),
    undefined,
  );
  const steroidCondition = conditions['long-term-steroid-use'];
  const longTerm = (longestDays ?? 0) >= kb.parameters.glucocorticoidMinDays || steroidCondition.length > 0;

  const storedOrders = own(
    resourcesOf<FhirResource & { subject?: Reference }>(prefetch.serviceRequests, 'ServiceRequest'),
  );
  const drafts = bundleResources(input.draftOrders);

  return {
    patient: {
      id: patientId,
      ageYears: ageYears(patient?.birthDate, now),
      sex: patient?.gender ?? 'unknown',
    },
    scores,
    excludedScores: excluded,
    dxa: extractDxa(kb, own(resourcesOf<Observation>(prefetch.dxa, 'Observation')), now),
    ctHu: latestMeasurement(ctHuObs, (o) => o.valueQuantity?.value, now),
    vitaminD: latestMeasurement(vitaminDObs, vitaminDNgPerMl, now),
    conditions,
    glucocorticoids: {
      longTerm,
      days: longestDays,
      sources: [
        ...recentGlucocorticoids
          .filter((g) => (g.days ?? 0) >= kb.parameters.glucocorticoidMinDays)
          .map((g) => g.source),
        ...steroidCondition.map((c) => c.source),
      ],
    },
    treatments,
    dxaOrders: extractOrders(kb, 'dxa-orders', storedOrders, drafts, kb.parameters.dxaLookbackMonths, now),
    referrals: extractOrders(
      kb,
      'bone-health-referrals',
      storedOrders,
      drafts,
      kb.parameters.referralLookbackMonths,
      now,
    ),
    vitaminDOrders: extractOrders(
      kb,
      'vitamin-d-25oh',
      storedOrders,
      drafts,
      kb.parameters.vitaminDLookbackMonths,
      now,
    ),
    mrWithoutScore: extractMrWithoutScore(
      kb,
      own(resourcesOf<ImagingStudy>(prefetch.imagingStudies, 'ImagingStudy')),
      boneQualityObs,
      now,
    ),
  };
}
