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

/**
 * CDS Hooks 3.0 discovery fields (2.0 clients ignore unknown fields, so the answer stays valid 2.0).
 * `version` is the specification version the service implements (3.0 features: v2 scopes, OperationOutcome
 * errors, override-reason value set, actionSelectionBehavior for clients that declare it) and stays
 * compatible with 2.0. `hookVersion` must match the published hook definition: patient-view, order-sign
 * and order-select are all `hookVersion 1.0` in their definitions' metadata tables (HL7/cds-hooks
 * repository, hooks/patient-view.md, hooks/order-sign.md, hooks/order-select.md).
 */
export const CDS_HOOKS_VERSION = '3.0.0';
export const HOOK_VERSIONS: Record<CdsService['definition']['hook'], string> = {
  'patient-view': '1.0',
  'order-sign': '1.0',
  'order-select': '1.0',
};

function withVersions(service: CdsService): CdsService {
  return {
    ...service,
    definition: {
      ...service.definition,
      version: CDS_HOOKS_VERSION,
      hookVersion: HOOK_VERSIONS[service.definition.hook],
    },
  };
}

export function createServices(kb: KnowledgeBase, options: ServicesOptions = {}): CdsService[] {
  return [
    orderSignService(kb, options),
    orderSelectService(kb, options),
    patientViewService(kb, {
      ...options,
      repeatWindowMs: (options.patientViewRepeatHours ?? 24) * 3_600_000,
    }),
  ].map(withVersions);
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
