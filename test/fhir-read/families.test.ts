/** Issue 10 (reading): scores by status, conditions whatever their status, medications however coded, eGFR. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractFacts } from '../../src/fhir/facts/index.js';
import { loadKnowledgeBase, type KnowledgeBase } from '../../src/knowledge/index.js';
import { condition, ICD, RXNORM, score, SCT } from '../fixtures/scenarios/builders.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const NOW = new Date('2026-11-21T12:00:00Z');
const P = 'p1';
const subject = { reference: `Patient/${P}` };
const searchset = (...resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});
const facts = (prefetch: Record<string, unknown>, base: KnowledgeBase = kb) =>
  extractFacts(base, { patientId: P, prefetch, draftOrders: undefined, now: NOW });

describe('scores by status', () => {
  it('counts final, amended and corrected; keeps preliminary as preliminary; ignores entered-in-error', () => {
    const f = facts({
      boneQuality: searchset(
        score('final', P, 'vbq-l1-l4', 3.0, '2026-01-01T00:00:00Z'),
        score('corr', P, 'vbq-s1', 3.1, '2026-01-01T00:00:00Z', { status: 'corrected' }),
        score('prelim', P, 'vbq-l1-l4', 3.6, '2026-06-01T00:00:00Z', { status: 'preliminary' }),
        score('eie', P, 'vbq-l1-l4', 4.2, '2026-07-01T00:00:00Z', { status: 'entered-in-error' }),
      ),
    });
    expect(f.scores.map((s) => `${s.source}:${s.status}`).sort()).toEqual([
      'Observation/corr:corrected',
      'Observation/final:final',
    ]);
    expect(f.preliminaryScores).toEqual([
      expect.objectContaining({ source: 'Observation/prelim', value: 3.6, status: 'preliminary' }),
    ]);
    expect(f.excludedScores.map((e) => e.source)).toEqual(['Observation/prelim']);
  });
});

describe('conditions', () => {
  it('keeps fracture history whatever its status and osteoporosis in remission or inactive', () => {
    const f = facts({
      conditions: searchset(
        condition(
          'fx',
          P,
          ICD,
          'M80.08XA',
          'Age-related osteoporosis with vertebral fracture',
          '2019-01-01',
          'resolved',
        ),
        condition('hx', P, SCT, '240198002', 'Osteoporotic vertebral fracture', '2018-01-01', 'inactive'),
        {
          ...condition('op', P, SCT, '64859006', 'Osteoporosis', '2018-01-01'),
          clinicalStatus: { coding: [{ code: 'remission' }] },
        },
        condition('op2', P, SCT, '64859006', 'Osteoporosis', '2018-01-01', 'resolved'),
        condition('dm', P, ICD, 'E11.9', 'Type 2 diabetes', '2018-01-01', 'inactive'),
      ),
    });
    expect(f.conditions['fragility-fracture'].map((c) => `${c.source}:${c.clinicalStatus}`)).toEqual([
      'Condition/fx:resolved',
      'Condition/hx:inactive',
    ]);
    expect(f.conditions.osteoporosis.map((c) => `${c.source}:${c.clinicalStatus}`)).toEqual([
      'Condition/op:remission',
    ]);
    expect(f.conditions.diabetes).toEqual([]);
  });
});

describe('medications', () => {
  const alendronate = { coding: [{ system: RXNORM, code: '46041', display: 'alendronate' }] };
  it('reads the drug from a referenced Medication, a contained one and a MedicationStatement', () => {
    const f = facts({
      medicationRequests: searchset(
        {
          resourceType: 'MedicationRequest',
          id: 'ref',
          status: 'active',
          intent: 'order',
          subject,
          authoredOn: '2026-06-01',
          medicationReference: { reference: 'Medication/m1' },
        },
        {
          resourceType: 'Medication',
          id: 'm1',
          code: { coding: [{ system: RXNORM, code: '999999' }], text: 'Local product 70' },
          ingredient: [{ itemCodeableConcept: alendronate }],
        },
        {
          resourceType: 'MedicationRequest',
          id: 'contained',
          status: 'active',
          intent: 'order',
          subject,
          contained: [{ resourceType: 'Medication', id: 'x', code: { text: 'Denosumab 60 mg/mL syringe' } }],
          medicationReference: { reference: '#x' },
        },
      ),
      medicationStatements: searchset({
        resourceType: 'MedicationStatement',
        id: 'st',
        status: 'active',
        subject,
        effectivePeriod: { start: '2026-01-01' },
        medicationCodeableConcept: { text: 'Teriparatide 20 mcg daily' },
      }),
    });
    expect(f.treatments.map((t) => `${t.source}:${t.ingredient}`).sort()).toEqual([
      'MedicationRequest/contained:denosumab',
      'MedicationRequest/ref:alendronate',
      'MedicationStatement/st:teriparatide',
    ]);
  });
});

describe('eGFR', () => {
  const egfrObs = (id: string, value: number, unit: string, date: string) => ({
    resourceType: 'Observation',
    id,
    status: 'final',
    subject,
    code: { coding: [{ system: 'http://loinc.org', code: '98979-8' }] },
    effectiveDateTime: date,
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  });
  // The eGFR list is read by its id; a knowledge base with it (as the knowledge base now has) is built here.
  const withEgfr: KnowledgeBase = {
    ...kb,
    codeLists: {
      ...kb.codeLists,
      egfr: {
        title: 'eGFR',
        description: 'eGFR results',
        codes: [
          { system: 'http://loinc.org', code: '98979-8', display: 'eGFR CKD-EPI 2021', verified: false },
        ],
      },
    } as KnowledgeBase['codeLists'],
  };

  it('reads the latest eGFR from any key, in mL/min/1.73 m2', () => {
    const f = facts(
      {
        labs: searchset(
          egfrObs('old', 52, 'mL/min/{1.73_m2}', '2025-01-01'),
          egfrObs('new', 28, 'mL/min/{1.73_m2}', '2026-10-01'),
        ),
        vitaminD: searchset(egfrObs('mg', 40, 'mg/dL', '2026-11-01')),
      },
      withEgfr,
    );
    expect(f.egfr).toMatchObject({ value: 28, source: 'Observation/new' });
    expect(f.dataIssues.map((i) => `${i.source}: ${i.reason}`)).toContain(
      'Observation/mg: eGFR in unit mg/dL: not used',
    );
  });

  it('yields no eGFR fact when the knowledge base has no eGFR list', () => {
    const { egfr: _absent, ...others } = withEgfr.codeLists as Record<string, unknown>;
    const without = { ...kb, codeLists: others } as unknown as KnowledgeBase;
    const f = facts({ labs: searchset(egfrObs('e', 28, 'mL/min/{1.73_m2}', '2026-10-01')) }, without);
    expect(f.egfr).toBeUndefined();
  });
});

describe('glucocorticoid exposure', () => {
  const route = (code: string, display: string) => ({ coding: [{ system: SCT, code, display }] });
  const codes = (...entries: [string, string][]) => ({
    title: 'routes',
    description: 'routes',
    codes: entries.map(([code, display]) => ({ system: SCT, code, display, verified: false })),
  });
  // Route lists and the conversion table are read by the ids the knowledge base gives them.
  const withRoutes = {
    ...kb,
    codeLists: {
      ...kb.codeLists,
      'systemic-routes': codes(['26643006', 'Oral route']),
      'non-systemic-routes': codes(['447694001', 'Respiratory tract route']),
    },
  } as unknown as KnowledgeBase;
  const request = (id: string, text: string, r: object, dose: number) => ({
    resourceType: 'MedicationRequest',
    id,
    status: 'active',
    intent: 'order',
    subject,
    authoredOn: '2026-01-01',
    // Coded by RxNorm ingredient: by name alone "methylprednisolone" also contains "prednisolone".
    medicationCodeableConcept: { coding: [{ system: RXNORM, code: '6902' }], text },
    dosageInstruction: [
      {
        route: r,
        timing: {
          repeat: { frequency: 2, period: 1, periodUnit: 'd', boundsPeriod: { start: '2026-01-01' } },
        },
        doseAndRate: [
          { doseQuantity: { value: dose, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } },
        ],
      },
    ],
  });

  it('reads route, daily dose and prednisone equivalent; inhaled courses are not systemic exposure', () => {
    const f = facts(
      {
        medicationRequests: searchset(
          request('oral', 'Methylprednisolone 4 mg tablet', route('26643006', 'Oral route'), 4),
          request('inh', 'Methylprednisolone inhaler', route('447694001', 'Respiratory tract route'), 1),
        ),
      },
      withRoutes,
    );
    const byId = Object.fromEntries(f.glucocorticoids.courses.map((c) => [c.source, c]));
    expect(byId['MedicationRequest/oral']).toMatchObject({
      route: 'systemic',
      dailyDoseMg: 8,
      prednisoneEquivalentMgPerDay: 10,
    });
    expect(byId['MedicationRequest/inh']).toMatchObject({ route: 'non-systemic', dailyDoseMg: 2 });
    expect(f.glucocorticoids.sources).toEqual(['MedicationRequest/oral']);
    expect(f.glucocorticoids.longTerm).toBe(true);
  });
});

describe('ingredient matching by whole word', () => {
  const byText = (text: string) =>
    facts({
      medicationStatements: searchset({
        resourceType: 'MedicationStatement',
        id: 'm',
        status: 'active',
        subject,
        medicationCodeableConcept: { text },
        effectivePeriod: { start: '2026-01-01' },
      }),
    });

  it('reads methylprednisolone as methylprednisolone, never as prednisolone', () => {
    expect(byText('methylPREDNISolone 4 MG Oral Tablet').glucocorticoids.courses[0]?.ingredient).toBe(
      'methylprednisolone',
    );
    expect(byText('prednisoLONE 5 MG Oral Tablet').glucocorticoids.courses[0]?.ingredient).toBe(
      'prednisolone',
    );
  });

  it('matches a whole word only: a longer word containing the ingredient is not the ingredient', () => {
    expect(byText('prednisonexyz compound').glucocorticoids.courses).toEqual([]);
    expect(
      byText('Alendronate/cholecalciferol 70 mg-2800 unit [Fosamax Plus D]').treatments[0]?.ingredient,
    ).toBe('alendronate');
    // The dosing table's full name is kept ("zoledronic acid", not the list's "zoledronic").
    expect(byText('Zoledronic acid 5 mg/100 mL IV').treatments[0]?.ingredient).toBe('zoledronic acid');
  });
});

describe('glucocorticoid exposure across renewals', () => {
  const pred = (id: string, start: string, end: string, mg = 5) => ({
    resourceType: 'MedicationRequest',
    id,
    status: 'completed',
    intent: 'order',
    subject,
    authoredOn: start,
    medicationCodeableConcept: { text: 'predniSONE 5 MG Oral Tablet' },
    dosageInstruction: [
      {
        route: { coding: [{ system: SCT, code: '26643006', display: 'Oral route' }] },
        timing: { repeat: { boundsPeriod: { start, end }, frequency: 1, period: 1, periodUnit: 'd' } },
        doseAndRate: [
          { doseQuantity: { value: mg, unit: 'mg', system: 'http://unitsofmeasure.org', code: 'mg' } },
        ],
      },
    ],
  });

  it('sums successive renewals (a gap within the knowledge base allowance) into one exposure', () => {
    const f = facts({
      medicationRequests: searchset(
        pred('a', '2026-06-01', '2026-07-01'),
        pred('b', '2026-07-10', '2026-08-09'),
        pred('c', '2026-08-20', '2026-09-19'),
      ),
    });
    expect(f.glucocorticoids.days).toBe(110);
    expect(f.glucocorticoids.longTerm).toBe(true);
    expect(f.glucocorticoids.sources).toEqual([
      'MedicationRequest/a',
      'MedicationRequest/b',
      'MedicationRequest/c',
    ]);
  });

  it('keeps courses months apart separate, and ignores doses below 2.5 mg/day prednisone-equivalent', () => {
    const apart = facts({
      medicationRequests: searchset(
        pred('a', '2026-01-01', '2026-03-02'),
        pred('b', '2026-07-01', '2026-08-30'),
      ),
    });
    expect(apart.glucocorticoids.longTerm).toBe(false);
    expect(apart.glucocorticoids.days).toBe(60);
    const low = facts({ medicationRequests: searchset(pred('a', '2026-02-01', '2026-09-01', 2)) });
    expect(low.glucocorticoids.longTerm).toBe(false);
  });

  it('counts refills: numberOfRepeatsAllowed x expectedSupplyDuration', () => {
    const f = facts({
      medicationRequests: searchset({
        ...pred('r', '2026-05-01', '2026-05-31'),
        dosageInstruction: [{ text: 'predniSONE 10 mg daily' }],
        dispenseRequest: {
          numberOfRepeatsAllowed: 2,
          expectedSupplyDuration: { value: 30, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
        },
      }),
    });
    expect(f.glucocorticoids.days).toBe(90);
    expect(f.glucocorticoids.longTerm).toBe(true);
  });
});

describe('treatment by each drug’s dosing interval', () => {
  const dmab = (id: string, status: string, extra: object) => ({
    resourceType: 'MedicationStatement',
    id,
    status,
    subject,
    medicationCodeableConcept: { text: 'denosumab 60 MG/ML Prefilled Syringe' },
    ...extra,
  });

  it('denosumab is current within 7 months of the last dose and lapsed after; the history keeps both', () => {
    const recent = facts({
      medicationStatements: searchset(dmab('d1', 'completed', { effectiveDateTime: '2026-07-01' })),
    });
    expect(recent.treatments.map((t) => t.lastDose)).toEqual(['2026-07-01']);
    const late = facts({
      medicationStatements: searchset(dmab('d2', 'completed', { effectiveDateTime: '2026-02-01' })),
    });
    expect(late.treatments).toEqual([]);
    expect(late.treatmentHistory.map((t) => `${t.ingredient}:${t.lastDose}`)).toEqual([
      'denosumab:2026-02-01',
    ]);
  });

  it('an open-ended active statement says the drug is taken, not when: current, no last dose', () => {
    const f = facts({
      medicationStatements: searchset(dmab('d3', 'active', { effectivePeriod: { start: '2023-01-01' } })),
    });
    expect(f.treatments).toHaveLength(1);
    expect(f.treatments[0]?.lastDose).toBeUndefined();
  });
});
