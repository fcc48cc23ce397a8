/**
 * Our override reasons for CDS Hooks 3.0 clients: a ValueSet that lists them, and a ConceptMap to the
 * example value set CDS Hooks 3.0 publishes (`non-adherence-reason-clinical`, code system
 * http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes, HL7/cds-hooks
 * input/vocabulary/CodeSystem-non-adherence-reason-codes.json), so that sites pooling override
 * analytics across services can read our reasons in the shared vocabulary. Written to
 * fhir-profiles/cds-hooks/ by scripts/build-override-reasons.ts; a drift test keeps the files equal to
 * what this module builds from the knowledge base.
 */
import type { ConceptMap, ValueSet } from 'fhir/r4.js';
import { CANONICAL_BASE, OVERRIDE_REASON_SYSTEM, type KnowledgeBase } from '../knowledge/index.js';

export const NON_ADHERENCE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes';
export const NON_ADHERENCE_VALUESET = 'http://terminology.hl7.org/ValueSet/non-adherence-reason-clinical';
export const OVERRIDE_REASONS_VALUESET_3 = `${CANONICAL_BASE}/ValueSet/override-reasons-cds-hooks`;
export const OVERRIDE_REASONS_CONCEPTMAP = `${CANONICAL_BASE}/ConceptMap/override-reasons-to-non-adherence`;

type Equivalence = 'equivalent' | 'wider' | 'narrower';

/**
 * Where our reasons correspond to a non-adherence code. R4 ConceptMap equivalence reads "the target is
 * ... than the source": `wider` means the 3.0 code says more than ours.
 */
export const NON_ADHERENCE_MAP: Record<string, { code: string; display: string; equivalence: Equivalence }> =
  {
    // The bone-health workup was already done: "Recommended action was already completed".
    'evaluated-elsewhere': {
      code: 'action-completed',
      display: 'Recommended action was already completed',
      equivalence: 'equivalent',
    },
    // The surgery cannot wait for a workup: the acute condition takes priority over the recommended action.
    'urgent-surgery': {
      code: 'action-not-priority',
      display: 'Recommended action is not relevant or a priority in current state of health',
      equivalence: 'wider',
    },
    'patient-declined': {
      code: 'patient-refuses',
      display: 'Patient refuses/declines (no context given)*',
      equivalence: 'equivalent',
    },
    'not-clinically-relevant': {
      code: 'cds-not-applicable',
      display: 'PC CDS does not apply to patient',
      equivalence: 'equivalent',
    },
  };

/** The ValueSet of our override reasons, listed code by code (a 3.0 client can show them offline). */
export function overrideReasonsValueSet(kb: KnowledgeBase): ValueSet {
  return {
    resourceType: 'ValueSet',
    id: 'override-reasons-cds-hooks',
    url: OVERRIDE_REASONS_VALUESET_3,
    name: 'OverrideReasonsCdsHooks',
    title: 'Override reasons (CDS Hooks card.overrideReasons)',
    status: 'active',
    experimental: false,
    description:
      'The reasons a clinician may give when dismissing a bone-health card, as sent in card.overrideReasons. ConceptMap override-reasons-to-non-adherence maps them to the CDS Hooks 3.0 example value set non-adherence-reason-clinical.',
    compose: {
      include: [
        {
          system: OVERRIDE_REASON_SYSTEM,
          concept: kb.overrideReasons.map((r) => ({ code: r.code, display: r.display })),
        },
      ],
    },
  };
}

/** The map from our override reasons to the CDS Hooks 3.0 non-adherence reason codes. */
export function overrideReasonsConceptMap(kb: KnowledgeBase): ConceptMap {
  return {
    resourceType: 'ConceptMap',
    id: 'override-reasons-to-non-adherence',
    url: OVERRIDE_REASONS_CONCEPTMAP,
    name: 'OverrideReasonsToNonAdherence',
    title: 'Override reasons to CDS Hooks 3.0 non-adherence reasons',
    status: 'active',
    experimental: false,
    description:
      'Maps the service override reasons to http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes (CDS Hooks 3.0 example value set); reasons without a counterpart are marked unmatched.',
    sourceCanonical: OVERRIDE_REASONS_VALUESET_3,
    targetCanonical: NON_ADHERENCE_VALUESET,
    group: [
      {
        source: OVERRIDE_REASON_SYSTEM,
        target: NON_ADHERENCE_SYSTEM,
        element: kb.overrideReasons.map((r) => {
          const target = NON_ADHERENCE_MAP[r.code];
          return {
            code: r.code,
            display: r.display,
            target: [
              target === undefined
                ? { equivalence: 'unmatched' as const }
                : { code: target.code, display: target.display, equivalence: target.equivalence },
            ],
          };
        }),
      },
    ],
  };
}
