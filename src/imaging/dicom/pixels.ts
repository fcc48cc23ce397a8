/**
 * Pixel decoding: one frame of a parsed file, uncompressed or through the WASM codecs, masked to
 * BitsStored, sign-extended and modality-rescaled.
 */
import type { NaturalizedDataset } from 'dcmjs';
import codecs from 'dcmjs-codecs';
import type { DicomHeader } from './header.js';
import type { ParsedDicom } from './parse.js';
import { DicomReadError } from './read-error.js';
import { DECODERS, TRANSFER_SYNTAX, UNCOMPRESSED, type Decoder } from './transfer-syntax.js';

/** One decoded frame, modality-rescaled, row-major. */
export interface DicomFrame {
  width: number;
  height: number;
  values: Float64Array;
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
