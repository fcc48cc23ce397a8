/**
 * Property tests: realistic hook calls (the scenario fixtures, hydrated by the service's own prefetch
 * templates) damaged by arbitrary JSON mutations never make fact extraction, order triggering, request
 * checking or the whole evaluator throw, and every fact they yield is clean (finite numbers, strings).
 */
import type { OrderSignContext } from '../../src/cds/types.js';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { extractFacts, spineProcedureOrders } from '../../src/fhir/facts/index.js';
import {
  readCodeableConcept,
  IssueLog,
  requestProblems,
  readDraftOrders,
} from '../../src/fhir/read/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { loadScenario, toEvaluationInput } from '../rules/scenario-harness.js';
import { applyMutations, mutationArb } from './mutate.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const templates = prefetchTemplates(kb);
const evaluate = boneHealthEvaluator(kb);

// Scenarios that between them carry every resource family the facts read.
const SCENARIOS = [
  'lumbar-tlif-dxa-osteoporosis-untreated-critical',
  'lumbar-zoledronic-completed-within-year-counts',
  'glucocorticoids-over-3-months-no-dxa-info',
  'mri-without-bone-quality-score-info',
  'lumbar-tlif-vitamin-d-recent-normal-nmol',
  'lumbar-fragility-fracture-icd10-prefix',
  'order-select-spine-order-selected-warning',
  'multiple-draft-orders-tlif-with-long-instrumentation-pjk',
  'lumbar-ct-hu-low-and-vbq-above-critical',
  'lumbar-tlif-dxa-in-same-draft-orders',
];
const inputs = SCENARIOS.map((name) => {
  const { bundle, expected } = loadScenario(name);
  return toEvaluationInput(bundle, expected, templates);
});
type Input = (typeof inputs)[number];

// One call shaped like an EHR export: a DXA report with contained and referenced results, a panel with
// components and members, referenced and contained Medications with dosages, statuses other than active.
const ehrShaped: Input = (() => {
  const base = inputs[0]!;
  const P = base.context.patientId;
  const subject = { reference: `Patient/${P}` };
  const loinc = (code: string) => ({ coding: [{ system: 'http://loinc.org', code }] });
  const t = (value: number) => ({
    value,
    unit: '{T-score}',
    system: 'http://unitsofmeasure.org',
    code: '{T-score}',
  });
  const entry = (...resources: object[]) => ({
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ resource })),
  });
  const member = {
    resourceType: 'Observation',
    id: 'fn',
    status: 'final',
    code: loinc('38263-0'),
    subject,
    valueQuantity: t(-2.1),
  };
  const panel = {
    resourceType: 'Observation',
    id: 'panel',
    status: 'amended',
    code: loinc('83311-1'),
    subject,
    effectiveDateTime: '2026-02-01',
    component: [{ code: loinc('38267-1'), valueQuantity: t(-2.6) }],
    hasMember: [{ reference: 'Observation/fn' }],
  };
  const report = {
    resourceType: 'DiagnosticReport',
    id: 'r',
    status: 'final',
    code: loinc('83311-1'),
    subject,
    effectiveDateTime: '2026-02-01',
    contained: [
      { resourceType: 'Observation', id: 'c', status: 'final', code: loinc('38265-5'), valueQuantity: t(-1) },
    ],
    result: [{ reference: '#c' }, { reference: 'Observation/panel' }],
  };
  const medication = {
    resourceType: 'Medication',
    id: 'm',
    code: { text: 'Local alendronate 70' },
    ingredient: [
      {
        itemCodeableConcept: {
          coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '46041' }],
        },
      },
    ],
  };
  const request = {
    resourceType: 'MedicationRequest',
    id: 'mr',
    status: 'active',
    intent: 'order',
    subject,
    authoredOn: '2026-01-01',
    medicationReference: { reference: 'Medication/m' },
    contained: [{ resourceType: 'Medication', id: 'x', code: { text: 'prednisone 5 mg' } }],
    dosageInstruction: [
      {
        route: { coding: [{ system: 'http://snomed.info/sct', code: '26643006' }] },
        timing: {
          repeat: { frequency: 1, period: 1, periodUnit: 'd', boundsPeriod: { start: '2026-01-01' } },
        },
        doseAndRate: [{ doseQuantity: { value: 5, unit: 'mg' } }],
      },
    ],
    dispenseRequest: {
      numberOfRepeatsAllowed: 3,
      expectedSupplyDuration: { value: 30, unit: 'd', code: 'd' },
    },
  };
  const fracture = {
    resourceType: 'Condition',
    id: 'fx',
    subject,
    clinicalStatus: { coding: [{ code: 'resolved' }] },
    category: [{ coding: [{ code: 'encounter-diagnosis' }] }],
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'M80.08XA' }] },
  };
  return {
    ...base,
    prefetch: {
      ...base.prefetch,
      dxa: entry(report, panel, member),
      medicationRequests: entry(request, medication),
      conditions: entry(fracture),
    },
  } as Input;
})();
inputs.push(ehrShaped);

