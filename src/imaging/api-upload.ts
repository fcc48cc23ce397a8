/**
 * The multipart upload of `POST /imaging/vbq`: DICOM files and ROIs read into memory within documented
 * limits, every failure mapped to a coded AppError (400/413), never a 500.
 */
import type { Request, Response } from 'express';
import multer from 'multer';
import { AppError } from '../errors.js';
import { parseDicom } from './dicom/parse.js';
import { parseRoiJson, readRoisFromSr } from './roi.js';
import type { RoiInput } from './roi.js';

/** Default upload limits: a lumbar series is tens of files of well under 1 MB each. */
export const DEFAULT_UPLOAD_LIMITS = {
  /** All parts together. */
  totalBytes: 256 * 1024 * 1024,
  /** One DICOM file (a large multi-frame file included). */
  fileBytes: 64 * 1024 * 1024,
  /** DICOM files in one request (plus the ROI part). */
  files: 1000,
} as const;

/** The limits in force for one router. */
export interface UploadLimits {
  totalBytes: number;
  fileBytes: number;
  files: number;
}

export interface UploadParts {
  files: Express.Multer.File[];
  roiFile?: Express.Multer.File;
  srFile?: Express.Multer.File;
  body: Record<string, unknown>;
}

const MULTER_LIMIT_CODES = new Set([
  'LIMIT_PART_COUNT',
  'LIMIT_FILE_SIZE',
  'LIMIT_FILE_COUNT',
  'LIMIT_FIELD_KEY',
  'LIMIT_FIELD_VALUE',
  'LIMIT_FIELD_COUNT',
]);

/** Parses the multipart upload into memory within the limits, mapping every failure to an AppError. */
export function parseUpload(req: Request, res: Response, limits: UploadLimits): Promise<UploadParts> {
  const options: multer.Options & { streamHandler: (req: Request, busboy: NodeJS.WritableStream) => void } = {
    storage: multer.memoryStorage(),
    // Counts the body as it streams: without a Content-Length (chunked) the total is enforced here, before
    // memory holds more than the limit. Multer then stops parsing, drains the rest and reports the error.
    streamHandler: (incoming, busboy) => {
      let seen = 0;
      let over = false;
      incoming.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (!over && seen > limits.totalBytes) {
          over = true;
          // Multer treats a request error as fatal at once (no wait for the file being received).
          incoming.emit('error', tooLarge(limits));
        }
      });
      incoming.pipe(busboy);
    },
    limits: {
      fileSize: limits.fileBytes,
      files: limits.files + 2,
      fields: 20,
      fieldSize: Math.min(limits.fileBytes, 16 * 1024 * 1024),
      parts: limits.files + 30,
    },
  };
  const upload = multer(options).fields([
    { name: 'files', maxCount: limits.files },
    { name: 'rois', maxCount: 1 },
    { name: 'sr', maxCount: 1 },
  ]);
  return new Promise((resolve, reject) => {
    upload(req, res, (err: unknown) => {
      if (err) {
        reject(uploadError(err, limits));
        return;
      }
      const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
      const parts: UploadParts = {
        files: files.files ?? [],
        body: (req.body ?? {}) as Record<string, unknown>,
      };
      const roiFile = files.rois?.[0];
      const srFile = files.sr?.[0];
      if (roiFile) parts.roiFile = roiFile;
      if (srFile) parts.srFile = srFile;
      const total = [...parts.files, ...(roiFile ? [roiFile] : []), ...(srFile ? [srFile] : [])].reduce(
        (n, f) => n + f.size,
        0,
      );
      if (total > limits.totalBytes) {
        reject(tooLarge(limits));
        return;
      }
      resolve(parts);
    });
  });
}

export function tooLarge(limits: UploadLimits): AppError {
  return new AppError('payload-too-large', 'the upload exceeds the documented limits', [
    `at most ${limits.files} files, ${limits.fileBytes} bytes per file, ${limits.totalBytes} bytes in all`,
  ]);
}

function uploadError(err: unknown, limits: UploadLimits): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof multer.MulterError) {
    if (MULTER_LIMIT_CODES.has(err.code)) return tooLarge(limits);
    // Multer reports a field over its maxCount as an unexpected file.
    if (err.code === 'LIMIT_UNEXPECTED_FILE' && err.field === 'files') return tooLarge(limits);
    if (err.code === 'LIMIT_UNEXPECTED_FILE') {
      return new AppError(
        'invalid-request',
        `unexpected file part "${err.field ?? '?'}" (expected files, rois or sr, rois and sr once)`,
      );
    }
  }
  // Busboy's messages describe the framing only ("Unexpected end of form", "Malformed part header").
  return new AppError('invalid-request', 'the multipart body is malformed', [
    err instanceof Error ? err.message.slice(0, 200) : 'unreadable multipart body',
  ]);
}

export function readRois(parts: UploadParts): { rois: RoiInput; skipped: string[] } {
  const roiField = parts.body.rois;
  const hasJson = parts.roiFile !== undefined || roiField !== undefined;
  if (hasJson && parts.srFile) {
    throw new AppError('invalid-request', 'send either "rois" (JSON) or "sr" (DICOM SR), not both');
  }
  if (parts.srFile) {
    const name = parts.srFile.originalname || 'sr';
    const sr = parseDicom(parts.srFile.buffer, { fileName: name });
    const read = readRoisFromSr(sr.dataset);
    if (read.rois.length === 0) {
      throw new AppError('invalid-roi', `the SR ${name} holds no usable ROI`, read.skipped);
    }
    return { rois: { source: read.source, rois: read.rois }, skipped: read.skipped };
  }
  if (!hasJson) {
    throw new AppError('invalid-request', 'missing ROIs: send a "rois" JSON part or an "sr" DICOM SR file');
  }
  const text = parts.roiFile ? parts.roiFile.buffer.toString('utf8') : roiField;
  if (typeof text !== 'string')
    throw new AppError('invalid-roi', 'the "rois" part must be one JSON document');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('invalid-roi', 'the "rois" part is not valid JSON', [
      err instanceof Error ? err.message.slice(0, 200) : 'parse error',
    ]);
  }
  return { rois: parseRoiJson(json), skipped: [] };
}

export function wantsWrite(body: Record<string, unknown>): boolean {
  const w = body.write;
  if (w === undefined) return false;
  if (w === 'true' || w === '1') return true;
  if (w === 'false' || w === '0' || w === '') return false;
  throw new AppError('invalid-request', 'the "write" field must be true or false');
}
