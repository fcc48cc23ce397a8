import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BONE_QUALITY_CS,
  MEASUREMENT_IDENTIFIER_SYSTEM,
  buildObservation,
  effectiveDateTime,
  measurementIdentifier,
} from '../../src/imaging/observations.js';
import { parseRoiJson } from '../../src/imaging/roi.js';
import { ifNoneExistFor } from '../../src/writeback/observation-writer.js';
import { measureSeries } from '../../src/imaging/vbq.js';
import type { MeasurementResult } from '../../src/imaging/measurement.js';
import { blockByName, ellipseIn, makePhantom } from '../helpers/phantom.js';
import type { PhantomOptions } from '../helpers/phantom.js';

async function results(opts: PhantomOptions = {}, exclude?: string): Promise<MeasurementResult[]> {
  const p = await makePhantom({ slices: 1, endplate: 300, ...opts });
  const sop = p.sopInstanceUIDs[0]!;
  const b = (n: string) => blockByName(p, n);
  const c = b('CSF');
  return measureSeries({
    files: p.files,
    rois: parseRoiJson({
      rois: [
        ...['L1', 'L2', 'L3', 'L4', 'S1'].map((l) => ({
          label: l,
          shape: 'ellipse',
          points: ellipseIn(b(l), 18, 4),
          sopInstanceUID: sop,
        })),
        ...(exclude
          ? [{ label: 'L5', shape: 'ellipse', points: ellipseIn(b('L5'), 18, 4), sopInstanceUID: sop }]
          : []),
        {
          label: 'L3',
          kind: 'endplate',
          shape: 'rectangle',
          points: [
            [b('L3').x0 + 4, b('L3').y0],
            [b('L3').x1 - 4, b('L3').y0 + 2],
          ],
          sopInstanceUID: sop,
        },
        {
          label: 'CSF',
          level: 'L3',
          shape: 'rectangle',
          points: [
            [c.x0 + 2, b('L3').y0 + 2],
            [c.x1 - 2, b('L3').y1 - 2],
          ],
          sopInstanceUID: sop,
        },
        ...(exclude
          ? [
              {
                label: 'L2',
                shape: 'rectangle',
                points: [
                  [20, b('L2').y0 + 4],
                  [30, b('L2').y0 + 8],
                ],
                sopInstanceUID: sop,
                exclude,
              },
            ]
          : []),
      ],
    }),
  });
}

const byCode = (obs: ReturnType<typeof buildObservation>, code: string) =>
  obs.component?.filter((c) => c.code.coding?.[0]?.code === code) ?? [];

