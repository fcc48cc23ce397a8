/** `spine-surgery-bone-health-select`: the same review when a spine-surgery order is selected. */
import { orderSelectRequestSchema, type HookRequest } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { planBoneHealth, type BoneHealthOptions } from './bone-health.js';
import { prefetchTemplates, REQUIRED_PREFETCH_KEYS } from './prefetch-keys.js';
import type { CdsService } from './service.js';

export const ORDER_SELECT_SERVICE_ID = 'spine-surgery-bone-health-select';

export function orderSelectService(kb: KnowledgeBase, options: BoneHealthOptions = {}): CdsService {
  return {
    definition: {
      hook: 'order-select',
      id: ORDER_SELECT_SERVICE_ID,
      title: 'Bone health before spine surgery (order selection)',
      description:
        'The same bone-health review as spine-surgery-bone-health, run when a spine surgery order is selected, evaluating only the selected orders.',
      prefetch: prefetchTemplates(kb),
    },
    requestSchema: orderSelectRequestSchema,
    requiredPrefetch: REQUIRED_PREFETCH_KEYS,
    // Only the selected draft orders are evaluated (planBoneHealth reads context.selections).
    plan: (request: HookRequest) => planBoneHealth(kb, request, options),
  };
}
