/**
 * Header interpretation: from a naturalized dataset to the facts the measurement needs (identity,
 * acquisition, geometry, pixel format), never guessing an absent attribute.
 */
import type { NaturalizedDataset } from 'dcmjs';
import { num, nums, seq, str, strs } from './attributes.js';
import { DicomReadError } from './read-error.js';

export type ImagePlane = 'sagittal' | 'coronal' | 'axial' | 'oblique' | 'unknown';

/** The header facts the measurement needs; absent attributes stay undefined, never guessed. */
export interface DicomHeader {
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  modality: string;
  patientId?: string;
  instanceNumber?: number;
  seriesDescription?: string;
  protocolName?: string;
  sequenceName?: string;
  studyDescription?: string;
  bodyPartExamined?: string;
  scanningSequence: string[];
  sequenceVariant: string[];
  scanOptions: string[];
  inversionTimeMs?: number;
  echoTrainLength?: number;
  /** ContrastBolusAgent text, or "(ContrastBolusAgentSequence)" when only the coded form is present. */
  contrastAgent?: string;
  imageOrientation?: number[];
  plane: ImagePlane;
  fieldStrengthT?: number;
  manufacturer?: string;
  model?: string;
  trMs?: number;
  teMs?: number;
  pixelBandwidthHz?: number;
  /** Local acquisition date-time as ISO 8601 without offset, e.g. 2023-11-01T15:53:27.157. */
  acquisitionDateTime?: string;
  /** Offset from TimezoneOffsetFromUTC (0008,0201), e.g. "+01:00", when the file states it. */
  timezoneOffset?: string;
  seriesDate?: string;
  studyDate?: string;
  rows: number;
  columns: number;
  numberOfFrames: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
  photometricInterpretation?: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  hasPixelData: boolean;
  /**
   * Patient and study module attributes as read (naturalized values), copied into derived objects such as
   * our SR so the PACS files them with the source study. Patient data: never log.
   */
  patientStudy: Record<string, unknown>;
}

const PATIENT_STUDY_KEYS = [
  'PatientName',
  'PatientID',
  'IssuerOfPatientID',
  'PatientBirthDate',
  'PatientSex',
  'StudyDate',
  'StudyTime',
  'StudyID',
  'AccessionNumber',
  'ReferringPhysicianName',
  'StudyDescription',
  'SpecificCharacterSet',
] as const;

function dicomDate(d: string | undefined): string | undefined {
  if (!d) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(d.replace(/[.-]/g, ''));
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

function dicomTime(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const m = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(t.replace(/:/g, '').trim());
  if (!m) return undefined;
  const frac = m[4] ? `.${m[4].padEnd(3, '0').slice(0, 3)}` : '';
  return `${m[1]}:${m[2] ?? '00'}:${m[3] ?? '00'}${frac}`;
}

function dicomOffset(o: string | undefined): string | undefined {
  const m = o ? /^([+-])(\d{2})(\d{2})$/.exec(o) : null;
  return m ? `${m[1]}${m[2]}:${m[3]}` : undefined;
}

function acquisitionDateTime(ds: NaturalizedDataset): { dt?: string; tz?: string } {
  const adt = str(ds, 'AcquisitionDateTime');
  if (adt) {
    const m = /^(\d{8})(\d{2,6}(?:\.\d{1,6})?)?([+-]\d{4})?$/.exec(adt);
    if (m) {
      const d = dicomDate(m[1]);
      const t = dicomTime(m[2]);
      if (d) return { dt: t ? `${d}T${t}` : d, tz: dicomOffset(m[3]) };
    }
  }
  const tz = dicomOffset(str(ds, 'TimezoneOffsetFromUTC'));
  for (const [dk, tk] of [
    ['AcquisitionDate', 'AcquisitionTime'],
    ['ContentDate', 'ContentTime'],
    ['SeriesDate', 'SeriesTime'],
    ['StudyDate', 'StudyTime'],
  ] as const) {
    const d = dicomDate(str(ds, dk));
    if (d) {
      const t = dicomTime(str(ds, tk));
      return { dt: t ? `${d}T${t}` : d, tz };
    }
  }
  return { tz };
}

/** Classifies the image plane from ImageOrientationPatient by the dominant axis of the slice normal. */
export function planeFromOrientation(iop: number[] | undefined, minCosine: number): ImagePlane {
  if (!iop || iop.length !== 6) return 'unknown';
  const [r0, r1, r2, c0, c1, c2] = iop as [number, number, number, number, number, number];
  const n = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0] as const;
  const len = Math.hypot(n[0], n[1], n[2]);
  if (!(len > 0)) return 'unknown';
  const a = n.map((x) => Math.abs(x) / len) as [number, number, number];
  const max = Math.max(...a);
  if (max < minCosine) return 'oblique';
  // Patient x = left-right (sagittal normal), y = anterior-posterior (coronal), z = head-foot (axial).
  return a[0] === max ? 'sagittal' : a[1] === max ? 'coronal' : 'axial';
}

