import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planeFromOrientation } from '../../src/imaging/dicom/header.js';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import { decodeFrame } from '../../src/imaging/dicom/pixels.js';
import { DicomReadError } from '../../src/imaging/dicom/read-error.js';
import { makePhantom } from '../helpers/phantom.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dicom');
const fixture = (name: string): Buffer => readFileSync(join(FIXTURES, name));
const RICSMI = 'orthanc-tests_2022-03-08-RicSmi_MR_LSPINE_T2_SAG_J2K.dcm';
const ISO13 = 'orthanc-tests_Encodings_ISO_IR13_MR_LSPINE_t2_tse_sag_J2K.dcm';
const RLE = 'WG04_MR2_RLE_shoulder_sag.dcm';
const SMALL = 'pydicom_MR_small.dcm';
const GH1339 = 'fodicom_GH1339_MR_spine_t2_tse_tra_JPEGLossless.dcm';

function expectReadError(fn: () => unknown, reason: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DicomReadError);
    expect((err as DicomReadError).reason).toBe(reason);
    expect((err as DicomReadError).code).toBe('invalid-dicom');
    return;
  }
  throw new Error('expected a DicomReadError');
}

describe('parseDicom on real samples', () => {
  it('reads the header facts of a real 0.3 T sagittal T2 lumbar MR (JPEG 2000, VR UN attributes)', () => {
    const { header: h } = parseDicom(fixture(RICSMI));
    expect(h).toMatchObject({
      modality: 'MR',
      transferSyntaxUID: '1.2.840.10008.1.2.4.90',
      fieldStrengthT: 0.3,
      trMs: 3500,
      teMs: 125,
      plane: 'sagittal',
      manufacturer: 'HITACHI MEDICAL CORPORATION',
      model: 'AIRIS II',
      rows: 256,
      columns: 256,
      pixelRepresentation: 1,
    });
    expect(h.scanningSequence).toEqual(['SE']);
    expect(h.contrastAgent).toBeUndefined();
    expect(h.seriesDescription).toBe('T2 DE SAG');
  });

  it('decodes JPEG 2000 and RLE pixel data and applies the modality rescale', async () => {
    const j2k = await decodeFrame(parseDicom(fixture(ISO13)));
    expect(j2k.values.length).toBe(384 * 384);
    expect(j2k.values.reduce((m, v) => Math.max(m, v), -Infinity)).toBeGreaterThan(100);

    const rle = parseDicom(fixture(RLE));
    expect(rle.header.rescaleSlope).toBeCloseTo(3.774114, 6);
    const frame = await decodeFrame(rle);
    expect(frame.values.length).toBe(1024 * 1024);
    // Every value is stored*slope + intercept: undoing the rescale gives integers.
    const { rescaleSlope: s, rescaleIntercept: b } = rle.header;
    for (let i = 0; i < frame.values.length; i += 9973) {
      const stored = (frame.values[i]! - b) / s;
      expect(Math.abs(stored - Math.round(stored))).toBeLessThan(1e-6);
    }
  });

  it('reads an uncompressed signed 16-bit image', async () => {
    const parsed = parseDicom(fixture(SMALL));
    expect(parsed.header.pixelRepresentation).toBe(1);
    const f = await decodeFrame(parsed);
    expect(f.width).toBe(64);
    expect(f.values.length).toBe(64 * 64);
  });

  it('header-only parsing does not read the pixel values', () => {
    const { header, dataset } = parseDicom(fixture(RLE), { headerOnly: true });
    expect(header.hasPixelData).toBe(true);
    expect(Array.isArray(dataset.PixelData) && dataset.PixelData.length > 0).toBe(false);
    expect(header.sopInstanceUID).toMatch(/^[0-9.]+$/);
  });

  it('fails cleanly on the deliberately malformed fo-dicom GH1339 file (encapsulated pixel data never closed)', () => {
    expectReadError(() => parseDicom(fixture(GH1339)), 'truncated-or-corrupt');
    expect(() => parseDicom(fixture(GH1339), { fileName: 'gh1339.dcm' })).toThrow(
      /gh1339\.dcm: the file is truncated or corrupt: a sequence or encapsulated pixel data is not closed/,
    );
  });
});

