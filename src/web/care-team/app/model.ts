/**
 * Pure logic of the care-team view: FHIR resources + the service's knowledge -> what the page shows.
 * No DOM here. Every cutoff, code and caveat text comes from the knowledge document.
 */
import type { KnowledgeCode, KnowledgeCodeList, KnowledgeCutoff, KnowledgeView } from '../knowledge-types.js';

// Minimal FHIR shapes (the browser bundle does not carry @types/fhir).
export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}
export interface CodeableConcept {
  coding?: Coding[];
  text?: string;
}
export interface Quantity {
  value?: number;
  unit?: string;
}
export interface FhirResource {
  resourceType: string;
  id?: string;
  status?: string;
  code?: CodeableConcept;
  [key: string]: unknown;
}
export interface Observation extends FhirResource {
  effectiveDateTime?: string;
  issued?: string;
  valueQuantity?: Quantity;
  component?: { code?: CodeableConcept; valueQuantity?: Quantity; valueString?: string }[];
}

export interface Record_ {
  patient: FhirResource;
  observations: Observation[];
  conditions: FhirResource[];
  serviceRequests: FhirResource[];
  medications: FhirResource[];
}

export interface AppContext {
  finding?: string;
  procedure?: string;
  card?: string;
}

export interface Point {
  metric: string;
  date: Date;
  value: number;
  /** MRI scores: "1.5 T", "3 T" or "unknown"; DXA: the site label; CT: "CT". */
  group: string;
  fieldStrengthT?: number;
  site?: string;
  /** DXA: the configured least significant change for the site, in T-score units. */
  lsc?: number;
}

export interface Procedure {
  family: string;
  familyLabel: string;
  region: string;
  display: string;
  code?: string;
}

export interface Series {
  metric: string;
  label: string;
  kind: string;
  unit: string;
  points: Point[];
  /** Cutoffs drawn on the plot (the procedure's own and the region's screening cutoff). */
  drawn: KnowledgeCutoff[];
}

export interface OnRecord {
  list: string;
  listTitle: string;
  description: string;
  display: string;
  date?: string;
  status?: string;
}

export interface ViewModel {
  procedure?: Procedure;
  finding?: { code: string; display: string };
  series: Series[];
  /** Metrics with a cutoff for the procedure but no measurement on record. */
  missing: string[];
  applicable: KnowledgeCutoff[];
  caveats: { name: string; text: string; references: string[] }[];
  confounders: OnRecord[];
  inPlace: OnRecord[];
  referenceIds: string[];
  dxaLscNote?: string;
}

export const SITE_LABELS: Record<string, string> = {
  'lumbar-spine': 'Lumbar spine',
  'total-hip': 'Total hip',
  'femoral-neck': 'Femoral neck',
  forearm: 'Forearm',
};

const FINAL = new Set(['final', 'amended', 'corrected']);
const CONFOUNDER_LISTS = [
  'hyperlipidemia',
  'long-term-steroid-use',
  'ckd',
  'diabetes',
  'rheumatoid-arthritis',
  'hyperparathyroidism',
  'osteoporosis',
  'osteopenia',
  'fragility-fracture',
];
const ORDER_LISTS = ['dxa-orders', 'bone-health-referrals', 'vitamin-d-25oh'];

export function parseAppContext(raw: unknown): AppContext {
  if (typeof raw !== 'string' || raw.length === 0) return {};
  try {
    const value = JSON.parse(raw) as unknown;
    if (value === null || typeof value !== 'object') return {};
    const v = value as Record<string, unknown>;
    const pick = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
    return { finding: pick('finding'), procedure: pick('procedure'), card: pick('card') };
  } catch {
    return {};
  }
}

function codingMatches(coding: Coding, entry: KnowledgeCode): boolean {
  if (coding.system !== entry.system || typeof coding.code !== 'string') return false;
  return entry.match === 'prefix' ? coding.code.startsWith(entry.code) : coding.code === entry.code;
}

export function matchList(concept: CodeableConcept | undefined, list: KnowledgeCodeList | undefined) {
  if (!concept || !list) return undefined;
  for (const coding of concept.coding ?? []) {
    const hit = list.codes.find((e) => codingMatches(coding, e));
    if (hit) return hit;
  }
  return undefined;
}

function matchMedication(resource: FhirResource, list: KnowledgeCodeList | undefined) {
  const concept = resource.medicationCodeableConcept as CodeableConcept | undefined;
  const byCode = matchList(concept, list);
  if (byCode || !list) return byCode;
  const text = [concept?.text, ...(concept?.coding ?? []).map((c) => c.display)].join(' ').toLowerCase();
  return list.codes.find((e) => e.ingredient && text.includes(e.ingredient.toLowerCase()));
}