describe('buildObservation', () => {
  it('writes the shared VBQ Observation shape', async () => {
    const [vbq] = await results();
    const obs = buildObservation(vbq!, { patientReference: 'Patient/p1', defaultTimezone: '+01:00' });
    expect(obs).toMatchObject({
      resourceType: 'Observation',
      meta: { profile: ['https://spine-bone-health-cds.org/fhir/StructureDefinition/vbq-lumbar'] },
      status: 'final',
      category: [
        {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging' }],
        },
      ],
      code: {
        coding: [
          { system: BONE_QUALITY_CS, code: 'vbq-l1-l4', display: 'Vertebral bone quality score L1-L4' },
        ],
      },
      subject: { reference: 'Patient/p1' },
      effectiveDateTime: '2025-03-14T10:22:33.250+01:00',
      valueQuantity: { value: 2.5, unit: '1', system: 'http://unitsofmeasure.org', code: '1' },
      derivedFrom: [
        {
          type: 'ImagingStudy',
          identifier: { system: 'urn:dicom:uid', value: `urn:oid:${vbq!.studyInstanceUID}` },
        },
      ],
    });
    const expectedId = createHash('sha256')
      .update(`${vbq!.studyInstanceUID}|json:${vbq!.roiSource.roiDigest}|vbq-l1-l4`)
      .digest('hex');
    expect(obs.identifier).toEqual([{ system: MEASUREMENT_IDENTIFIER_SYSTEM, value: expectedId }]);
    expect(ifNoneExistFor(obs)).toBe(`identifier=${MEASUREMENT_IDENTIFIER_SYSTEM}|${expectedId}`);

    expect(['si-l1', 'si-l2', 'si-l3', 'si-l4'].map((c) => byCode(obs, c)[0]?.valueQuantity?.value)).toEqual([
      400, 420, 380, 440,
    ]);
    expect(byCode(obs, 'si-l1')[0]!.valueQuantity).toMatchObject({ unit: '1', code: '1' });
    expect(byCode(obs, 'csf-si')[0]!.valueQuantity?.value).toBe(164);
    expect(byCode(obs, 'csf-level')[0]!.valueString).toBe('L3');
    expect(byCode(obs, 'levels-used')[0]!.valueString).toBe('L1,L2,L3,L4');
    expect(byCode(obs, 'excluded-levels')).toEqual([]);
    expect(byCode(obs, 'field-strength')[0]!.valueQuantity).toEqual({
      value: 1.5,
      unit: 'T',
      system: 'http://unitsofmeasure.org',
      code: 'T',
    });
    expect(byCode(obs, 'sequence')[0]!.valueString).toBe('T1 TSE');
    expect(byCode(obs, 'contrast-enhanced')[0]!.valueBoolean).toBe(false);
    expect(byCode(obs, 'repetition-time')[0]!.valueQuantity).toMatchObject({ value: 550, code: 'ms' });
    expect(byCode(obs, 'echo-time')[0]!.valueQuantity).toMatchObject({ value: 11, code: 'ms' });
    expect(byCode(obs, 'pixel-bandwidth')[0]!.valueQuantity).toMatchObject({
      value: 190,
      unit: 'Hz/pixel',
      code: 'Hz',
    });
    expect(byCode(obs, 'scanner')[0]!.valueString).toBe('PhantomWorks Synthetic 1.5T');
  });

  it('writes exclusions, the SR in derivedFrom, and the other metrics with their profiles', async () => {
    const all = await results({}, 'fracture');
    const vbq = all.find((r) => r.metric === 'vbq-l1-l4')!;
    const withSr: MeasurementResult = {
      ...vbq,
      roiSource: { kind: 'sr', srSopInstanceUID: '1.2.3.4', roiDigest: vbq.roiSource.roiDigest },
    };
    const obs = buildObservation(withSr, {
      patientReference: 'Patient/p1',
      imagingStudyReference: 'ImagingStudy/s1',
    });
    expect(obs.derivedFrom).toEqual([
      { reference: 'ImagingStudy/s1', type: 'ImagingStudy' },
      { type: 'DocumentReference', identifier: { system: 'urn:dicom:uid', value: 'urn:oid:1.2.3.4' } },
    ]);
    expect(byCode(obs, 'excluded-levels')[0]!.valueString).toBe('L2: fracture');
    expect(byCode(obs, 'levels-used')[0]!.valueString).toBe('L1,L3,L4');
    // The SR-based identifier is keyed by the SR, not the ROI digest.
    expect(obs.identifier![0]!.value).toBe(
      createHash('sha256').update(`${vbq.studyInstanceUID}|sr:1.2.3.4|vbq-l1-l4`).digest('hex'),
    );

    const ebq = buildObservation(
      all.find((r) => r.metric === 'ebq')!,
      { patientReference: 'Patient/p1' },
    );
    expect(ebq.meta?.profile).toEqual(['https://spine-bone-health-cds.org/fhir/StructureDefinition/ebq']);
    expect(byCode(ebq, 'si-endplate')[0]!.valueQuantity?.value).toBe(300);
    expect(byCode(ebq, 'si-l3')[0]!.valueQuantity?.value).toBe(300);
    const s1 = buildObservation(
      all.find((r) => r.metric === 'vbq-s1')!,
      { patientReference: 'Patient/p1' },
    );
    expect(s1.meta?.profile?.[0]).toMatch(/\/vbq-s1$/);
    expect(s1.valueQuantity?.value).toBe(500 / 164);
    // One identifier per metric.
    expect(new Set(all.map((r) => measurementIdentifier(r).value)).size).toBe(all.length);
  });

  it('writes dataAbsentReason when the field strength is unknown, and never writes a refused result', async () => {
    const [noField] = await results({ header: { MagneticFieldStrength: '' } });
    const obs = buildObservation(noField!, { patientReference: 'Patient/p1' });
    expect(byCode(obs, 'field-strength')[0]).toMatchObject({
      dataAbsentReason: {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'unknown' }],
      },
    });
    expect(byCode(obs, 'field-strength')[0]!.valueQuantity).toBeUndefined();

    const [refused] = await results({
      header: { SeriesDescription: 't2_tse_sag', RepetitionTime: '3000', EchoTime: '100' },
    });
    expect(refused!.validity.valid).toBe(false);
    expect(() => buildObservation(refused!, { patientReference: 'Patient/p1' })).toThrow(/refused/);
  });

  it('writes a time only with a known UTC offset', async () => {
    const [r] = await results();
    expect(effectiveDateTime(r!)).toBe('2025-03-14');
    expect(effectiveDateTime(r!, 'Z')).toBe('2025-03-14T10:22:33.250Z');
    const withTz = { ...r!, acquisition: { ...r!.acquisition, timezoneOffset: '-05:00' } };
    expect(effectiveDateTime(withTz, '+01:00')).toBe('2025-03-14T10:22:33.250-05:00');
  });

  it('keeps the identifier stable across runs and changes it when the ROIs change', async () => {
    const [a] = await results();
    const [b] = await results();
    const [c] = await results({}, 'fracture');
    expect(measurementIdentifier(a!)).toEqual(measurementIdentifier(b!));
    expect(measurementIdentifier(a!).value).not.toBe(measurementIdentifier(c!).value);
  });
});
