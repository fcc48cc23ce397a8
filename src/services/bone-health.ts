/**
 * The bone-health logic both order hooks share: which draft orders trigger it (found once per call, from
 * the request alone), then facts -> findings (rules) -> cards (wording).
 */
import { buildCards } from '../cards/index.js';
import type { CdsCard, HookRequest, HydratedPrefetch, OrderSelectContext } from '../cds/types.js';
import { extractFacts } from '../fhir/facts.js';
import { spineProcedureOrders } from '../fhir/facts-orders.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { assess, describeProcedure } from '../rules/index.js';
import type { Evaluation } from './service.js';

function selectionsOf(context: HookRequest['context']): string[] | undefined {
  return 'selections' in context ? (context as OrderSelectContext).selections : undefined;
}

/** Plans a bone-health evaluation for an order hook: undefined when no spine-surgery draft order applies. */
export interface BoneHealthOptions {
  /** The service's public base URL: cards link to the care-team view there. */
  careTeamBaseUrl?: string;
}

export function planBoneHealth(
  kb: KnowledgeBase,
  request: HookRequest,
  options: BoneHealthOptions = {},
): Evaluation | undefined {
  const { context } = request;
  const orders = spineProcedureOrders(kb, request.hook, context.draftOrders, selectionsOf(context));
  if (orders.length === 0) return undefined;
  const procedure = describeProcedure(orders);
  return ({ prefetch, now }) => {
    const facts = extractFacts(kb, {
      patientId: context.patientId,
      prefetch,
      draftOrders: context.draftOrders,
      now,
    });
    const findings = assess(kb, facts, procedure);
    return buildCards(kb, findings, {
      patientId: context.patientId,
      userId: context.userId,
      now,
      careTeamBaseUrl: options.careTeamBaseUrl,
      fhirServer: request.fhirServer,
    });
  };
}

/** One hook call as a whole, for table tests and tools: the request's fields plus the hydrated prefetch. */
export interface EvaluationInput {
  hook: HookRequest['hook'];
  hookInstance: string;
  context: HookRequest['context'];
  prefetch: HydratedPrefetch;
  now: Date;
}

/** Plan and evaluation in one step (what the pipeline does after hydration). Pure. */
export function boneHealthEvaluator(
  kb: KnowledgeBase,
  options: BoneHealthOptions = {},
): (input: EvaluationInput & { fhirServer?: string }) => CdsCard[] {
  return (input) => {
    const evaluation = planBoneHealth(
      kb,
      {
        hook: input.hook,
        hookInstance: input.hookInstance,
        context: input.context,
        fhirServer: input.fhirServer,
      },
      options,
    );
    return evaluation === undefined ? [] : evaluation({ prefetch: input.prefetch, now: input.now });
  };
}
