import dcmjs from 'dcmjs';
import type { NaturalizedDataset } from 'dcmjs';
import codecs from 'dcmjs-codecs';
import { AppError } from '../errors.js';

/** Why a file could not be read; stable, for logs and tests (the HTTP code is always `invalid-dicom`). */
export type DicomReadFailure =
  | 'not-part10'
  | 'truncated-or-corrupt'
  | 'missing-attribute'
  | 'no-pixel-data'
  | 'unsupported-transfer-syntax'
  | 'unsupported-pixel-format'
  | 'pixel-decode-failed'
  | 'pixel-length-mismatch'
  | 'frame-out-of-range';

/** A DICOM file that cannot be used: maps to CLI exit 1 and HTTP 400 `invalid-dicom`. */
export class DicomReadError extends AppError {
  readonly reason: DicomReadFailure;
  constructor(reason: DicomReadFailure, message: string, fileName?: string) {
    super('invalid-dicom', fileName ? `${fileName}: ${message}` : message, [`reason: ${reason}`]);
    this.name = 'DicomReadError';
    this.reason = reason;
  }
}

export const TRANSFER_SYNTAX = {
  implicitLittle: '1.2.840.10008.1.2',
  explicitLittle: '1.2.840.10008.1.2.1',
  deflatedExplicitLittle: '1.2.840.10008.1.2.1.99',
  explicitBig: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless57: '1.2.840.10008.1.2.4.57',
  jpegLossless70: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  j2kLossless: '1.2.840.10008.1.2.4.90',
  j2k: '1.2.840.10008.1.2.4.91',
  htj2kLossless: '1.2.840.10008.1.2.4.201',
  htj2kLosslessRpcl: '1.2.840.10008.1.2.4.202',
  htj2k: '1.2.840.10008.1.2.4.203',
} as const;

const UNCOMPRESSED = new Set<string>([
  TRANSFER_SYNTAX.implicitLittle,
  TRANSFER_SYNTAX.explicitLittle,
  TRANSFER_SYNTAX.deflatedExplicitLittle,
  TRANSFER_SYNTAX.explicitBig,
]);

type Decoder = 'rle' | 'jpeg' | 'jpegls' | 'j2k' | 'htj2k';
const DECODERS: Record<string, Decoder> = {
  [TRANSFER_SYNTAX.rle]: 'rle',
  [TRANSFER_SYNTAX.jpegBaseline]: 'jpeg',
  [TRANSFER_SYNTAX.jpegExtended]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLossless57]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLossless70]: 'jpeg',
  [TRANSFER_SYNTAX.jpegLsLossless]: 'jpegls',
  [TRANSFER_SYNTAX.jpegLsNearLossless]: 'jpegls',
  [TRANSFER_SYNTAX.j2kLossless]: 'j2k',
  [TRANSFER_SYNTAX.j2k]: 'j2k',
  [TRANSFER_SYNTAX.htj2kLossless]: 'htj2k',
  [TRANSFER_SYNTAX.htj2kLosslessRpcl]: 'htj2k',
  [TRANSFER_SYNTAX.htj2k]: 'htj2k',
};

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

/** A parsed Part-10 file: header facts plus the naturalized dataset (for SR reading). */
export interface ParsedDicom {
  header: DicomHeader;
  dataset: NaturalizedDataset;
  fileName?: string;
}

/** One decoded frame, modality-rescaled, row-major. */
export interface DicomFrame {
  width: number;
  height: number;
  values: Float64Array;
}

let logSilenced = false;
function silenceDcmjsLog(): void {
  if (logSilenced) return;
  logSilenced = true;
  // dcmjs logs every odd VR it fixes up; real files have many and the noise hides our own errors.
  dcmjs.log.setLevel('error');
  dcmjs.log.getLogger('validation.dcmjs').setLevel('silent');
}

function toArrayBuffer(buf: Uint8Array): ArrayBuffer {
  // Large files read by Node own their whole buffer: hand it over instead of copying it.
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) {
    return buf.buffer;
  }
  const out = new ArrayBuffer(buf.byteLength);
  new Uint8Array(out).set(buf);
  return out;
}

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a string attribute; empty strings count as absent. */
export function str(ds: NaturalizedDataset, key: string): string | undefined {
  const v = first(ds[key]);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const t = v.replace(/\0/g, '').trim();
    return t === '' ? undefined : t;
  }
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v) {
    const a = (v as { Alphabetic?: unknown }).Alphabetic;
    return typeof a === 'string' && a.trim() !== '' ? a.trim() : undefined;
  }
  return undefined;
}

