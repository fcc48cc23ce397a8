/**
 * The real service definitions (discovery, schemas, prefetch keys) with a stand-in evaluation, for
 * protocol tests that exercise the pipeline and HTTP layer rather than the clinical logic.
 */
import type { CdsCard, HookRequest, HydratedPrefetch } from '../../src/cds/types.js';
import { orderSelectService } from '../../src/services/order-select.js';
import { orderSignService } from '../../src/services/order-sign.js';
import type { CdsService } from '../../src/services/service.js';
import { shippedKnowledgeBase } from './knowledge.js';

export type StandInEvaluation = (input: {
  request: HookRequest;
  prefetch: HydratedPrefetch;
  now: Date;
}) => CdsCard[];

/** Both order services, answering every call with `evaluate` (no relevance pre-check). */
export function standInServices(evaluate: StandInEvaluation): CdsService[] {
  const kb = shippedKnowledgeBase();
  return [orderSignService(kb), orderSelectService(kb)].map((service) => ({
    ...service,
    plan: (request: HookRequest) => (input) => evaluate({ request, ...input }),
  }));
}
