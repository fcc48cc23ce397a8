/**
 * The override reasons published for CDS Hooks 3.0 (ValueSet + ConceptMap to the non-adherence reason
 * codes) cannot drift from the knowledge base, and every mapped target is a real code of the 3.0 code
 * system (listed here from HL7/cds-hooks input/vocabulary/CodeSystem-non-adherence-reason-codes.json).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ConceptMap, ValueSet } from 'fhir/r4.js';
import {
  NON_ADHERENCE_MAP,
  NON_ADHERENCE_SYSTEM,
  overrideReasonsConceptMap,
  overrideReasonsValueSet,
} from '../../src/cds/override-reasons.js';
import { OVERRIDE_REASON_SYSTEM } from '../../src/knowledge/index.js';
import { overrideReasonFiles } from '../../scripts/build-override-reasons.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';

const NON_ADHERENCE_CODES = new Set([
  'cds-not-applicable',
  'patient-ineligible',
  'indication-order-exists',
  'action-completed',
  'action-unsuccessful',
  'action-performed-no-adverse-effect',
  'action-not-priority',
  'cds-suboptimal-context',
  'limited-time',
  'wrong-time-workflow',
  'inappropriate-recipient',
  'need-more-info',
  'recipient-disagrees-evidence',
  'does-not-align-latest-evidence',
  'expert-contradicts',
  'policy-contradicts',
  'recipient-does-not-trust',
  'recipient-concerns-outcomes',
  'risk-benefit-ratio',
  'mitigate-risk-negative-outcome',
  'likely-negative-health-outcomes',
  'patient-contraindication',
  'does-not-align-preferences',
  'patient-fears-discomfort',
  'patient-does-not-want-change',
  'cultural-religious-reason',
  'prefers-alternative',
  'patient-refuses',
  'not-convenient-feasible',
  'inadequate-support',
  'service-not-available',
  'implementation-challenges',
  'too-costly-uncovered',
  'recipient-does-not-understand',
  'comorbidity-disability',
]);

const kb = shippedKnowledgeBase();

describe('override reasons for CDS Hooks 3.0', () => {
  it('the committed files equal a regeneration (npm run ehr:override-reasons)', () => {
    for (const [file, content] of Object.entries(overrideReasonFiles()))
      expect(readFileSync(file, 'utf8'), file).toBe(content);
  });

  it('the ValueSet lists exactly the reasons cards offer, with displays', () => {
    const vs: ValueSet = overrideReasonsValueSet(kb);
    const include = vs.compose!.include[0]!;
    expect(include.system).toBe(OVERRIDE_REASON_SYSTEM);
    expect(include.concept).toEqual(kb.overrideReasons.map((r) => ({ code: r.code, display: r.display })));
  });

  it('every reason is mapped to a real non-adherence code, or marked unmatched', () => {
    const cm: ConceptMap = overrideReasonsConceptMap(kb);
    const group = cm.group![0]!;
    expect(group.target).toBe(NON_ADHERENCE_SYSTEM);
    expect(group.element!.map((e) => e.code)).toEqual(kb.overrideReasons.map((r) => r.code));
    for (const element of group.element!) {
      const target = element.target![0]!;
      if (target.equivalence === 'unmatched') expect(NON_ADHERENCE_MAP[element.code!]).toBeUndefined();
      else expect(NON_ADHERENCE_CODES.has(target.code!), target.code).toBe(true);
    }
    for (const code of Object.keys(NON_ADHERENCE_MAP))
      expect(
        kb.overrideReasons.some((r) => r.code === code),
        code,
      ).toBe(true);
    expect(group.element!.find((e) => e.code === 'patient-declined')?.target?.[0]?.code).toBe(
      'patient-refuses',
    );
  });
});
