/**
 * The hook pipeline contract: hydrate -> extract facts -> rules -> cards. The HTTP layer (src/cds) does
 * hydration and calls a service's `evaluate`; everything after hydration is pure and synchronous, so the
 * clinical logic plugs in without touching HTTP and is table-tested without a server.
 */
import type {
  CdsCard,
  CdsServiceDefinition,
  HookName,
  HookRequest,
  HydratedPrefetch,
  OrderSelectContext,
  OrderSignContext,
} from '../cds/types.js';

export interface EvaluationInput {
  hook: HookName;
  hookInstance: string;
  context: OrderSignContext | OrderSelectContext;
  /** Every prefetch key the service declared, hydrated: a resource (usually a searchset Bundle) or null. */
  prefetch: HydratedPrefetch;
  /** Injected clock: the only notion of "now" the logic may use. */
  now: Date;
}

/** Pure: facts in, cards out. Must not throw for any well-formed FHIR content. */
export type Evaluator = (input: EvaluationInput) => CdsCard[];

/** One CDS service: its discovery definition and its evaluator, registered in one place. */
export interface CdsServiceModule {
  definition: CdsServiceDefinition & { prefetch: Record<string, string> };
  /** Prefetch keys without which the service cannot give safe advice (412 when unobtainable). */
  requiredPrefetch: readonly string[];
  /**
   * Cheap pre-check on the request alone (no FHIR reads): false answers `{"cards":[]}` at once, e.g. when no
   * draft order is a spine-surgery order.
   */
  isRelevant?: (request: HookRequest) => boolean;
  evaluate: Evaluator;
}
