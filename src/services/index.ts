/**
 * The CDS services this server offers, registered in one place: discovery and routing both read this
 * list, so they cannot disagree.
 */
import type { KnowledgeBase } from '../knowledge/index.js';
import type { BoneHealthOptions } from './bone-health.js';
import { orderSelectService } from './order-select.js';
import { orderSignService } from './order-sign.js';
import { patientViewService } from './patient-view.js';
import type { CdsService } from './service.js';

export interface ServicesOptions extends BoneHealthOptions {
  /** patient-view repeat window (default 24 h). */
  patientViewRepeatHours?: number;
}

export function createServices(kb: KnowledgeBase, options: ServicesOptions = {}): CdsService[] {
  return [
    orderSignService(kb, options),
    orderSelectService(kb, options),
    patientViewService(kb, {
      ...options,
      repeatWindowMs: (options.patientViewRepeatHours ?? 24) * 3_600_000,
    }),
  ];
}

export { createHookPipeline, type HookPipelineDeps } from './pipeline.js';
export {
  PREFETCH_KEYS,
  prefetchTemplates,
  REQUIRED_PREFETCH_KEYS,
  type PrefetchKeyName,
} from './prefetch-keys.js';
export type { CdsService, Evaluation } from './service.js';
export { ORDER_SIGN_SERVICE_ID } from './order-sign.js';
export { ORDER_SELECT_SERVICE_ID } from './order-select.js';
export { PATIENT_VIEW_SERVICE_ID } from './patient-view.js';
