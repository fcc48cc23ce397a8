/**
 * The clinical logic as the pipeline sees it: `createEvaluator(kb)` turns a hydrated hook call into cards
 * (draft-order triggering -> facts -> findings -> cards), and `createRelevanceCheck(kb)` answers, from the
 * request alone, whether any draft order can start the logic.
 */
import type { HookRequest, OrderSelectContext } from '../cds/types.js';
import type { Evaluator } from '../services/pipeline.js';
import { buildCards } from '../cards/build.js';
import { extractFacts, spineProcedureOrders } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { assess } from './assess.js';
import { describeProcedure } from './procedure.js';

function selectionsOf(context: HookRequest['context']): string[] | undefined {
  return 'selections' in context ? (context as OrderSelectContext).selections : undefined;
}

/** The evaluator for both services: pure, deterministic for the same input and clock. */
export function createEvaluator(kb: KnowledgeBase): Evaluator {
  return (input) => {
    const { context } = input;
    const orders = spineProcedureOrders(kb, input.hook, context.draftOrders, selectionsOf(context));
    if (orders.length === 0) return [];
    const facts = extractFacts(kb, {
      patientId: context.patientId,
      prefetch: input.prefetch,
      draftOrders: context.draftOrders,
      now: input.now,
    });
    const findings = assess(kb, facts, describeProcedure(orders), input.now);
    return buildCards(kb, findings, { patientId: context.patientId, userId: context.userId, now: input.now });
  };
}

/** Cheap pre-check on the request alone: false means no spine-surgery draft order, answer no cards. */
export function createRelevanceCheck(kb: KnowledgeBase): (request: HookRequest) => boolean {
  return (request) =>
    spineProcedureOrders(kb, request.hook, request.context.draftOrders, selectionsOf(request.context))
      .length > 0;
}

export { assess } from './assess.js';
export type { Finding, ScoreAssessment, EvidenceItem, ActionState } from './assess.js';
export { describeProcedure } from './procedure.js';
export type { PlannedProcedure } from './procedure.js';
