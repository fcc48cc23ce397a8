/**
 * The CDS services this server offers. Discovery and routing both read this list, so they cannot disagree.
 */
import type { CdsServiceModule, Evaluator } from './pipeline.js';

const BQ = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality';
const LOINC = 'http://loinc.org';

/**
 * Prefetch templates: only spec-valid tokens ({{context.patientId}}) and the recommended query subset
 * (token `=`, `_sort`, `_count`). PLACEHOLDER until the knowledge base generates the code lists.
 */
export const PREFETCH_TEMPLATES: Record<string, string> = {
  patient: 'Patient/{{context.patientId}}',
  boneQuality: `Observation?patient={{context.patientId}}&code=${['vbq-l1-l4', 'ebq', 'vbq-s1', 'c-vbq'].map((c) => `${BQ}|${c}`).join(',')}&_sort=-date&_count=50`,
  ctHu: `Observation?patient={{context.patientId}}&code=${BQ}|ct-hu-l1&_sort=-date&_count=20`,
  dxa: `Observation?patient={{context.patientId}}&code=${['38267-1', '38264-8', '38263-0', '38265-5', '80946-7', '80945-9', '80948-3', '80947-5', '104938-6'].map((c) => `${LOINC}|${c}`).join(',')}&_sort=-date&_count=50`,
  conditions: 'Condition?patient={{context.patientId}}&_count=200',
  medicationRequests: 'MedicationRequest?patient={{context.patientId}}&_count=200',
  medicationStatements: 'MedicationStatement?patient={{context.patientId}}&_count=200',
  serviceRequests: 'ServiceRequest?patient={{context.patientId}}&_sort=-authored&_count=100',
  imagingStudies:
    'ImagingStudy?patient={{context.patientId}}&modality=http://dicom.nema.org/resources/ontology/DCM|MR&_sort=-started&_count=50',
};

/** PLACEHOLDER evaluator until the clinical logic lands: no advice. */
const noAdvice: Evaluator = () => [];

export function buildServices(evaluate: Evaluator = noAdvice): CdsServiceModule[] {
  return [
    {
      definition: {
        hook: 'order-sign',
        id: 'spine-surgery-bone-health',
        title: 'Bone health before spine surgery',
        description:
          'When a spine fusion, deformity correction, instrumentation or vertebral augmentation order is signed, reviews MRI vertebral bone quality (VBQ/EBQ/S1 VBQ/C-VBQ), DXA T-scores, CT Hounsfield units, risk factors and current treatment, and advises a bone-health workup when the evidence calls for one.',
        prefetch: PREFETCH_TEMPLATES,
      },
      requiredPrefetch: ['patient'],
      evaluate,
    },
    {
      definition: {
        hook: 'order-select',
        id: 'spine-surgery-bone-health-select',
        title: 'Bone health before spine surgery (order selection)',
        description:
          'The same bone-health review as spine-surgery-bone-health, run when a spine surgery order is selected, evaluating only the selected orders.',
        prefetch: PREFETCH_TEMPLATES,
      },
      requiredPrefetch: ['patient'],
      evaluate,
    },
  ];
}
