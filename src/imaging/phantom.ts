/**
 * Synthetic lumbar T1 sagittal series with known pixel values: `vbq sample` writes one for the README's
 * example, and the tests measure against its exact truth. Not a model of anatomy: rectangles of constant
 * signal for the vertebral bodies and a CSF band, plus reproducible noise.
 */
import dcmjs from 'dcmjs';
import type { NaturalizedDataset } from 'dcmjs';
import codecs from 'dcmjs-codecs';
import { ensureCodecs } from './dicom/pixels.js';
import { TRANSFER_SYNTAX } from './dicom/transfer-syntax.js';
import type { Level } from './roi.js';

/** Deterministic PRNG (mulberry32) so phantom noise is identical on every run. */
export function prng(start: number): () => number {
  let a = start >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type PhantomSyntax = 'explicit' | 'implicit' | 'rle' | 'jpegls' | 'j2k' | 'jpeg-lossless';

const SYNTAX_UID: Record<PhantomSyntax, string> = {
  explicit: TRANSFER_SYNTAX.explicitLittle,
  implicit: TRANSFER_SYNTAX.implicitLittle,
  rle: TRANSFER_SYNTAX.rle,
  jpegls: TRANSFER_SYNTAX.jpegLsLossless,
  j2k: TRANSFER_SYNTAX.j2kLossless,
  'jpeg-lossless': TRANSFER_SYNTAX.jpegLossless70,
};

/** A rectangle of constant stored value (before noise), in pixel indices [x0, x1) x [y0, y1). */
export interface Block {
  name: string;
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  value: number;
}

export interface PhantomOptions {
  width?: number;
  height?: number;
  slices?: number;
  syntax?: PhantomSyntax;
  /** Start value of the noise generator: the same value gives the same noise. */
  noiseStart?: number;
  /** Uniform integer noise in [-noise, noise] added to every pixel. */
  noise?: number;
  /** Stored values per vertebral body (defaults give a lumbar phantom L1-L5 + S1). */
  bodies?: Partial<Record<Level, number>>;
  /** Stored value of the subchondral (endplate) band: the top and bottom rows of each body. */
  endplate?: number;
  csf?: number;
  background?: number;
  bitsAllocated?: 8 | 16;
  signed?: boolean;
  rescaleSlope?: number;
  rescaleIntercept?: number;
  /** Attribute overrides (naturalized keywords), e.g. { SeriesDescription: 't2_tse_sag', EchoTime: 100 }. */
  header?: NaturalizedDataset;
  uidRoot?: string;
}

export interface Phantom {
  files: Buffer[];
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUIDs: string[];
  /** The slice all ROIs are drawn on (middle slice). */
  midSlice: number;
  width: number;
  height: number;
  blocks: Block[];
  /** Rescaled pixel values per slice, exactly as the reader must see them. */
  truth: Float64Array[];
}

const DEFAULT_BODIES: Partial<Record<Level, number>> = {
  L1: 400,
  L2: 420,
  L3: 380,
  L4: 440,
  L5: 460,
  S1: 500,
};

/**
 * Builds a synthetic sagittal T1 spine series: vertebral bodies stacked top to bottom as rectangles of known
 * value (with an endplate band at their top and bottom rows), a vertical CSF band behind them, reproducible noise,
 * written in the requested transfer syntax. Returns the files and the rescaled truth.
 */
export async function makePhantom(opts: PhantomOptions = {}): Promise<Phantom> {
  const width = opts.width ?? 128;
  const height = opts.height ?? 128;
  const slices = opts.slices ?? 3;
  const noise = opts.noise ?? 0;
  const rnd = prng(opts.noiseStart ?? 42);
  const bits = opts.bitsAllocated ?? 16;
  const signed = opts.signed ?? false;
  const slope = opts.rescaleSlope ?? 1;
  const intercept = opts.rescaleIntercept ?? 0;
  const bodies = opts.bodies ?? DEFAULT_BODIES;
  const levels = Object.keys(bodies) as Level[];
  const bodyH = Math.floor((height - 8) / Math.max(levels.length, 1)) - 4;
  const blocks: Block[] = [];
  levels.forEach((level, i) => {
    const y0 = 4 + i * (bodyH + 4);
    blocks.push({
      name: level,
      x0: 16,
      x1: Math.floor(width * 0.55),
      y0,
      y1: y0 + bodyH,
      value: bodies[level]!,
    });
  });
  const csfX0 = Math.floor(width * 0.65);
  blocks.push({ name: 'CSF', x0: csfX0, x1: csfX0 + 12, y0: 2, y1: height - 2, value: opts.csf ?? 164 });
  const endplate = opts.endplate;
  const background = opts.background ?? 20;
  const uidRoot = opts.uidRoot ?? '2.25.1234567890';
  const studyInstanceUID = `${uidRoot}.1`;
  const seriesInstanceUID = `${uidRoot}.2`;
  const sopInstanceUIDs = Array.from({ length: slices }, (_, i) => `${uidRoot}.3.${i + 1}`);
  const midSlice = Math.floor(slices / 2);
  const maxStored = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const minStored = signed ? -(2 ** (bits - 1)) : 0;

  const files: Buffer[] = [];
  const truth: Float64Array[] = [];
  for (let s = 0; s < slices; s++) {
    const stored = new Float64Array(width * height).fill(background);
    for (const b of blocks) {
      for (let y = b.y0; y < b.y1; y++) {
        for (let x = b.x0; x < b.x1; x++) stored[y * width + x] = b.value;
      }
      if (endplate !== undefined && b.name !== 'CSF') {
        for (const y of [b.y0, b.y0 + 1, b.y1 - 2, b.y1 - 1]) {
          for (let x = b.x0; x < b.x1; x++) stored[y * width + x] = endplate;
        }
      }
    }
    const raw =
      bits === 16
        ? signed
          ? new Int16Array(width * height)
          : new Uint16Array(width * height)
        : signed
          ? new Int8Array(width * height)
          : new Uint8Array(width * height);
    const t = new Float64Array(width * height);
    for (let i = 0; i < stored.length; i++) {
      const n = noise > 0 ? Math.floor(rnd() * (2 * noise + 1)) - noise : 0;
      const v = Math.min(maxStored, Math.max(minStored, Math.round(stored[i]! + n)));
      raw[i] = v;
      t[i] = v * slope + intercept;
    }
    truth.push(t);
    const ds: NaturalizedDataset = {
      SpecificCharacterSet: 'ISO_IR 192',
      ImageType: ['ORIGINAL', 'PRIMARY', 'M', 'ND'],
      SOPClassUID: '1.2.840.10008.5.1.4.1.1.4',
      SOPInstanceUID: sopInstanceUIDs[s],
      StudyDate: '20250314',
      StudyTime: '101500',
      SeriesDate: '20250314',
      AcquisitionDate: '20250314',
      AcquisitionTime: '102233.250000',
      Modality: 'MR',
      Manufacturer: 'PhantomWorks',
      ManufacturerModelName: 'Synthetic 1.5T',
      StudyDescription: 'MRI LUMBAR SPINE WO',
      SeriesDescription: 't1_tse_sag',
      BodyPartExamined: 'LSPINE',
      PatientName: 'Phantom^Lumbar',
      PatientID: 'PHANTOM-001',
      PatientBirthDate: '19600101',
      PatientSex: 'F',
      ScanningSequence: 'SE',
      SequenceVariant: ['SK', 'SP'],
      ScanOptions: 'PFP',
      MRAcquisitionType: '2D',
      SequenceName: '*tse2d1_3',
      SliceThickness: '4',
      RepetitionTime: '550',
      EchoTime: '11',
      EchoTrainLength: '3',
      MagneticFieldStrength: '1.5',
      PixelBandwidth: '190',
      StudyInstanceUID: studyInstanceUID,
      SeriesInstanceUID: seriesInstanceUID,
      SeriesNumber: '3',
      InstanceNumber: String(s + 1),
      ImagePositionPatient: [String(-4 + 4 * s), '-120', '120'],
      ImageOrientationPatient: ['0', '1', '0', '0', '0', '-1'],
      FrameOfReferenceUID: `${uidRoot}.4`,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: height,
      Columns: width,
      PixelSpacing: ['1', '1'],
      BitsAllocated: bits,
      BitsStored: bits,
      HighBit: bits - 1,
      PixelRepresentation: signed ? 1 : 0,
      RescaleIntercept: String(intercept),
      RescaleSlope: String(slope),
      PixelData: [raw.buffer],
      _vrMap: { PixelData: bits === 16 ? 'OW' : 'OB' },
      ...opts.header,
    };
    files.push(await encodePart10(ds, opts.syntax ?? 'explicit'));
  }
  return {
    files,
    studyInstanceUID,
    seriesInstanceUID,
    sopInstanceUIDs,
    midSlice,
    width,
    height,
    blocks,
    truth,
  };
}

/** Writes a naturalized dataset as Part-10 in explicit VR LE, then transcodes to the requested syntax. */
export async function encodePart10(ds: NaturalizedDataset, syntax: PhantomSyntax): Promise<Buffer> {
  const meta: NaturalizedDataset = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: TRANSFER_SYNTAX.explicitLittle,
    ImplementationClassUID: '2.25.203517365316154532917480133958187420347',
    ImplementationVersionName: 'SBHCDS_PHANTOM',
  };
  const dict = new dcmjs.data.DicomDict(dcmjs.data.DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
  const explicit = dict.write();
  if (syntax === 'explicit') return Buffer.from(explicit);
  await ensureCodecs();
  const t = new codecs.Transcoder(explicit);
  t.transcode(SYNTAX_UID[syntax]);
  return Buffer.from(t.getDicomPart10());
}

/** Centre of a block, in SR pixel coordinates (pixel centres at +0.5). */
export function blockCentre(b: Block): [number, number] {
  return [(b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2];
}

/**
 * A JSON ROI ellipse (4 axis end points) centred in a block with the given semi-axes; `wholePixels`
 * rounds the centre so the points are integers (easier to read in an example file).
 */
export function ellipseIn(b: Block, rx: number, ry: number, wholePixels = false): [number, number][] {
  const [cx, cy] = blockCentre(b).map((v) => (wholePixels ? Math.round(v) : v)) as [number, number];
  return [
    [cx - rx, cy],
    [cx + rx, cy],
    [cx, cy - ry],
    [cx, cy + ry],
  ];
}

export function blockByName(p: Phantom, name: string): Block {
  const b = p.blocks.find((x) => x.name === name);
  if (!b) throw new Error(`no block ${name}`);
  return b;
}

/** JSON ROIs for a phantom's lumbar levels: an ellipse inside each of L1-L4 and a CSF rectangle at L3. */
export function lumbarRois(p: Phantom): { rois: Record<string, unknown>[] } {
  const sop = p.sopInstanceUIDs[p.midSlice]!;
  const csf = blockByName(p, 'CSF');
  const l3 = blockByName(p, 'L3');
  return {
    rois: [
      ...['L1', 'L2', 'L3', 'L4'].map((l) => ({
        label: l,
        shape: 'ellipse',
        points: ellipseIn(blockByName(p, l), 18, 4),
        sopInstanceUID: sop,
      })),
      {
        label: 'CSF',
        level: 'L3',
        shape: 'rectangle',
        points: [
          [csf.x0 + 2, l3.y0 + 2],
          [csf.x1 - 2, l3.y1 - 2],
        ],
        sopInstanceUID: sop,
      },
    ],
  };
}
