/**
 * The prefetch keys of the bone-health services, in one typed table: each key's query template and
 * whether the advice depends on it (required: a key that cannot be had is a 412, never advice on partial
 * data). Templates are generated from the knowledge base's code lists, so the codes a query asks for and
 * the codes the logic recognises can never disagree. Only the spec-valid token `{{context.patientId}}`
 * and the recommended query subset (token `=`, `_sort`, `_count`) are used.
 */
import { BONE_QUALITY_SYSTEM, SYSTEMS, type KnowledgeBase } from '../knowledge/index.js';
import { SCORE_METRICS, type CodeListId } from '../knowledge/schema.js';

const PATIENT = '{{context.patientId}}';

function exactCodes(kb: KnowledgeBase, listId: CodeListId, system: string): string {
  return kb.codeLists[listId].codes
    .filter((c) => c.system === system && c.match !== 'prefix')
    .map((c) => `${c.system}|${c.code}`)
    .join(',');
}

export interface PrefetchKeySpec {
  /** Without it the advice is unsafe (a confounder, a treatment or an order could be missed): 412. */
  required: boolean;
  template: (kb: KnowledgeBase) => string;
}

/**
 * Conditions, medications and service requests stay unfiltered by code, because prefix (ICD-10-CM) and
 * ingredient-level (RxNorm) matching cannot be expressed as token `=` searches. The vitamin D and
 * imaging-study keys only refine the advice (a vitamin D test is suggested when none is known; an unscored
 * MR is a data-gap note), so an EHR that cannot serve them still gets cards.
 */
export const PREFETCH_KEYS = {
  patient: { required: true, template: () => `Patient/${PATIENT}` },
  boneQuality: {
    required: true,
    template: () =>
      `Observation?patient=${PATIENT}&code=${SCORE_METRICS.map((m) => `${BONE_QUALITY_SYSTEM}|${m}`).join(',')}&_sort=-date&_count=50`,
  },
  ctHu: {
    required: true,
    template: () =>
      `Observation?patient=${PATIENT}&code=${BONE_QUALITY_SYSTEM}|ct-hu-l1&_sort=-date&_count=20`,
  },
  dxa: {
    required: true,
    template: (kb) =>
      `Observation?patient=${PATIENT}&code=${exactCodes(kb, 'dxa-t-score', SYSTEMS.loinc)}&_sort=-date&_count=50`,
  },
  // DXA reports: a DiagnosticReport whose `result` references lead to the values (and gives them its date);
  // a report coded as a DXA with no readable result still puts a DXA on record. Refines only.
  dxaReports: {
    required: false,
    template: (kb) =>
      `DiagnosticReport?patient=${PATIENT}&code=${exactCodes(kb, 'dxa-t-score', SYSTEMS.loinc)}&_sort=-date&_count=20`,
  },
  // The latest eGFR (both CKD-EPI equations and MDRD): below the bisphosphonate limit the advice changes.
  // Optional: an EHR that cannot serve it still gets cards (CKD stage 4-5 diagnoses are in `conditions`).
  egfr: {
    required: false,
    template: (kb) =>
      `Observation?patient=${PATIENT}&code=${exactCodes(kb, 'egfr', SYSTEMS.loinc)}&_sort=-date&_count=10`,
  },
  vitaminD: {
    required: false,
    template: (kb) =>
      `Observation?patient=${PATIENT}&code=${exactCodes(kb, 'vitamin-d-25oh', SYSTEMS.loinc)}&_sort=-date&_count=20`,
  },
  conditions: { required: true, template: () => `Condition?patient=${PATIENT}&_count=200` },
  medicationRequests: { required: true, template: () => `MedicationRequest?patient=${PATIENT}&_count=200` },
  medicationStatements: {
    required: true,
    template: () => `MedicationStatement?patient=${PATIENT}&_count=200`,
  },
  serviceRequests: {
    required: true,
    template: () => `ServiceRequest?patient=${PATIENT}&_sort=-authored&_count=100`,
  },
  imagingStudies: {
    required: false,
    template: () => `ImagingStudy?patient=${PATIENT}&modality=${SYSTEMS.dicom}|MR&_sort=-started&_count=50`,
  },
  // patient-view only: how a planned surgery is recorded besides a ServiceRequest.
  appointments: {
    required: true,
    template: () => `Appointment?patient=${PATIENT}&status=proposed,pending,booked,waitlist&_count=100`,
  },
  procedures: {
    required: true,
    template: () => `Procedure?patient=${PATIENT}&status=preparation&_count=100`,
  },
} as const satisfies Record<string, PrefetchKeySpec>;

export type PrefetchKeyName = keyof typeof PREFETCH_KEYS;

/** The keys the order hooks use. */
export const ORDER_HOOK_KEYS = [
  'patient',
  'boneQuality',
  'ctHu',
  'dxa',
  'dxaReports',
  'egfr',
  'vitaminD',
  'conditions',
  'medicationRequests',
  'medicationStatements',
  'serviceRequests',
  'imagingStudies',
] as const satisfies readonly PrefetchKeyName[];

/** The keys `patient-view` uses: the order hooks' plus where a planned surgery can be recorded. */
export const PATIENT_VIEW_KEYS = [...ORDER_HOOK_KEYS, 'appointments', 'procedures'] as const;

/** The templates of `keys`, filled from the knowledge base (the discovery document's `prefetch`). */
export function prefetchTemplates(
  kb: KnowledgeBase,
  keys: readonly PrefetchKeyName[] = ORDER_HOOK_KEYS,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of keys) out[key] = (PREFETCH_KEYS[key] as PrefetchKeySpec).template(kb);
  return out;
}

/** Of `keys`, those without which the service answers 412. */
export function requiredKeys(keys: readonly PrefetchKeyName[] = ORDER_HOOK_KEYS): PrefetchKeyName[] {
  return keys.filter((key) => (PREFETCH_KEYS[key] as PrefetchKeySpec).required);
}

/** The keys without which the order hooks answer 412. */
export const REQUIRED_PREFETCH_KEYS: readonly PrefetchKeyName[] = requiredKeys(ORDER_HOOK_KEYS);
