/**
 * What a CDS service is to the pipeline: its discovery definition, the schema its requests must meet,
 * the prefetch keys it cannot advise without, and a plan built from the request alone (no FHIR read) that
 * either says "nothing to do" or is the evaluation to run once the prefetch is hydrated.
 */
import type { z } from 'zod';
import type { CdsCard, CdsServiceDefinition, HookRequest, HydratedPrefetch } from '../cds/types.js';

/** The evaluation of one hook call after hydration: pure and synchronous, deterministic for a clock. */
export type Evaluation = (input: { prefetch: HydratedPrefetch; now: Date }) => CdsCard[];

/**
 * A plan that needs data before it knows whether there is anything to do (patient-view: is a spine
 * surgery planned?): `keys` are hydrated first, then `next` gives the evaluation, or undefined for
 * "nothing to do" (answered at once, without fetching the other keys).
 */
export interface StagedPlan {
  keys: readonly string[];
  next(prefetch: HydratedPrefetch, now: Date): Evaluation | undefined;
}

export interface CdsService {
  definition: CdsServiceDefinition & { prefetch: Record<string, string> };
  /** Validates the request body at the edge; its output is the typed request. */
  requestSchema: z.ZodType<unknown>;
  /** Prefetch keys without which the service cannot give safe advice (412 when unobtainable). */
  requiredPrefetch: readonly string[];
  /**
   * Looks at the request alone, once: `undefined` answers `{"cards":[]}` at once without any FHIR read
   * (e.g. no spine-surgery draft order); otherwise the evaluation to run on the hydrated prefetch.
   */
  plan(request: HookRequest): Evaluation | StagedPlan | undefined;
  /**
   * When set, a card already shown to this patient by this service within the window is not shown
   * again (shared by replicas through the store); a card whose data changed has a new uuid and shows.
   */
  repeatWindowMs?: number;
}
