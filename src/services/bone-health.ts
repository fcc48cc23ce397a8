/**
 * The bone-health logic the services share: what triggers it (for the order hooks, the spine-surgery
 * draft orders, found once per call from the request alone; for patient-view, a planned spine surgery
 * on record), then facts -> findings (rules) -> cards (wording).
 */
import type { Bundle } from 'fhir/r4.js';
import { buildCards } from '../cards/index.js';
import type { CdsCard, HookRequest, HydratedPrefetch } from '../cds/types.js';
import { extractFacts } from '../fhir/facts/index.js';
import { spineProcedureOrders, type SpineProcedureOrder } from '../fhir/facts/index.js';
import { plannedSpineSurgeries } from '../fhir/planned-surgery.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { assess, describeProcedure } from '../rules/index.js';
import type { Evaluation, StagedPlan } from './service.js';

export interface BoneHealthOptions {
  /** The service's public base URL: cards link to the care-team view there. */
  careTeamBaseUrl?: string;
}

function draftOrdersOf(context: HookRequest['context']): Bundle | undefined {
  return 'draftOrders' in context ? context.draftOrders : undefined;
}

function selectionsOf(context: HookRequest['context']): string[] | undefined {
  return 'selections' in context ? context.selections : undefined;
}

function evaluationFor(
  kb: KnowledgeBase,
  request: HookRequest,
  orders: SpineProcedureOrder[],
  options: BoneHealthOptions,
): Evaluation {
  const { context } = request;
  const procedure = describeProcedure(orders);
  return ({ prefetch, now }) => {
    const facts = extractFacts(kb, {
      patientId: context.patientId,
      prefetch,
      draftOrders: draftOrdersOf(context),
      now,
    });
    const findings = assess(kb, facts, procedure, now);
    return buildCards(kb, findings, {
      patientId: context.patientId,
      userId: context.userId,
      now,
      careTeamBaseUrl: options.careTeamBaseUrl,
      fhirServer: request.fhirServer,
    });
  };
}

/** Plans a bone-health evaluation for an order hook: undefined when no spine-surgery draft order applies. */
export function planBoneHealth(
  kb: KnowledgeBase,
  request: HookRequest,
  options: BoneHealthOptions = {},
): Evaluation | undefined {
  const { context } = request;
  const orders = spineProcedureOrders(kb, request.hook, draftOrdersOf(context), selectionsOf(context));
  return orders.length === 0 ? undefined : evaluationFor(kb, request, orders, options);
}

/** The keys patient-view reads first to find a planned spine surgery. */
export const PLANNED_SURGERY_KEYS = ['serviceRequests', 'appointments', 'procedures'] as const;

/**
 * Plans patient-view: read where a planned surgery can be recorded first; only when one is found is the
 * rest fetched and the same assessment run as for order-sign, for that procedure.
 */
export function planPatientView(
  kb: KnowledgeBase,
  request: HookRequest,
  options: BoneHealthOptions = {},
): StagedPlan {
  return {
    keys: PLANNED_SURGERY_KEYS,
    next: (prefetch, now) => {
      const orders = plannedSpineSurgeries(kb, prefetch, now);
      return orders.length === 0 ? undefined : evaluationFor(kb, request, orders, options);
    },
  };
}

/** One hook call as a whole, for table tests and tools: the request's fields plus the hydrated prefetch. */
export interface EvaluationInput {
  hook: HookRequest['hook'];
  hookInstance: string;
  context: HookRequest['context'];
  prefetch: HydratedPrefetch;
  now: Date;
  fhirServer?: string;
}

/** Plan and evaluation in one step (what the pipeline does after hydration). Pure. */
export function boneHealthEvaluator(
  kb: KnowledgeBase,
  options: BoneHealthOptions = {},
): (input: EvaluationInput) => CdsCard[] {
  return (input) => {
    const request: HookRequest = {
      hook: input.hook,
      hookInstance: input.hookInstance,
      context: input.context,
      fhirServer: input.fhirServer,
    };
    if (input.hook === 'patient-view') {
      const evaluation = planPatientView(kb, request, options).next(input.prefetch, input.now);
      return evaluation === undefined ? [] : evaluation({ prefetch: input.prefetch, now: input.now });
    }
    const evaluation = planBoneHealth(kb, request, options);
    return evaluation === undefined ? [] : evaluation({ prefetch: input.prefetch, now: input.now });
  };
}