const callArb = fc.record({
  base: fc.constantFrom(...inputs),
  prefetchMutations: fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
  draftMutations: fc.array(mutationArb, { maxLength: 3 }),
});

function mutated(
  base: Input,
  prefetchMutations: Parameters<typeof applyMutations>[1],
  draftMutations: Parameters<typeof applyMutations>[1],
) {
  const prefetch = applyMutations(base.prefetch, prefetchMutations);
  const draftOrders = applyMutations((base.context as OrderSignContext).draftOrders, draftMutations);
  return { prefetch, draftOrders };
}

/** Every leaf of the facts is a finite number, a boolean, a string of bounded length or undefined. */
function expectClean(value: unknown, where = 'facts'): void {
  if (value === undefined || value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    // ageMonths of undated data is +Infinity by design; NaN never is.
    expect(Number.isNaN(value), where).toBe(false);
    return;
  }
  if (typeof value === 'string') {
    expect(value.length, where).toBeLessThanOrEqual(5000);
    return;
  }
  expect(typeof value, where).toBe('object');
  for (const [k, v] of Object.entries(value as object)) expectClean(v, `${where}.${k}`);
}

const RUNS = { numRuns: 250 };

describe('tolerant reading under arbitrary mutations', () => {
  it('extractFacts never throws and yields clean facts', () => {
    fc.assert(
      fc.property(callArb, ({ base, prefetchMutations, draftMutations }) => {
        const { prefetch, draftOrders } = mutated(base, prefetchMutations, draftMutations);
        const facts = extractFacts(kb, {
          patientId: base.context.patientId,
          prefetch,
          draftOrders,
          now: base.now,
        });
        expectClean(facts);
        expect(facts.dataIssues.length).toBeLessThanOrEqual(101);
      }),
      RUNS,
    );
  });

  it('spineProcedureOrders and requestProblems never throw on mutated draft orders', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
        (base, mutations) => {
          const draftOrders = applyMutations((base.context as OrderSignContext).draftOrders, mutations);
          const selections = 'selections' in base.context ? (base.context.selections as string[]) : undefined;
          const orders = spineProcedureOrders(kb, base.hook, draftOrders, selections);
          expectClean(orders);
          const problems = requestProblems({ context: { draftOrders }, prefetch: base.prefetch });
          for (const p of problems) expect(p.path).toMatch(/^(context\.draftOrders|prefetch)/);
        },
      ),
      RUNS,
    );
  });

  it('the evaluator never throws on mutated prefetch and draft orders', () => {
    fc.assert(
      fc.property(callArb, ({ base, prefetchMutations, draftMutations }) => {
        const { prefetch, draftOrders } = mutated(base, prefetchMutations, draftMutations);
        const context = { ...base.context, draftOrders } as Input['context'];
        const cards = evaluate({ ...base, context, prefetch });
        expect(Array.isArray(cards)).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it('mutating the whole request body never throws from requestProblems', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.array(mutationArb, { minLength: 1, maxLength: 8 }),
        (base, m) => {
          const body = applyMutations({ hook: base.hook, context: base.context, prefetch: base.prefetch }, m);
          expect(Array.isArray(requestProblems(body))).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('readCodeableConcept turns anything into clean codings or nothing', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 3 }), (value) => {
        const log = new IssueLog();
        const concept = readCodeableConcept({ log, source: 'Observation/x' }, value, 'code');
        if (concept === undefined) return;
        expect(Array.isArray(concept.coding)).toBe(true);
        for (const coding of concept.coding) {
          for (const key of Object.keys(coding)) expect(['system', 'code', 'display']).toContain(key);
          for (const v of Object.values(coding)) expect(typeof v).toBe('string');
        }
        if (concept.text !== undefined) expect(typeof concept.text).toBe('string');
      }),
      { numRuns: 500 },
    );
  });

  it('readDraftOrders reads anything without throwing', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 4 }), (value) => {
        const read = readDraftOrders(value);
        expect(Array.isArray(read.orders)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe('the EHR-shaped base call', () => {
  it('is read in full before it is mutated', () => {
    const f = extractFacts(kb, {
      patientId: ehrShaped.context.patientId,
      prefetch: ehrShaped.prefetch,
      draftOrders: (ehrShaped.context as OrderSignContext).draftOrders,
      now: ehrShaped.now,
    });
    expect(f.dxa.tScores.map((s) => `${s.source}:${s.value}`)).toEqual([
      'Observation/panel:-2.6',
      'Observation/fn:-2.1',
      'Observation/c:-1',
    ]);
    expect(f.treatments.map((t) => t.ingredient)).toEqual(['alendronate']);
    expect(f.conditions['fragility-fracture'].map((c) => c.source)).toEqual(['Condition/fx']);
    expect(f.dataIssues).toEqual([]);
  });
});
