import { createHash } from 'node:crypto';
import type { Observation, ObservationComponent, Reference } from 'fhir/r4.js';
import type { Level } from './roi.js';
import type { MeasurementResult, Metric } from './measurement.js';

export const FHIR_BASE = 'https://spine-bone-health-cds.org/fhir';
export const BONE_QUALITY_CS = `${FHIR_BASE}/CodeSystem/bone-quality`;
export const MEASUREMENT_IDENTIFIER_SYSTEM = `${FHIR_BASE}/identifier/bone-quality-measurement`;
const UCUM = 'http://unitsofmeasure.org';
const DATA_ABSENT = 'http://terminology.hl7.org/CodeSystem/data-absent-reason';

const PROFILE: Record<Metric, string> = {
  'vbq-l1-l4': 'vbq-lumbar',
  ebq: 'ebq',
  'vbq-s1': 'vbq-s1',
  'c-vbq': 'c-vbq',
  'ct-hu-l1': 'ct-hu-l1',
};

/** Displays for the bone-quality CodeSystem codes this module writes. */
export const BONE_QUALITY_DISPLAY: Record<string, string> = {
  'vbq-l1-l4': 'Vertebral bone quality score L1-L4',
  ebq: 'Endplate bone quality score',
  'vbq-s1': 'S1 vertebral bone quality score',
  'c-vbq': 'Cervical vertebral bone quality score C3-C6',
  'ct-hu-l1': 'L1 trabecular attenuation (CT)',
  'si-endplate': 'Mean endplate signal intensity',
  'csf-si': 'CSF signal intensity',
  'csf-level': 'CSF reference level',
  'levels-used': 'Levels used',
  'excluded-levels': 'Excluded levels',
  'field-strength': 'Magnetic field strength',
  sequence: 'MR sequence',
  'contrast-enhanced': 'Contrast enhanced',
  'repetition-time': 'Repetition time',
  'echo-time': 'Echo time',
  'pixel-bandwidth': 'Pixel bandwidth',
  scanner: 'Scanner',
};

function levelDisplay(level: Level): string {
  return `Signal intensity ${level}`;
}

function coding(code: string): { coding: [{ system: string; code: string; display: string }]; text: string } {
  const display =
    BONE_QUALITY_DISPLAY[code] ??
    (code.startsWith('si-') ? levelDisplay(code.slice(3).toUpperCase() as Level) : code);
  return { coding: [{ system: BONE_QUALITY_CS, code, display }], text: display };
}

function unitless(value: number): Observation['valueQuantity'] {
  return { value, unit: '1', system: UCUM, code: '1' };
}

/** The deterministic measurement identifier: hex sha256 of `StudyInstanceUID|roiSource|metric`. */
export function measurementIdentifier(r: MeasurementResult): { system: string; value: string } {
  const source =
    r.roiSource.kind === 'sr' && r.roiSource.srSopInstanceUID
      ? `sr:${r.roiSource.srSopInstanceUID}`
      : `json:${r.roiSource.roiDigest}`;
  const value = createHash('sha256').update(`${r.studyInstanceUID}|${source}|${r.metric}`).digest('hex');
  return { system: MEASUREMENT_IDENTIFIER_SYSTEM, value };
}

/** FHIR dateTime for the acquisition: a time is only emitted together with a known UTC offset. */
export function effectiveDateTime(r: MeasurementResult, defaultTimezone?: string): string | undefined {
  const dt = r.acquisition.acquisitionDateTime ?? r.acquisition.seriesDate;
  if (!dt) return undefined;
  if (!dt.includes('T')) return dt;
  const tz = r.acquisition.timezoneOffset ?? defaultTimezone;
  return tz ? `${dt}${tz === 'Z' ? 'Z' : tz}` : dt.slice(0, 10);
}

export interface ObservationOptions {
  /**
   * The Patient: "Patient/<id>" when already resolved, or the DICOM PatientID as an identifier, which the
   * write-back resolves on the FHIR server at write time.
   */
  patientReference: string | { identifier: { system: string; value: string } };
  /** "ImagingStudy/<id>" when the ImagingStudy is known on the FHIR server. */
  imagingStudyReference?: string;
  /** UTC offset ("+01:00", "Z") for DICOM times that carry none; without it only the date is written. */
  defaultTimezone?: string;
}

/**
 * Builds the FHIR Observation for one valid measurement, in the shared shape (profile per metric,
 * deterministic identifier, components for levels, CSF and acquisition facts, derivedFrom study and SR).
 * Throws when the result was refused: a refused measurement is never written as a number.
 */
