/**
 * Planned spine surgery as an EHR records it, for `patient-view`: an active or draft spine-surgery
 * ServiceRequest, a proposed/pending/booked Appointment for one (through `basedOn`, or coded itself), or a
 * Procedure in `preparation`. Pure; tolerant of malformed entries (they are skipped).
 */
import type { CodeableConcept, FhirResource } from 'fhir/r4.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { HydratedPrefetch } from '../cds/types.js';
import { spineProcedureOrder, type SpineProcedureOrder } from './facts/index.js';

const PLANNED_REQUEST_STATUS = new Set(['active', 'draft', 'on-hold']);
const PLANNED_APPOINTMENT_STATUS = new Set(['proposed', 'pending', 'booked', 'waitlist']);

function resources(value: FhirResource | null | undefined, type: string): Record<string, unknown>[] {
  if (value === null || value === undefined || typeof value !== 'object') return [];
  if ((value as { resourceType?: unknown }).resourceType === type)
    return [value as unknown as Record<string, unknown>];
  const entries = (value as { entry?: unknown }).entry;
  if (!Array.isArray(entries)) return [];
  return entries
    .map((e: unknown) =>
      e !== null && typeof e === 'object' ? (e as { resource?: unknown }).resource : undefined,
    )
    .filter(
      (r): r is Record<string, unknown> =>
        r !== null && typeof r === 'object' && (r as { resourceType?: unknown }).resourceType === type,
    );
}

function concepts(value: unknown): CodeableConcept[] {
  const list = Array.isArray(value) ? value : [value];
  return list
    .filter(
      (c): c is CodeableConcept =>
        c !== null && typeof c === 'object' && Array.isArray((c as CodeableConcept).coding),
    )
    .map((c) => ({
      ...c,
      coding: (c.coding ?? []).filter(
        (x) => x !== null && typeof x === 'object' && typeof x.code === 'string',
      ),
    }));
}

function asOrder(
  kb: KnowledgeBase,
  source: string,
  concept: CodeableConcept,
): SpineProcedureOrder | undefined {
  return spineProcedureOrder(kb, source, concept);
}

function idOf(r: Record<string, unknown>): string {
  return typeof r.id === 'string' ? r.id : '?';
}

function dateOf(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * The planned spine surgeries in the prefetch (`serviceRequests`, `appointments`, `procedures`), one order
 * each. An appointment that already started more than a day ago is not "planned".
 */
export function plannedSpineSurgeries(
  kb: KnowledgeBase,
  prefetch: HydratedPrefetch,
  now: Date,
): SpineProcedureOrder[] {
  const planned = new Map<string, SpineProcedureOrder>();
  const requests = new Map<string, SpineProcedureOrder>();
  for (const sr of resources(prefetch.serviceRequests, 'ServiceRequest')) {
    const source = `ServiceRequest/${idOf(sr)}`;
    for (const concept of concepts(sr.code)) {
      const order = asOrder(kb, source, concept);
      if (order === undefined) continue;
      requests.set(source, order);
      if (typeof sr.status === 'string' && PLANNED_REQUEST_STATUS.has(sr.status)) planned.set(source, order);
      break;
    }
  }
  const dayAgo = now.getTime() - 86_400_000;
  for (const ap of resources(prefetch.appointments, 'Appointment')) {
    if (typeof ap.status !== 'string' || !PLANNED_APPOINTMENT_STATUS.has(ap.status)) continue;
    const start = dateOf(ap.start);
    if (start !== undefined && start < dayAgo) continue;
    const based = Array.isArray(ap.basedOn) ? ap.basedOn : [];
    const viaRequest = based
      .map((b: unknown) =>
        b !== null && typeof b === 'object' ? (b as { reference?: unknown }).reference : undefined,
      )
      .filter((ref): ref is string => typeof ref === 'string')
      .map((ref) => requests.get(ref.replace(/^.*\/(ServiceRequest\/[^/]+)$/, '$1')))
      .find((o) => o !== undefined);
    const coded = [...concepts(ap.serviceType), ...concepts(ap.reasonCode)]
      .map((c) => asOrder(kb, `Appointment/${idOf(ap)}`, c))
      .find((o) => o !== undefined);
    const order = viaRequest ?? coded;
    if (order !== undefined) planned.set(order.source, order);
  }
  for (const pr of resources(prefetch.procedures, 'Procedure')) {
    if (pr.status !== 'preparation') continue;
    const source = `Procedure/${idOf(pr)}`;
    const order = concepts(pr.code)
      .map((c) => asOrder(kb, source, c))
      .find((o) => o !== undefined);
    if (order !== undefined) planned.set(source, order);
  }
  return [...planned.values()].sort((a, b) => a.source.localeCompare(b.source));
}
