/**
 * What the service itself emits conforms: imaging Observations for every metric and the ServiceRequests
 * card suggestions create, built by the real builders and validated against base R4, the claimed
 * profile and required bindings.
 */
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { suggestedOrder, type SuggestedOrderKind } from '../../src/cards/service-requests.js';
import { createProfileValidator, type ProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { buildObservation } from '../../src/imaging/observations.js';
import type { LevelValue, MeasurementResult, Metric } from '../../src/imaging/measurement.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';

let validator: ProfileValidator;
beforeAll(() => {
  validator = createProfileValidator();
});

function level(name: LevelValue['level'], si: number): LevelValue {
  return { level: name, si, pixelCount: 120, sd: 12, median: si, roiIds: [`roi-${name}`] };
}

const LEVELS: Record<Metric, LevelValue[]> = {
  'vbq-l1-l4': [level('L1', 402), level('L2', 415), level('L3', 399), level('L4', 421)],
  ebq: [level('L3', 510), level('L4', 530)],
  'vbq-s1': [level('S1', 380)],
  'c-vbq': [level('C3', 330), level('C4', 334), level('C5', 338), level('C6', 342)],
  'ct-hu-l1': [level('L1', 98)],
};

function result(metric: Metric, overrides: Partial<MeasurementResult> = {}): MeasurementResult {
  const isCt = metric === 'ct-hu-l1';
  return {
    metric,
    value: isCt ? 98 : 3.12,
    unit: isCt ? 'HU' : '1',
    levels: LEVELS[metric],
    csf: isCt
      ? null
      : {
          level: metric === 'c-vbq' ? 'C2' : 'L3',
          si: 131,
          pixelCount: 40,
          sd: 5,
          median: 131,
          roiIds: ['csf'],
        },
    exclusions: [],
    validity: { valid: true, reasons: [] },
    acquisition: {
      modality: isCt ? 'CT' : 'MR',
      fieldStrengthT: isCt ? undefined : 1.5,
      scanner: 'SIEMENS Aera',
      trMs: isCt ? undefined : 550,
      teMs: isCt ? undefined : 11,
      pixelBandwidth: isCt ? undefined : 190,
      sequence: isCt ? 'CT' : 'T1 TSE',
      seriesDate: '20260302',
      acquisitionDateTime: '2026-03-02T09:14:00',
      timezoneOffset: 'Z',
    },
    studyInstanceUID: '1.2.826.0.1.3680043.8.498.10001',
    seriesInstanceUID: '1.2.826.0.1.3680043.8.498.10001.1',
    roiSource: {
      kind: 'sr',
      srSopInstanceUID: '1.2.826.0.1.3680043.8.498.20001',
      roiDigest: 'ab'.repeat(32),
    },
    patient: { dicomPatientId: 'PID-1' },
    imageSopInstanceUIDs: ['1.2.826.0.1.3680043.8.498.30001'],
    ...overrides,
  };
}

describe('imaging Observations conform to their profiles', () => {
  const metrics: Metric[] = ['vbq-l1-l4', 'ebq', 'vbq-s1', 'c-vbq', 'ct-hu-l1'];

  it.each(metrics)('%s', (metric) => {
    const obs = buildObservation(result(metric), { patientReference: 'Patient/p1' });
    expect(obs.meta?.profile?.[0]).toMatch(
      /^https:\/\/spine-bone-health-cds\.org\/fhir\/StructureDefinition\//,
    );
    expect(validator.validate(obs)).toEqual([]);
  });

  it('with a known ImagingStudy, excluded levels and field strength missing from the header', () => {
    const r = result('vbq-l1-l4', {
      levels: [level('L1', 402), level('L3', 399), level('L4', 421)],
      exclusions: [{ level: 'L2', reason: 'fracture' }],
      roiSource: { kind: 'json', roiDigest: 'cd'.repeat(32) },
    });
    r.acquisition = { ...r.acquisition, fieldStrengthT: undefined };
    const obs = buildObservation(r, {
      patientReference: 'Patient/p1',
      imagingStudyReference: 'ImagingStudy/s1',
    });
    expect(validator.validate(obs)).toEqual([]);
  });

  it('a tampered imaging Observation is caught', () => {
    const obs = buildObservation(result('vbq-l1-l4'), { patientReference: 'Patient/p1' });
    obs.component = obs.component?.filter((c) => c.code.coding?.[0]?.code !== 'csf-si');
    expect(validator.validate(obs).some((i) => /csfSi/.test(i.message))).toBe(true);
  });
});

describe('card ServiceRequests conform to bone-health-service-request', () => {
  const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
  const kinds: SuggestedOrderKind[] = ['dxa', 'referral', 'vitamin-d'];

  it.each(kinds)('%s', (kind) => {
    const order = suggestedOrder(
      kb,
      kind,
      { patientId: 'p1', userId: 'Practitioner/u1', now: new Date('2026-03-03T08:00:00Z') },
      'VBQ 3.42 above the 3.28 TLIF cutoff',
    );
    expect(validator.validate(order)).toEqual([]);
  });
});