export function buildObservation(r: MeasurementResult, opts: ObservationOptions): Observation {
  if (!r.validity.valid || r.value === null) {
    throw new Error(`refused ${r.metric} measurement cannot become an Observation`);
  }
  const isCt = r.metric === 'ct-hu-l1';
  const derivedFrom: Reference[] = [
    opts.imagingStudyReference
      ? { reference: opts.imagingStudyReference, type: 'ImagingStudy' }
      : {
          type: 'ImagingStudy',
          identifier: { system: 'urn:dicom:uid', value: `urn:oid:${r.studyInstanceUID}` },
        },
  ];
  if (r.roiSource.kind === 'sr' && r.roiSource.srSopInstanceUID) {
    derivedFrom.push({
      type: 'DocumentReference',
      identifier: { system: 'urn:dicom:uid', value: `urn:oid:${r.roiSource.srSopInstanceUID}` },
    });
  }
  const obs: Observation = {
    resourceType: 'Observation',
    meta: { profile: [`${FHIR_BASE}/StructureDefinition/${PROFILE[r.metric]}`] },
    identifier: [measurementIdentifier(r)],
    status: 'final',
    category: [
      {
        coding: [
          {
            system: 'http://terminology.hl7.org/CodeSystem/observation-category',
            code: 'imaging',
            display: 'Imaging',
          },
        ],
      },
    ],
    code: coding(r.metric),
    subject:
      typeof opts.patientReference === 'string'
        ? { reference: opts.patientReference }
        : { type: 'Patient', identifier: opts.patientReference.identifier },
    valueQuantity: isCt ? { value: r.value, unit: 'HU', system: UCUM, code: "[hnsf'U]" } : unitless(r.value),
    derivedFrom,
    component: components(r, isCt),
  };
  const eff = effectiveDateTime(r, opts.defaultTimezone);
  if (eff) obs.effectiveDateTime = eff;
  return obs;
}

function components(r: MeasurementResult, isCt: boolean): ObservationComponent[] {
  const out: ObservationComponent[] = [];
  const a = r.acquisition;
  // The si-* components are unitless MR signal intensities; a CT value carries only its HU valueQuantity.
  if (!isCt) {
    // Several endplate ROIs can share a level: one component per level, averaging them.
    const perLevel = new Map<Level, number[]>();
    for (const l of r.levels) perLevel.set(l.level, [...(perLevel.get(l.level) ?? []), l.si]);
    for (const [level, sis] of perLevel) {
      out.push({
        code: coding(`si-${level.toLowerCase()}`),
        valueQuantity: unitless(sis.reduce((s, x) => s + x, 0) / sis.length),
      });
    }
    if (r.metric === 'ebq' && r.levels.length > 0) {
      out.push({
        code: coding('si-endplate'),
        valueQuantity: unitless(r.levels.reduce((s, l) => s + l.si, 0) / r.levels.length),
      });
    }
    if (r.csf) {
      out.push({ code: coding('csf-si'), valueQuantity: unitless(r.csf.si) });
      out.push({ code: coding('csf-level'), valueString: r.csf.level });
    }
  }
  out.push({
    code: coding('levels-used'),
    valueString: [...new Set(r.levels.map((l) => l.level))].join(','),
  });
  if (r.exclusions.length > 0) {
    out.push({
      code: coding('excluded-levels'),
      valueString: r.exclusions.map((e) => `${e.level}: ${e.reason}`).join('; '),
    });
  }
  if (!isCt) {
    out.push(
      a.fieldStrengthT !== undefined
        ? {
            code: coding('field-strength'),
            valueQuantity: { value: a.fieldStrengthT, unit: 'T', system: UCUM, code: 'T' },
          }
        : {
            code: coding('field-strength'),
            dataAbsentReason: { coding: [{ system: DATA_ABSENT, code: 'unknown' }] },
          },
    );
    out.push({ code: coding('sequence'), valueString: a.sequence });
    out.push({ code: coding('contrast-enhanced'), valueBoolean: a.contrastAgent !== undefined });
    if (a.trMs !== undefined) {
      out.push({
        code: coding('repetition-time'),
        valueQuantity: { value: a.trMs, unit: 'ms', system: UCUM, code: 'ms' },
      });
    }
    if (a.teMs !== undefined) {
      out.push({
        code: coding('echo-time'),
        valueQuantity: { value: a.teMs, unit: 'ms', system: UCUM, code: 'ms' },
      });
    }
    if (a.pixelBandwidth !== undefined) {
      out.push({
        code: coding('pixel-bandwidth'),
        valueQuantity: { value: a.pixelBandwidth, unit: 'Hz/pixel', system: UCUM, code: 'Hz' },
      });
    }
  }
  if (a.scanner) out.push({ code: coding('scanner'), valueString: a.scanner });
  return out;
}
