/** `spine-surgery-bone-health`: the bone-health review when a spine-surgery order is signed. */
import { orderSignRequestSchema, type HookRequest } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { planBoneHealth, type BoneHealthOptions } from './bone-health.js';
import { prefetchTemplates, REQUIRED_PREFETCH_KEYS } from './prefetch-keys.js';
import type { CdsService } from './service.js';

export const ORDER_SIGN_SERVICE_ID = 'spine-surgery-bone-health';

export function orderSignService(kb: KnowledgeBase, options: BoneHealthOptions = {}): CdsService {
  return {
    definition: {
      hook: 'order-sign',
      id: ORDER_SIGN_SERVICE_ID,
      title: 'Bone health before spine surgery',
      description:
        'When a spine fusion, deformity correction, instrumentation or vertebral augmentation order is signed, reviews MRI vertebral bone quality (VBQ/EBQ/S1 VBQ/C-VBQ), DXA T-scores, CT Hounsfield units, risk factors and current treatment, and advises a bone-health workup when the evidence calls for one.',
      prefetch: prefetchTemplates(kb),
    },
    requestSchema: orderSignRequestSchema,
    requiredPrefetch: REQUIRED_PREFETCH_KEYS,
    plan: (request: HookRequest) => planBoneHealth(kb, request, options),
  };
}
