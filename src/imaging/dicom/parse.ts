/**
 * Part-10 parsing: dcmjs reads the file, a structural walk rejects truncated files that dcmjs would
 * silently zero-fill, and the header is interpreted. Every failure is a {@link DicomReadError}.
 */
import dcmjs from 'dcmjs';
import type { NaturalizedDataset } from 'dcmjs';
import { str } from './attributes.js';
import { interpretHeader, type DicomHeader } from './header.js';
import { DicomReadError } from './read-error.js';
import { TRANSFER_SYNTAX } from './transfer-syntax.js';

/** A parsed Part-10 file: header facts plus the naturalized dataset (for SR reading). */
export interface ParsedDicom {
  header: DicomHeader;
  dataset: NaturalizedDataset;
  fileName?: string;
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

/** Whether a buffer starts like a DICOM Part-10 file (128-byte preamble, then "DICM"). */
export function isPart10(buf: Uint8Array): boolean {
  return (
    buf.byteLength >= 132 && buf[128] === 0x44 && buf[129] === 0x49 && buf[130] === 0x43 && buf[131] === 0x4d
  );
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
  if (!isPart10(buf)) {
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

  const header = interpretHeader(dataset, transferSyntaxUID, {
    ...(fileName !== undefined ? { fileName } : {}),
    ...(opts.planeMinCosine !== undefined ? { planeMinCosine: opts.planeMinCosine } : {}),
  });
  return { header, dataset, fileName };
}