function observationDate(obs: Observation): Date | undefined {
  const raw = obs.effectiveDateTime ?? obs.issued;
  if (!raw) return undefined;
  const d = new Date(raw);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export function formatThreshold(c: KnowledgeCutoff): string {
  const cmp = { '>=': '≥', '>': '>', '<=': '≤', '<': '<' }[c.comparator];
  return `${cmp} ${c.threshold}${c.unit && c.unit !== '1' ? ` ${c.unit}` : ''}`;
}

export function performance(c: KnowledgeCutoff): string {
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const parts: string[] = [];
  if (c.sensitivity !== undefined) parts.push(`sensitivity ${pct(c.sensitivity)}`);
  if (c.specificity !== undefined) parts.push(`specificity ${pct(c.specificity)}`);
  if (c.auc !== undefined) parts.push(`AUC ${c.auc}`);
  if (c.ppv !== undefined) parts.push(`PPV ${pct(c.ppv)}`);
  if (c.npv !== undefined) parts.push(`NPV ${pct(c.npv)}`);
  return parts.join(', ') || 'not reported';
}

export function crosses(c: KnowledgeCutoff, value: number): boolean {
  switch (c.comparator) {
    case '>=':
      return value >= c.threshold;
    case '>':
      return value > c.threshold;
    case '<=':
      return value <= c.threshold;
    case '<':
      return value < c.threshold;
  }
}

function resolveProcedure(k: KnowledgeView, record: Record_, ctx: AppContext): Procedure | undefined {
  const list = k.codeLists['spine-surgery-procedures'];
  const fromEntry = (e: KnowledgeCode): Procedure | undefined =>
    e.family && e.region
      ? {
          family: e.family,
          familyLabel: k.procedureFamilies[e.family] ?? e.family,
          region: e.region,
          display: e.display,
          code: e.code,
        }
      : undefined;
  if (ctx.procedure) {
    const byCode = list?.codes.find((e) => e.code === ctx.procedure);
    if (byCode) return fromEntry(byCode);
    if (k.procedureFamilies[ctx.procedure]) {
      const family = ctx.procedure;
      const region = list?.codes.find((e) => e.family === family)?.region ?? 'lumbar';
      return {
        family,
        familyLabel: k.procedureFamilies[family] ?? family,
        region,
        display: k.procedureFamilies[family] ?? family,
      };
    }
  }
  const planned = record.serviceRequests
    .filter((r) => r.status === 'draft' || r.status === 'active')
    .map((r) => ({ r, hit: matchList(r.code, list) }))
    .find((x) => x.hit);
  if (!planned?.hit) return undefined;
  const p = fromEntry(planned.hit);
  return p ? { ...p, display: planned.r.code?.coding?.[0]?.display ?? p.display } : undefined;
}

/** Cutoffs published for this procedure (its family or any) in its region, plus screening cutoffs. */
export function applicableCutoffs(k: KnowledgeView, procedure: Procedure | undefined): KnowledgeCutoff[] {
  return k.cutoffs.filter((c) => {
    if (!procedure) return c.role === 'screening';
    const namesFamily = c.procedureFamilies.includes(procedure.family);
    if (namesFamily) return true;
    return c.procedureFamilies.includes('any') && (c.region === 'any' || c.region === procedure.region);
  });
}

function drawnCutoffs(
  metric: string,
  applicable: KnowledgeCutoff[],
  procedure: Procedure | undefined,
): KnowledgeCutoff[] {
  const forMetric = applicable.filter((c) => c.metric === metric);
  if (metric === 'dxa-t-score' || metric === 'ct-hu-l1') return forMetric;
  const own = forMetric.filter((c) => procedure && c.primaryFor?.includes(procedure.family));
  const screening = forMetric.filter((c) => c.primaryScreening);
  return [...own, ...screening];
}

export function buildViewModel(k: KnowledgeView, record: Record_, ctx: AppContext): ViewModel {
  const procedure = resolveProcedure(k, record, ctx);
  const applicable = applicableCutoffs(k, procedure);
  const dxaList = k.codeLists['dxa-t-score'];
  const points: Point[] = [];
  for (const obs of record.observations) {
    if (obs.status && !FINAL.has(obs.status)) continue;
    const date = observationDate(obs);
    const value = obs.valueQuantity?.value;
    if (!date || typeof value !== 'number') continue;
    const bq = obs.code?.coding?.find((c) => c.system === k.boneQualitySystem);
    const metric =
      bq?.code && k.metrics.some((m) => m.id === bq.code && m.kind !== 'dxa') ? bq.code : undefined;
    if (metric) {
      const fs = obs.component?.find((c) =>
        c.code?.coding?.some((cd) => cd.system === k.boneQualitySystem && cd.code === 'field-strength'),
      )?.valueQuantity?.value;
      const kind = k.metrics.find((m) => m.id === metric)?.kind;
      points.push({
        metric,
        date,
        value,
        group: kind === 'ct' ? 'CT' : typeof fs === 'number' ? `${fs} T` : 'field strength unknown',
        ...(typeof fs === 'number' ? { fieldStrengthT: fs } : {}),
      });
      continue;
    }
    const dxa = matchList(obs.code, dxaList);
    if (dxa?.kind === 't-score' && dxa.site) {
      const lsc = k.dxaLsc[dxa.site];
      points.push({
        metric: 'dxa-t-score',
        date,
        value,
        group: SITE_LABELS[dxa.site] ?? dxa.site,
        site: dxa.site,
        ...(lsc !== undefined ? { lsc } : {}),
      });
    }
  }

  const series: Series[] = [];
  const missing: string[] = [];
  for (const m of k.metrics) {
    const own = points.filter((p) => p.metric === m.id).sort((a, b) => a.date.getTime() - b.date.getTime());
    const drawn = drawnCutoffs(m.id, applicable, procedure);
    if (own.length > 0)
      series.push({ metric: m.id, label: m.label, kind: m.kind, unit: m.unit, points: own, drawn });
    else if (procedure && drawn.some((c) => c.role === 'procedure-specific')) missing.push(m.label);
  }

  const confounders: OnRecord[] = [];
  for (const cond of record.conditions) {
    const clinical = (cond.clinicalStatus as CodeableConcept | undefined)?.coding?.[0]?.code;
    if (clinical && !['active', 'recurrence', 'relapse'].includes(clinical)) continue;
    for (const id of CONFOUNDER_LISTS) {
      const list = k.codeLists[id];
      const hit = matchList(cond.code, list);
      if (hit && list) {
        confounders.push({
          list: id,
          listTitle: list.title,
          description: list.description,
          display: cond.code?.text ?? hit.display,
          ...(typeof cond.recordedDate === 'string' ? { date: cond.recordedDate } : {}),
        });
        break;
      }
    }
  }
  const inPlace: OnRecord[] = [];
  for (const med of record.medications) {
    if (med.status && !['active', 'completed', 'intended'].includes(med.status)) continue;
    const gc = k.codeLists.glucocorticoids;
    const tx = k.codeLists['osteoporosis-treatment'];
    const gcHit = matchMedication(med, gc);
    if (gcHit && gc) {
      confounders.push({
        list: 'glucocorticoids',
        listTitle: gc.title,
        description: gc.description,
        display: gcHit.display,
        ...(med.status ? { status: med.status } : {}),
      });
    }
    const txHit = matchMedication(med, tx);
    if (txHit && tx) {
      inPlace.push({
        list: 'osteoporosis-treatment',
        listTitle: tx.title,
        description: tx.description,
        display: txHit.display,
        ...(med.status ? { status: med.status } : {}),
      });
    }
  }
  for (const sr of record.serviceRequests) {
    if (sr.status && !['draft', 'active', 'on-hold', 'completed'].includes(sr.status)) continue;
    for (const id of ORDER_LISTS) {
      const list = k.codeLists[id];
      const hit = matchList(sr.code, list);
      if (hit && list) {
        inPlace.push({
          list: id,
          listTitle: list.title,
          description: list.description,
          display: sr.code?.coding?.[0]?.display ?? hit.display,
          ...(sr.status ? { status: sr.status } : {}),
          ...(typeof sr.authoredOn === 'string' ? { date: sr.authoredOn } : {}),
        });
        break;
      }
    }
  }

  const caveats: ViewModel['caveats'] = [];
  const addCaveat = (name: string) => {
    const c = k.caveats[name];
    if (c && !caveats.some((x) => x.name === name)) caveats.push({ name, ...c });
  };
  const mri = points.filter((p) => k.metrics.find((m) => m.id === p.metric)?.kind === 'mri-score');
  if (mri.length > 0) addCaveat('supplementary');
  if (mri.length > 0 && confounders.some((c) => c.list === 'hyperlipidemia')) addCaveat('hyperlipidemia');
  if (mri.some((p) => p.fieldStrengthT === undefined)) addCaveat('fieldStrengthUnknown');
  if (mri.length > 0) addCaveat('fieldStrength');
  const dxaSites = new Set(points.filter((p) => p.metric === 'dxa-t-score').map((p) => p.site));
  if (dxaSites.size > 0 && [...dxaSites].every((s) => s === 'lumbar-spine')) addCaveat('lumbarTScore');

  const referenceIds = [
    ...new Set([...applicable.map((c) => c.reference), ...caveats.flatMap((c) => c.references)]),
  ].filter((id) => k.references[id] !== undefined);

  const dxaWithoutLsc = [...dxaSites].filter((s) => s && k.dxaLsc[s] === undefined);
  const topic = ctx.finding ? k.cardTopics.find((t) => t.code === ctx.finding) : undefined;
  return {
    ...(procedure ? { procedure } : {}),
    ...(topic ? { finding: topic } : {}),
    series,
    missing,
    applicable,
    caveats,
    confounders,
    inPlace,
    referenceIds,
    ...(dxaWithoutLsc.length > 0
      ? {
          dxaLscNote:
            'The DXA centre’s precision (least significant change) is not on record, so a change between two T-scores cannot be called significant (ISCD: LSC = 2.77 × the centre’s precision error).',
        }
      : {}),
  };
}