/** Reads a numeric attribute (DS/IS/US/FD, possibly string-typed when the VR was UN). */
export function num(ds: NaturalizedDataset, key: string): number | undefined {
  const v = first(ds[key]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a multi-valued string attribute (CS). */
export function strs(ds: NaturalizedDataset, key: string): string[] {
  const v = ds[key];
  const arr = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return arr
    .flatMap((x) => (typeof x === 'string' ? x.split('\\') : []))
    .map((x) => x.trim().toUpperCase())
    .filter((x) => x !== '');
}

function nums(ds: NaturalizedDataset, key: string): number[] | undefined {
  const v = ds[key];
  if (!Array.isArray(v)) return undefined;
  const out = v.map((x) => (typeof x === 'number' ? x : Number(x)));
  return out.every((n) => Number.isFinite(n)) ? out : undefined;
}

/** Returns the items of a sequence attribute as datasets. */
export function seq(ds: NaturalizedDataset, key: string): NaturalizedDataset[] {
  const v = ds[key];
  const arr = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : [];
  return arr.filter(
    (x): x is NaturalizedDataset => typeof x === 'object' && x !== null && !ArrayBuffer.isView(x),
  );
}

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

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED = 0xffffffff;

/**
 * Walks the element structure (not the values) and returns a reason when an element runs past the end of
 * the file or a sequence is never closed. dcmjs silently zero-fills such files, which would yield a
 * plausible-looking but wrong image.
 */
export function findTruncation(buf: Uint8Array, transferSyntaxUID: string): string | undefined {
  if (
    transferSyntaxUID === TRANSFER_SYNTAX.explicitBig ||
    transferSyntaxUID === TRANSFER_SYNTAX.deflatedExplicitLittle
  ) {
    return undefined;
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const end = buf.byteLength;
  const datasetExplicit = transferSyntaxUID !== TRANSFER_SYNTAX.implicitLittle;
  class Truncated extends Error {}
  const walk = (start: number, explicitDefault: boolean, untilDelimiter: boolean, depth: number): number => {
    if (depth > 64) throw new Truncated('sequences nested deeper than 64 levels');
    let pos = start;
    while (pos + 8 <= end) {
      const group = view.getUint16(pos, true);
      const element = view.getUint16(pos + 2, true);
      if (group === 0xfffe) {
        const len = view.getUint32(pos + 4, true);
        pos += 8;
        if (element === 0xe00d || element === 0xe0dd) {
          if (untilDelimiter) return pos;
          continue;
        }
        if (len === UNDEFINED) pos = walk(pos, explicitDefault, true, depth + 1);
        else if (pos + len > end)
          throw new Truncated(`an item of ${len} bytes runs past the end of the file`);
        else pos += len;
        continue;
      }
      const explicit = group === 0x0002 ? true : explicitDefault;
      let len: number;
      let vr = '';
      if (explicit) {
        vr = String.fromCharCode(buf[pos + 4]!, buf[pos + 5]!);
        if (LONG_VRS.has(vr)) {
          if (pos + 12 > end) throw new Truncated('an element header is cut off');
          len = view.getUint32(pos + 8, true);
          pos += 12;
        } else {
          len = view.getUint16(pos + 6, true);
          pos += 8;
        }
      } else {
        len = view.getUint32(pos + 4, true);
        pos += 8;
      }
      if (len === UNDEFINED) {
        // An undefined-length UN element holds implicit VR little endian content.
        pos = walk(pos, vr === 'UN' ? false : explicit, true, depth + 1);
      } else if (pos + len > end) {
        const tag = `(${group.toString(16).padStart(4, '0')},${element.toString(16).padStart(4, '0')})`;
        throw new Truncated(`element ${tag} needs ${len} bytes, only ${end - pos} remain`);
      } else {
        pos += len;
      }
    }
    if (untilDelimiter) throw new Truncated('a sequence or encapsulated pixel data is not closed');
    if (pos !== end && end - pos >= 4) throw new Truncated('trailing bytes do not form an element');
    return pos;
  };
  try {
    walk(132, datasetExplicit, false, 0);
    return undefined;
  } catch (err) {
    if (err instanceof Truncated) return err.message;
    throw err;
  }
}

/** Default minimum |cosine| of the slice normal with a patient axis to name the plane. */
export const DEFAULT_PLANE_MIN_COSINE = 0.8;

function required(ds: NaturalizedDataset, key: string, fileName?: string): string {
  const v = str(ds, key);
  if (!v) throw new DicomReadError('missing-attribute', `required attribute ${key} is missing`, fileName);
  return v;
}

/**
 * Parses a DICOM Part-10 file. Throws {@link DicomReadError} (never anything else) on malformed input.
 * With `headerOnly` the pixel data is not read, which is much faster for slices without ROIs.
 */
export function parseDicom(
  buf: Uint8Array,
  opts: { headerOnly?: boolean; fileName?: string; planeMinCosine?: number } = {},
): ParsedDicom {
  silenceDcmjsLog();
  const { fileName } = opts;
  if (buf.byteLength < 132 || String.fromCharCode(buf[128]!, buf[129]!, buf[130]!, buf[131]!) !== 'DICM') {
    throw new DicomReadError('not-part10', 'not a DICOM Part-10 file (no "DICM" preamble)', fileName);
  }
  let dataset: NaturalizedDataset;
  let transferSyntaxUID: string;
  try {
    const dict = dcmjs.data.DicomMessage.readFile(
      toArrayBuffer(buf),
      opts.headerOnly ? { untilTag: '7FE00010', includeUntilTagValue: false } : {},
    );
    const meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta);
    transferSyntaxUID = str(meta, 'TransferSyntaxUID') ?? '';
    dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new DicomReadError('truncated-or-corrupt', `cannot parse the dataset (${msg})`, fileName);
  }
  if (!transferSyntaxUID)
    throw new DicomReadError('missing-attribute', 'no TransferSyntaxUID in the file meta', fileName);
  const truncation = findTruncation(buf, transferSyntaxUID);
  if (truncation)
    throw new DicomReadError(
      'truncated-or-corrupt',
      `the file is truncated or corrupt: ${truncation}`,
      fileName,
    );

  const { dt, tz } = acquisitionDateTime(dataset);
  const iop = orientation(dataset);
  const header: DicomHeader = {
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
  return { header, dataset, fileName };
}

type CodecsModule = typeof codecs;
let codecsReady: Promise<CodecsModule> | undefined;

/** Initialises the WASM codecs once, on first use of a compressed file. */
export function ensureCodecs(): Promise<CodecsModule> {
  codecsReady ??= codecs.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false }).then(
    () => codecs,
    (err: unknown) => {
      codecsReady = undefined;
      throw err;
    },
  );
  return codecsReady;
}

function frameBytes(ds: NaturalizedDataset): Uint8Array[] {
  const pd = ds.PixelData;
  const arr = Array.isArray(pd) ? pd : pd === undefined ? [] : [pd];
  return arr.flatMap((x) => {
    if (x instanceof ArrayBuffer) return [new Uint8Array(x)];
    if (ArrayBuffer.isView(x)) return [new Uint8Array(x.buffer, x.byteOffset, x.byteLength)];
    return [];
  });
}

async function decodeCompressed(
  decoder: Decoder,
  h: DicomHeader,
  encoded: Uint8Array,
  fileName?: string,
): Promise<Uint8Array> {
  const c = await ensureCodecs();
  const ctx = new c.Context({
    width: h.columns,
    height: h.rows,
    bitsAllocated: h.bitsAllocated,
    bitsStored: h.bitsStored,
    samplesPerPixel: h.samplesPerPixel,
    pixelRepresentation: h.pixelRepresentation,
    planarConfiguration: 0,
    photometricInterpretation: h.photometricInterpretation ?? 'MONOCHROME2',
    encodedBuffer: encoded,
  });
  try {
    const out =
      decoder === 'rle'
        ? c.NativeCodecs.decodeRle(ctx)
        : decoder === 'jpeg'
          ? c.NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false })
          : decoder === 'jpegls'
            ? c.NativeCodecs.decodeJpegLs(ctx)
            : decoder === 'j2k'
              ? c.NativeCodecs.decodeJpeg2000(ctx)
              : c.NativeCodecs.decodeHtJpeg2000(ctx);
    const decoded = out.getDecodedBuffer();
    if (!decoded) throw new Error('codec returned no pixels');
    return decoded;
  } catch (err) {
    if (err instanceof DicomReadError) throw err;
    const msg = err instanceof Error ? err.message : String(err);
    throw new DicomReadError('pixel-decode-failed', `cannot decode ${decoder} pixel data (${msg})`, fileName);
  }
}

