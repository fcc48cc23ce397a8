/** What a VBQ measurement yields: per-metric results and per-ROI statistics, and the ROI digest. */
import { createHash } from 'node:crypto';
import type { Refusal } from './acquisition.js';
import type { DicomHeader } from './dicom/header.js';
import type { Level, Roi, RoiInput } from './roi.js';
import type { RoiStats } from './roi-stats.js';

export type Metric = 'vbq-l1-l4' | 'ebq' | 'vbq-s1' | 'c-vbq' | 'ct-hu-l1';

/** Signal intensity of one level (pooled over that level's ROIs) or of one endplate ROI. */
export interface LevelValue {
  level: Level;
  /** ROI mean after modality rescale: the level's signal intensity. */
  si: number;
  pixelCount: number;
  sd: number;
  median: number;
  roiIds: string[];
}

/** The CSF reference: the same statistics as a level, at the CSF ROI's level. */
export type CsfValue = LevelValue;

export interface Exclusion {
  level: Level;
  reason: string;
}

export interface AcquisitionFacts {
  modality: string;
  fieldStrengthT?: number;
  scanner?: string;
  trMs?: number;
  teMs?: number;
  pixelBandwidth?: number;
  sequence: string;
  seriesDate?: string;
  acquisitionDateTime?: string;
  timezoneOffset?: string;
  contrastAgent?: string;
}

/** One metric's result; `value` is null whenever `validity.valid` is false. */
export interface MeasurementResult {
  metric: Metric;
  value: number | null;
  unit: '1' | 'HU';
  levels: LevelValue[];
  csf: CsfValue | null;
  exclusions: Exclusion[];
  validity: { valid: boolean; reasons: Refusal[] };
  acquisition: AcquisitionFacts;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /**
   * Where the ROIs came from. `roiDigest` (sha256 of the canonical ROI list) tells two JSON ROI sets on
   * the same study apart, so the Observation identifier changes when the ROIs do.
   */
  roiSource: { kind: 'json' | 'sr'; srSopInstanceUID?: string; roiDigest: string };
  patient: { dicomPatientId?: string };
  /** The images whose pixels were measured (for derivedFrom and the SR writer). */
  imageSopInstanceUIDs: string[];
}

/** Per-ROI statistics, kept for the SR writer and for display. */
export interface MeasuredRoi {
  roi: Roi;
  stats: RoiStats;
  image: DicomHeader;
}

/** sha256 over the ROI fields that change a measurement, in a fixed key order. */
export function roiDigest(input: RoiInput): string {
  const canon = input.rois.map((r) => [
    r.label,
    r.kind,
    r.level ?? '',
    r.shape,
    r.points,
    r.sopInstanceUID,
    r.frameNumber ?? 1,
    r.exclude ?? '',
  ]);
  return createHash('sha256').update(JSON.stringify(canon)).digest('hex');
}
