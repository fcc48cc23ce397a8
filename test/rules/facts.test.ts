import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { extractFacts, spineProcedureOrders } from '../../src/fhir/facts/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import {
  condition,
  CPT,
  draftOrder,
  dxaT,
  medicationStatement,
  score,
  SCT,
  serviceRequest,
  vitaminD,
} from '../fixtures/scenarios/builders.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const NOW = new Date('2026-11-21T12:00:00Z');
const P = 'p1';
const bundle = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});

function facts(prefetch: Record<string, Bundle>, drafts: FhirResource[] = []) {
  return extractFacts(kb, { patientId: P, prefetch, draftOrders: bundle(...drafts), now: NOW });
}

describe('extractFacts', () => {
  it('keeps the latest valid score per metric with its source, date, field strength and age', () => {
    const f = facts({
      boneQuality: bundle(
        score('a', P, 'vbq-l1-l4', 3.1, '2026-01-01T00:00:00Z', { fieldStrength: 1.5 }),
        score('b', P, 'vbq-l1-l4', 3.4, '2026-05-01T00:00:00Z', { fieldStrength: 3 }),
        score('c', P, 'vbq-s1', 3.0, '2026-05-01T00:00:00Z'),
      ),
    });
    const vbq = f.scores.find((s) => s.metric === 'vbq-l1-l4')!;
    expect(vbq).toMatchObject({ value: 3.4, source: 'Observation/b', fieldStrengthT: 3, region: 'lumbar' });
    expect(vbq.ageMonths).toBeGreaterThan(6);
    expect(vbq.ageMonths).toBeLessThan(7);
    expect(f.scores.map((s) => s.metric).sort()).toEqual(['vbq-l1-l4', 'vbq-s1']);
  });

  it('excludes invalid scores and keeps the reasons', () => {
    const f = facts({
      boneQuality: bundle(
        score('flair', P, 'vbq-l1-l4', 3.5, '2026-05-01T00:00:00Z', { sequence: 'T1 FLAIR' }),
        score('gd', P, 'vbq-l1-l4', 3.5, '2026-05-02T00:00:00Z', { contrast: true }),
        score('prelim', P, 'vbq-l1-l4', 3.5, '2026-05-03T00:00:00Z', { status: 'preliminary' }),
      ),
    });
    expect(f.scores).toEqual([]);
    const reasons = f.excludedScores.flatMap((e) => e.reasons).join(' | ');
    expect(reasons).toMatch(/FLAIR/);
    expect(reasons).toMatch(/contrast-enhanced/);
    expect(reasons).toMatch(/status preliminary/);
  });

  it('finds the lowest T-score and its site, and flags lumbar-only DXA', () => {
    const both = facts({
      dxa: bundle(
        dxaT('ls', P, '38267-1', -1.2, '2026-03-01T00:00:00Z'),
        dxaT('fn', P, '38263-0', -2.1, '2026-03-01T00:00:00Z'),
      ),
    });
    expect(both.dxa.lowest).toMatchObject({ site: 'femur', value: -2.1, source: 'Observation/fn' });
    expect(both.dxa.lumbarOnly).toBe(false);
    expect(both.dxa.recent).toBe(true);
    const lumbar = facts({ dxa: bundle(dxaT('ls', P, '38267-1', -1.2, '2026-03-01T00:00:00Z')) });
    expect(lumbar.dxa.lumbarOnly).toBe(true);
  });

  it('converts vitamin D from nmol/L and finds glucocorticoids >= 3 months by name', () => {
    const f = facts({
      vitaminD: bundle(vitaminD('vd', P, 49.92, '2026-10-01T00:00:00Z', 'nmol/L')),
      medicationStatements: bundle(
        medicationStatement('ms', P, 'Prednisolone 5 mg daily', 'active', '2026-05-01'),
      ),
    });
    expect(f.vitaminD?.value).toBe(20);
    expect(f.glucocorticoids.longTerm).toBe(true);
    expect(f.glucocorticoids.sources).toEqual(['MedicationStatement/ms']);
  });

  it('reads active conditions by list from SNOMED CT and ICD-10-CM prefixes', () => {
    const f = facts({
      conditions: bundle(
        condition(
          'dm',
          P,
          'http://hl7.org/fhir/sid/icd-10-cm',
          'E11.65',
          'Type 2 diabetes with hyperglycemia',
          '2020-01-01',
        ),
        condition('ckd', P, SCT, '431857002', 'CKD stage 4', '2020-01-01'),
        condition('ra', P, SCT, '69896004', 'Rheumatoid arthritis', '2020-01-01', 'inactive'),
      ),
    });
    expect(f.conditions.diabetes.map((c) => c.source)).toEqual(['Condition/dm']);
    expect(f.conditions.ckd).toHaveLength(1);
    expect(f.conditions['rheumatoid-arthritis']).toEqual([]);
  });

  it('counts DXA orders on record and among the draft orders, skipping revoked ones', () => {
    const f = facts(
      {
        serviceRequests: bundle(
          serviceRequest('old', P, CPT, '77080', 'DXA', 'revoked', '2026-10-01T00:00:00Z'),
          serviceRequest('open', P, CPT, '77080', 'DXA', 'active', '2026-10-01T00:00:00Z'),
        ),
      },
      [draftOrder('d', P, CPT, '77080', 'DXA')],
    );
    expect(f.dxaOrders.map((o) => `${o.source}:${o.inDraftOrders}`)).toEqual([
      'ServiceRequest/open:false',
      'ServiceRequest/d:true',
    ]);
  });
});

describe('spineProcedureOrders', () => {
  const drafts = bundle(
    draftOrder('tlif', P, CPT, '22630', 'TLIF'),
    draftOrder('knee', P, CPT, '27447', 'TKA'),
    draftOrder('acdf', P, CPT, '22551', 'ACDF', { status: 'active' }),
  );

  it('keeps only draft orders in the spine-surgery list, with region and family', () => {
    expect(spineProcedureOrders(kb, 'order-sign', drafts)).toEqual([
      expect.objectContaining({
        source: 'ServiceRequest/tlif',
        region: 'lumbar',
        family: 'posterior-interbody',
      }),
    ]);
  });

  it('evaluates only the selections for order-select', () => {
    expect(spineProcedureOrders(kb, 'order-select', drafts, ['ServiceRequest/knee'])).toEqual([]);
    expect(spineProcedureOrders(kb, 'order-select', drafts, ['ServiceRequest/tlif'])).toHaveLength(1);
  });
});
