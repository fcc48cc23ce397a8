/**
 * The FHIR cohort input against the embedded FHIR server (real HTTP, small pages so paging is followed):
 * bone-quality Observations plus DXA T-scores, and Conditions as clinical events.
 */
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchCohortFromFhir, fhirRecentScores, FhirCohortError } from '../../src/calibration/fhir-input.js';
import { BONE_QUALITY_SYSTEM } from '../../src/knowledge/index.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { shippedOutcomes } from './helpers.js';

function score(
  id: string,
  patient: string,
  value: number,
  date: string,
  fs: number | null,
  scanner?: string,
): FhirResource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: BONE_QUALITY_SYSTEM, code: 'vbq-l1-l4' }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: date,
    valueQuantity: { value, unit: '1', system: 'http://unitsofmeasure.org', code: '1' },
    component: [
      ...(fs === null
        ? []
        : [
            {
              code: { coding: [{ system: BONE_QUALITY_SYSTEM, code: 'field-strength' }] },
              valueQuantity: { value: fs, unit: 'T', system: 'http://unitsofmeasure.org', code: 'T' },
            },
          ]),
      ...(scanner
        ? [{ code: { coding: [{ system: BONE_QUALITY_SYSTEM, code: 'scanner' }] }, valueString: scanner }]
        : []),
    ],
  };
}

function tScore(id: string, patient: string, code: string, value: number, date: string): FhirResource {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] },
    subject: { reference: `Patient/${patient}` },
    effectiveDateTime: date,
    valueQuantity: { value, unit: '{T-score}', system: 'http://unitsofmeasure.org', code: '{T-score}' },
  };
}

function condition(id: string, patient: string, code: string, onset: string): FhirResource {
  return {
    resourceType: 'Condition',
    id,
    subject: { reference: `Patient/${patient}` },
    code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code }] },
    onsetDateTime: onset,
  };
}

const resources: FhirResource[] = [
  ...['p1', 'p2', 'p3', 'p4', 'p5', 'p6'].map((id): FhirResource => ({ resourceType: 'Patient', id })),
  // p1: two scores, the earliest counts; DXA closest to it osteoporotic at the hip.
  score('s1a', 'p1', 3.6, '2024-02-01', 1.5, 'Siemens Aera'),
  score('s1b', 'p1', 3.9, '2025-06-01', 1.5, 'Siemens Aera'),
  tScore('t1a', 'p1', '38267-1', -1.9, '2024-02-20'),
  tScore('t1b', 'p1', '38264-8', -2.7, '2024-02-20'),
  tScore('t1c', 'p1', '38267-1', -1.0, '2026-01-01'),
  // p2: normal DXA.
  score('s2', 'p2', 2.7, '2024-03-01', 3, 'GE MR750'),
  tScore('t2', 'p2', '38267-1', -0.8, '2024-04-01'),
  // p3: no DXA: not in the DXA cohort. Subsidence (T84.226A) four months after the score.
  score('s3', 'p3', 3.3, '2024-03-05', 3),
  condition('c3', 'p3', 'T84.226A', '2024-07-05'),
  // p4: unknown field strength kept as null.
  score('s4', 'p4', 3.0, '2024-05-01', null),
  tScore('t4', 'p4', '38267-1', -2.5, '2024-05-02'),
  // p5: no subsidence, window elapsed: non-event observed to the window's end.
  score('s5', 'p5', 2.9, '2024-01-10', 3),
  // p6: scored last month: its outcome is not known yet, left out of the subsidence cohort.
  score('s6', 'p6', 3.1, '2026-11-01', 3),
];

let fhir: TestFhirServer;
beforeAll(async () => {
  const seed: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: resources.map((resource) => ({ resource })),
  };
  fhir = await startFhirServer({ seed: [seed], defaultPageSize: 2, maxPageSize: 2 });
});
afterAll(async () => {
  await fhir.stop();
});

const base = () => ({
  baseUrl: fhir.baseUrl,
  token: 'test-token',
  metric: 'vbq-l1-l4' as const,
  kb: shippedKnowledgeBase(),
  now: new Date('2026-11-30T00:00:00Z'),
  maxGapMonths: 12,
});

describe('FHIR cohort input', () => {
  it('DXA reference: earliest score per patient, the closest exam, event when its lowest T-score <= -2.5', async () => {
    const rows = await fetchCohortFromFhir({
      ...base(),
      outcomeName: 'osteoporosis-dxa',
      outcome: shippedOutcomes().outcomes['osteoporosis-dxa']!,
    });
    const byPatient = Object.fromEntries(rows.map((r) => [r.patient, r]));
    expect(Object.keys(byPatient).sort()).toEqual(['p1', 'p2', 'p4']);
    expect(byPatient.p1).toMatchObject({
      value: 3.6,
      measuredOn: '2024-02-01',
      fieldStrengthT: 1.5,
      scanner: 'Siemens Aera',
      event: true,
      outcomeOn: '2024-02-20',
    });
    expect(byPatient.p2).toMatchObject({ event: false, fieldStrengthT: 3, scanner: 'GE MR750' });
    expect(byPatient.p4).toMatchObject({ event: true, fieldStrengthT: null, scanner: null });
    // Paging was followed (pages of 2) and the bearer token sent with every request.
    expect(fhir.requests.length).toBeGreaterThan(4);
    expect(fhir.requests.every((r) => r.authorization === 'Bearer test-token')).toBe(true);
  });

  it('clinical events: a matching Condition is an event; no event counts only once the window has passed', async () => {
    const rows = await fetchCohortFromFhir({
      ...base(),
      outcomeName: 'cage-subsidence',
      outcome: shippedOutcomes().outcomes['cage-subsidence']!,
    });
    const byPatient = Object.fromEntries(rows.map((r) => [r.patient, r]));
    expect(byPatient.p3).toMatchObject({ event: true, outcomeOn: '2024-07-05', outcome: 'cage-subsidence' });
    expect(byPatient.p5).toMatchObject({ event: false, measuredOn: '2024-01-10' });
    expect(byPatient.p5!.outcomeOn.startsWith('2025-01')).toBe(true);
    expect(byPatient.p6).toBeUndefined();
  });

  it('recent scores for the drift watch: every valid score since the date', async () => {
    const recent = await fhirRecentScores({ baseUrl: fhir.baseUrl, metric: 'vbq-l1-l4' })(
      new Date('2025-01-01'),
    );
    expect(recent.map((r) => r.value).sort()).toEqual([3.1, 3.9]);
  });

  it('an unreachable server is an input error, not a crash', async () => {
    await expect(
      fetchCohortFromFhir({
        ...base(),
        baseUrl: 'http://127.0.0.1:9/fhir',
        outcomeName: 'osteoporosis-dxa',
        outcome: shippedOutcomes().outcomes['osteoporosis-dxa']!,
        timeoutMs: 2000,
      }),
    ).rejects.toBeInstanceOf(FhirCohortError);
  });
});