/**
 * Decodes one frame (0-based) of a fully parsed file into modality-rescaled values.
 * Supports monochrome 8/16-bit signed/unsigned, uncompressed or RLE / JPEG / JPEG-LS / JPEG 2000 / HTJ2K.
 */
export async function decodeFrame(parsed: ParsedDicom, frameIndex = 0): Promise<DicomFrame> {
  const { header: h, dataset, fileName } = parsed;
  if (!h.hasPixelData) throw new DicomReadError('no-pixel-data', 'the file has no pixel data', fileName);
  if (h.samplesPerPixel !== 1 || (h.bitsAllocated !== 8 && h.bitsAllocated !== 16)) {
    throw new DicomReadError(
      'unsupported-pixel-format',
      `only monochrome 8/16-bit images are supported (SamplesPerPixel ${h.samplesPerPixel}, BitsAllocated ${h.bitsAllocated})`,
      fileName,
    );
  }
  if (h.rows <= 0 || h.columns <= 0)
    throw new DicomReadError('missing-attribute', 'Rows/Columns missing', fileName);
  if (frameIndex < 0 || frameIndex >= h.numberOfFrames) {
    throw new DicomReadError(
      'frame-out-of-range',
      `frame ${frameIndex + 1} of ${h.numberOfFrames}`,
      fileName,
    );
  }
  const bytesPerPixel = h.bitsAllocated / 8;
  const frameSize = h.rows * h.columns * bytesPerPixel;
  const frames = frameBytes(dataset);
  let raw: Uint8Array;
  if (UNCOMPRESSED.has(h.transferSyntaxUID)) {
    const all = frames[0];
    if (!all) throw new DicomReadError('no-pixel-data', 'empty pixel data', fileName);
    const start = frameIndex * frameSize;
    if (all.byteLength < start + frameSize) {
      throw new DicomReadError(
        'pixel-length-mismatch',
        `pixel data has ${all.byteLength} bytes, expected at least ${start + frameSize}`,
        fileName,
      );
    }
    raw = all.subarray(start, start + frameSize);
  } else {
    const decoder = DECODERS[h.transferSyntaxUID];
    if (!decoder) {
      throw new DicomReadError(
        'unsupported-transfer-syntax',
        `transfer syntax ${h.transferSyntaxUID}`,
        fileName,
      );
    }
    const encoded = frames[frameIndex];
    if (!encoded || encoded.byteLength === 0) {
      throw new DicomReadError('no-pixel-data', `no encoded data for frame ${frameIndex + 1}`, fileName);
    }
    raw = await decodeCompressed(decoder, h, encoded, fileName);
    if (raw.byteLength < frameSize) {
      throw new DicomReadError(
        'pixel-length-mismatch',
        `decoded frame has ${raw.byteLength} bytes, expected ${frameSize}`,
        fileName,
      );
    }
  }
  return { width: h.columns, height: h.rows, values: rescale(raw, h) };
}

function rescale(raw: Uint8Array, h: DicomHeader): Float64Array {
  const n = h.rows * h.columns;
  const out = new Float64Array(n);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const little = h.transferSyntaxUID !== TRANSFER_SYNTAX.explicitBig;
  const signed = h.pixelRepresentation === 1;
  // Bits above BitsStored may hold overlay bits or garbage: mask them, then sign-extend.
  const bits = h.bitsStored > 0 && h.bitsStored <= h.bitsAllocated ? h.bitsStored : h.bitsAllocated;
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  const signBit = 1 << (bits - 1);
  const { rescaleSlope: slope, rescaleIntercept: intercept } = h;
  for (let i = 0; i < n; i++) {
    let v = h.bitsAllocated === 16 ? view.getUint16(i * 2, little) : view.getUint8(i);
    v &= mask;
    if (signed && v & signBit) v -= 1 << bits;
    out[i] = v * slope + intercept;
  }
  return out;
}