function orientation(ds: NaturalizedDataset): number[] | undefined {
  const direct = nums(ds, 'ImageOrientationPatient');
  if (direct) return direct;
  // Enhanced MR keeps it in the functional groups.
  for (const groupKey of ['SharedFunctionalGroupsSequence', 'PerFrameFunctionalGroupsSequence']) {
    const group = seq(ds, groupKey)[0];
    const plane = group ? seq(group, 'PlaneOrientationSequence')[0] : undefined;
    const v = plane ? nums(plane, 'ImageOrientationPatient') : undefined;
    if (v) return v;
  }
  return undefined;
}

function contrastAgent(ds: NaturalizedDataset): string | undefined {
  const agent = str(ds, 'ContrastBolusAgent');
  if (agent && !/^(none|no|n\/a|na|-)$/i.test(agent)) return agent;
  if (seq(ds, 'ContrastBolusAgentSequence').length > 0) return '(ContrastBolusAgentSequence)';
  return undefined;
}

/** Default minimum |cosine| of the slice normal with a patient axis to name the plane. */
export const DEFAULT_PLANE_MIN_COSINE = 0.8;

function required(ds: NaturalizedDataset, key: string, fileName?: string): string {
  const v = str(ds, key);
  if (!v) throw new DicomReadError('missing-attribute', `required attribute ${key} is missing`, fileName);
  return v;
}

/** Interprets a parsed dataset's header; throws {@link DicomReadError} when a required UID is missing. */
export function interpretHeader(
  dataset: NaturalizedDataset,
  transferSyntaxUID: string,
  opts: { fileName?: string; planeMinCosine?: number } = {},
): DicomHeader {
  const { fileName } = opts;
  const { dt, tz } = acquisitionDateTime(dataset);
  const iop = orientation(dataset);
  return {
    transferSyntaxUID,
    sopClassUID: required(dataset, 'SOPClassUID', fileName),
    sopInstanceUID: required(dataset, 'SOPInstanceUID', fileName),
    studyInstanceUID: required(dataset, 'StudyInstanceUID', fileName),
    seriesInstanceUID: required(dataset, 'SeriesInstanceUID', fileName),
    modality: (str(dataset, 'Modality') ?? '').toUpperCase(),
    patientId: str(dataset, 'PatientID'),
    instanceNumber: num(dataset, 'InstanceNumber'),
    seriesDescription: str(dataset, 'SeriesDescription'),
    protocolName: str(dataset, 'ProtocolName'),
    sequenceName: str(dataset, 'SequenceName') ?? str(dataset, 'PulseSequenceName'),
    studyDescription: str(dataset, 'StudyDescription'),
    bodyPartExamined: str(dataset, 'BodyPartExamined'),
    scanningSequence: strs(dataset, 'ScanningSequence'),
    sequenceVariant: strs(dataset, 'SequenceVariant'),
    scanOptions: strs(dataset, 'ScanOptions'),
    inversionTimeMs: num(dataset, 'InversionTime'),
    echoTrainLength: num(dataset, 'EchoTrainLength'),
    contrastAgent: contrastAgent(dataset),
    imageOrientation: iop,
    plane: planeFromOrientation(iop, opts.planeMinCosine ?? DEFAULT_PLANE_MIN_COSINE),
    fieldStrengthT: num(dataset, 'MagneticFieldStrength'),
    manufacturer: str(dataset, 'Manufacturer'),
    model: str(dataset, 'ManufacturerModelName'),
    trMs: num(dataset, 'RepetitionTime'),
    teMs: num(dataset, 'EchoTime'),
    pixelBandwidthHz: num(dataset, 'PixelBandwidth'),
    acquisitionDateTime: dt,
    timezoneOffset: tz,
    seriesDate: dicomDate(str(dataset, 'SeriesDate')),
    studyDate: dicomDate(str(dataset, 'StudyDate')),
    rows: num(dataset, 'Rows') ?? 0,
    columns: num(dataset, 'Columns') ?? 0,
    numberOfFrames: num(dataset, 'NumberOfFrames') ?? 1,
    bitsAllocated: num(dataset, 'BitsAllocated') ?? 0,
    bitsStored: num(dataset, 'BitsStored') ?? num(dataset, 'BitsAllocated') ?? 0,
    pixelRepresentation: num(dataset, 'PixelRepresentation') ?? 0,
    samplesPerPixel: num(dataset, 'SamplesPerPixel') ?? 1,
    photometricInterpretation: str(dataset, 'PhotometricInterpretation'),
    rescaleSlope: num(dataset, 'RescaleSlope') ?? 1,
    rescaleIntercept: num(dataset, 'RescaleIntercept') ?? 0,
    hasPixelData: dataset.PixelData !== undefined,
    patientStudy: Object.fromEntries(
      PATIENT_STUDY_KEYS.filter((k) => dataset[k] !== undefined).map((k) => [k, dataset[k]]),
    ),
  };
}
