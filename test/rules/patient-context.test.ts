/** Issue 10: what about the patient changes the reading (DXA classification, kidney limit), at the edges. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractFacts } from '../../src/fhir/facts/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { dxaBasis, kidneyLimit } from '../../src/rules/patient-context.js';
import { condition, ICD, LOINC, patient } from '../fixtures/scenarios/builders.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const NOW = new Date('2026-11-21T12:00:00Z');
const P = 'p1';
const searchset = (...resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});
const factsOf = (prefetch: Record<string, unknown>) =>
  extractFacts(kb, { patientId: P, prefetch, draftOrders: undefined, now: NOW });
const egfr = (value: number, date: string) => ({
  resourceType: 'Observation',
  id: `e${value}`,
  status: 'final',
  subject: { reference: `Patient/${P}` },
  code: { coding: [{ system: LOINC, code: '98979-8' }] },
  effectiveDateTime: date,
  valueQuantity: {
    value,
    unit: 'mL/min/{1.73_m2}',
    system: 'http://unitsofmeasure.org',
    code: 'mL/min/{1.73_m2}',
  },
});

describe('dxaBasis (ISCD: Z-scores under 50, age 50 when menopausal status is unknown)', () => {
  it.each([
    ['1976-11-21', 'female', 't-score', true],
    ['1976-11-22', 'female', 'z-score', true],
    ['1976-11-22', 'male', 'z-score', false],
    ['1960-01-01', 'male', 't-score', false],
  ] as const)('born %s, %s: %s', (birthDate, gender, basis, boundary) => {
    const b = dxaBasis(kb, factsOf({ patient: patient(P, birthDate, gender) }));
    expect(b.basis).toBe(basis);
    expect(b.ageBoundary).toBe(boundary);
  });

  it('an unknown age keeps the T-score classification', () => {
    expect(dxaBasis(kb, factsOf({})).basis).toBe('t-score');
  });
});

describe('kidneyLimit (bisphosphonate eGFR limit, CKD stage 4-5)', () => {
  const limit = kb.clinicalData.renal.bisphosphonateEgfrMin.value;

  it('a recent eGFR below the limit counts; at the limit or stale it does not', () => {
    expect(kidneyLimit(kb, factsOf({ egfr: searchset(egfr(limit - 1, '2026-10-01')) }))?.egfr?.value).toBe(
      limit - 1,
    );
    expect(kidneyLimit(kb, factsOf({ egfr: searchset(egfr(limit, '2026-10-01')) }))).toBeUndefined();
    expect(kidneyLimit(kb, factsOf({ egfr: searchset(egfr(20, '2025-06-01')) }))).toBeUndefined();
  });

  it('CKD stage 4 or 5 on the problem list counts; stage 3 does not', () => {
    const stage = (code: string) =>
      kidneyLimit(kb, factsOf({ conditions: searchset(condition('c', P, ICD, code, code, '2024-01-01')) }));
    expect(stage('N18.4')?.stage?.ckdStage).toBe('4');
    expect(stage('N18.6')?.stage?.ckdStage).toBe('5D');
    expect(stage('N18.32')).toBeUndefined();
  });
});
