/**
 * Prefetch templates generated from the code lists, so the codes a query asks for and the codes the
 * logic recognises can never disagree. Only the spec-valid token `{{context.patientId}}` and the
 * recommended query subset (token `=`, `_sort`, `_count`) are used.
 */
import { BONE_QUALITY_SYSTEM, SYSTEMS } from './codes.js';
import type { KnowledgeBase } from './load.js';
import { SCORE_METRICS, type CodeListId } from './schema.js';

const PATIENT = '{{context.patientId}}';

function exactCodes(kb: KnowledgeBase, listId: CodeListId, system: string): string {
  return kb.codeLists[listId].codes
    .filter((c) => c.system === system && c.match !== 'prefix')
    .map((c) => `${c.system}|${c.code}`)
    .join(',');
}

/**
 * The prefetch templates: the keys of `PREFETCH_TEMPLATES` in `src/services/definitions.ts` plus
 * `vitaminD`. Conditions, medications and service requests stay unfiltered by code, because prefix
 * (ICD-10-CM) and ingredient-level (RxNorm) matching cannot be expressed as token `=` searches.
 */
export function prefetchTemplates(kb: KnowledgeBase): Record<string, string> {
  return {
    patient: `Patient/${PATIENT}`,
    boneQuality: `Observation?patient=${PATIENT}&code=${SCORE_METRICS.map((m) => `${BONE_QUALITY_SYSTEM}|${m}`).join(',')}&_sort=-date&_count=50`,
    ctHu: `Observation?patient=${PATIENT}&code=${BONE_QUALITY_SYSTEM}|ct-hu-l1&_sort=-date&_count=20`,
    dxa: `Observation?patient=${PATIENT}&code=${exactCodes(kb, 'dxa-t-score', SYSTEMS.loinc)}&_sort=-date&_count=50`,
    vitaminD: `Observation?patient=${PATIENT}&code=${exactCodes(kb, 'vitamin-d-25oh', SYSTEMS.loinc)}&_sort=-date&_count=20`,
    conditions: `Condition?patient=${PATIENT}&_count=200`,
    medicationRequests: `MedicationRequest?patient=${PATIENT}&_count=200`,
    medicationStatements: `MedicationStatement?patient=${PATIENT}&_count=200`,
    serviceRequests: `ServiceRequest?patient=${PATIENT}&_sort=-authored&_count=100`,
    imagingStudies: `ImagingStudy?patient=${PATIENT}&modality=${SYSTEMS.dicom}|MR&_sort=-started&_count=50`,
  };
}