describe('parseDicom on malformed input', () => {
  it('rejects non-DICOM bytes with not-part10', () => {
    expectReadError(() => parseDicom(Buffer.from('this is not a DICOM file at all')), 'not-part10');
    expectReadError(() => parseDicom(Buffer.alloc(200)), 'not-part10');
  });

  it('rejects a truncated file with a clear reason instead of zero-filling it', () => {
    const full = fixture(RICSMI);
    for (const cut of [140, 400, 5000, full.length - 10]) {
      expectReadError(() => parseDicom(full.subarray(0, cut)), 'truncated-or-corrupt');
    }
    const small = fixture(SMALL);
    expect(() => parseDicom(small.subarray(0, small.length - 3000))).toThrow(
      /\(7fe0,0010\) needs 8192 bytes/,
    );
  });

  it('rejects pixel data shorter than Rows x Columns', async () => {
    const p = await makePhantom({ slices: 1, width: 32, height: 32 });
    const file = p.files[0]!;
    // Drop the tail of the pixel data but keep a consistent element length by patching the header.
    const truncated = parseDicom(file);
    const pd = truncated.dataset.PixelData as ArrayBuffer[];
    pd[0] = pd[0]!.slice(0, 100);
    await expect(decodeFrame(truncated)).rejects.toMatchObject({ reason: 'pixel-length-mismatch' });
  });

  it('rejects a corrupt JPEG 2000 code stream with pixel-decode-failed', async () => {
    const p = parseDicom(fixture(ISO13));
    const pd = p.dataset.PixelData as ArrayBuffer[];
    const bytes = new Uint8Array(pd[0]!.slice(0));
    bytes.fill(0x55, 0, 200);
    pd[0] = bytes.buffer;
    await expect(decodeFrame(p)).rejects.toMatchObject({
      reason: 'pixel-decode-failed',
      code: 'invalid-dicom',
    });
  });
});

describe('phantom pixel formats', () => {
  it.each([
    { bits: 8 as const, signed: false, slope: 1, intercept: 0 },
    { bits: 8 as const, signed: true, slope: 1, intercept: 0 },
    { bits: 16 as const, signed: true, slope: 2, intercept: -100 },
    { bits: 16 as const, signed: false, slope: 0.5, intercept: 10 },
  ])(
    'reads $bits-bit signed=$signed slope=$slope intercept=$intercept exactly',
    async ({ bits, signed, slope, intercept }) => {
      const p = await makePhantom({
        slices: 1,
        width: 48,
        height: 48,
        bitsAllocated: bits,
        signed,
        rescaleSlope: slope,
        rescaleIntercept: intercept,
        bodies: { L1: signed ? -60 : 90, L2: 100 },
        csf: signed ? -30 : 40,
        noise: 5,
      });
      const f = await decodeFrame(parseDicom(p.files[0]!));
      expect(Array.from(f.values)).toEqual(Array.from(p.truth[0]!));
    },
  );
});

describe('planeFromOrientation', () => {
  it('classifies by the dominant axis of the slice normal', () => {
    expect(planeFromOrientation([0, 1, 0, 0, 0, -1], 0.8)).toBe('sagittal');
    expect(planeFromOrientation([1, 0, 0, 0, 0, -1], 0.8)).toBe('coronal');
    expect(planeFromOrientation([1, 0, 0, 0, 1, 0], 0.8)).toBe('axial');
    const c = Math.SQRT1_2;
    expect(planeFromOrientation([c, c, 0, 0, 0, -1], 0.8)).toBe('oblique');
    expect(planeFromOrientation(undefined, 0.8)).toBe('unknown');
  });
});
