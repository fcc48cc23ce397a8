/**
 * `spine-surgery-bone-health-patient-view`: the same bone-health review when the chart of a patient with
 * a planned spine surgery is opened (Oracle Health supports only this hook; Epic also reuses it for other
 * triggers). Silent and fast when no spine surgery is planned; does not nag: a card already shown to the
 * patient's chart within the repeat window is not shown again unless its data changed.
 */
import { patientViewRequestSchema, type HookRequest } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { planPatientView, type BoneHealthOptions } from './bone-health.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates, requiredKeys } from './prefetch-keys.js';
import type { CdsService } from './service.js';

export const PATIENT_VIEW_SERVICE_ID = 'spine-surgery-bone-health-patient-view';

export interface PatientViewOptions extends BoneHealthOptions {
  /** How long a card stays quiet once shown (configurable: PATIENT_VIEW_REPEAT_HOURS). */
  repeatWindowMs: number;
}

export function patientViewService(kb: KnowledgeBase, options: PatientViewOptions): CdsService {
  return {
    definition: {
      hook: 'patient-view',
      id: PATIENT_VIEW_SERVICE_ID,
      title: 'Bone health before planned spine surgery (chart open)',
      description:
        'When the chart of a patient with a planned spine fusion, deformity correction, instrumentation or vertebral augmentation is opened (an active or draft order, a scheduled appointment or a procedure in preparation), gives the same bone-health review as spine-surgery-bone-health. Silent when no spine surgery is planned; a card is repeated at most once per repeat window unless the data changed.',
      prefetch: prefetchTemplates(kb, PATIENT_VIEW_KEYS),
      usageRequirements:
        'Prefetch serviceRequests, appointments and procedures lets the service stay silent without any FHIR read when no spine surgery is planned.',
    },
    requestSchema: patientViewRequestSchema,
    requiredPrefetch: requiredKeys(PATIENT_VIEW_KEYS),
    plan: (request: HookRequest) => planPatientView(kb, request, options),
    repeatWindowMs: options.repeatWindowMs,
  };
}
