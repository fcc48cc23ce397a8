/**
 * What a CDS service is to the pipeline: its discovery definition, the schema its requests must meet,
 * the prefetch keys it cannot advise without, and a plan built from the request alone (no FHIR read) that
 * either says "nothing to do" or is the evaluation to run once the prefetch is hydrated.
 */
import type { z } from 'zod';
import type { CdsCard, CdsServiceDefinition, HookRequest, HydratedPrefetch } from '../cds/types.js';

/** The evaluation of one hook call after hydration: pure and synchronous, deterministic for a clock. */
export type Evaluation = (input: { prefetch: HydratedPrefetch; now: Date }) => CdsCard[];

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
  plan(request: HookRequest): Evaluation | undefined;
}
