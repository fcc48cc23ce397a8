/**
 * The CDS services this server offers. Discovery and routing both read this list, so they cannot disagree.
 */
import type { CdsServiceModule, Evaluator } from './pipeline.js';

/** Prefetch keys whose absence degrades the advice but does not make it unsafe. */
export const OPTIONAL_PREFETCH: ReadonlySet<string> = new Set(['vitaminD', 'imagingStudies']);

export interface ServiceOptions {
  evaluate: Evaluator;
  /** Prefetch templates (generated from the knowledge base's code lists, see prefetchTemplates()). */
  prefetch: Record<string, string>;
  isRelevant?: CdsServiceModule['isRelevant'];
}

export function buildServices(options: ServiceOptions): CdsServiceModule[] {
  const { evaluate, prefetch } = options;
  // Keys needed for safe advice: without conditions we cannot see a confounder, without medications we
  // cannot see treatment, without orders we would repeat one. Such a key that cannot be had is a 412, never
  // silent advice. The vitamin D and imaging-study keys only refine the advice (a vitamin D test is suggested
  // when none is known; an unscored MR is a data-gap note), so an EHR that cannot serve them still gets cards.
  const requiredPrefetch = Object.keys(prefetch).filter((key) => !OPTIONAL_PREFETCH.has(key));
  return [
    {
      definition: {
        hook: 'order-sign',
        id: 'spine-surgery-bone-health',
        title: 'Bone health before spine surgery',
        description:
          'When a spine fusion, deformity correction, instrumentation or vertebral augmentation order is signed, reviews MRI vertebral bone quality (VBQ/EBQ/S1 VBQ/C-VBQ), DXA T-scores, CT Hounsfield units, risk factors and current treatment, and advises a bone-health workup when the evidence calls for one.',
        prefetch,
      },
      requiredPrefetch,
      isRelevant: options.isRelevant,
      evaluate,
    },
    {
      definition: {
        hook: 'order-select',
        id: 'spine-surgery-bone-health-select',
        title: 'Bone health before spine surgery (order selection)',
        description:
          'The same bone-health review as spine-surgery-bone-health, run when a spine surgery order is selected, evaluating only the selected orders.',
        prefetch,
      },
      requiredPrefetch,
      isRelevant: options.isRelevant,
      evaluate,
    },
  ];
}
