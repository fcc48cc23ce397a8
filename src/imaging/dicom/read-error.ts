import { AppError } from '../../errors.js';

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
