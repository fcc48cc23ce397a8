/**
 * Measures a series: indexes the files by SOPInstanceUID (header only), decodes the frames the ROIs lie
 * on, computes per-ROI statistics and hands them to the metric computation.
 */
import { AppError } from '../errors.js';
import { parseDicom } from './dicom/parse.js';
import { DicomReadError } from './dicom/read-error.js';
import type { ParsedDicom } from './dicom/parse.js';
import { decodeFrame } from './dicom/pixels.js';
import type { DicomFrame } from './dicom/pixels.js';
import type { DicomHeader } from './dicom/header.js';
import type { MeasuredRoi, MeasurementResult } from './measurement.js';
import { isStructuredReport } from './roi.js';
import type { Roi, RoiInput } from './roi.js';
import { gather, rasterize, statsOf } from './roi-stats.js';
import { computeMetrics } from './vbq-metrics.js';

export interface MeasureInput {
  /** Part-10 files of the series (SR documents among them are skipped). */
  files: Uint8Array[];
  fileNames?: string[];
  rois: RoiInput;
  /** Called after each file is indexed; for progress lines on large series. */
  onProgress?: (done: number, total: number) => void;
  /**
   * When given, a file that cannot be read is reported here and left out instead of failing the whole
   * measurement (the CLI warns and carries on; the HTTP API leaves this unset and answers 400).
   */
  onUnreadable?: (error: DicomReadError) => void;
}

export interface StudyMeasurement {
  results: MeasurementResult[];
  rois: MeasuredRoi[];
  images: DicomHeader[];
}

function roiName(r: Roi): string {
  return `ROI "${r.label}" (${r.id})`;
}

interface IndexedFile {
  buf: Uint8Array;
  header: DicomHeader;
  fileName?: string;
}

/** Indexes image files by SOPInstanceUID using a header-only parse. */
function indexFiles(input: MeasureInput): Map<string, IndexedFile> {
  const index = new Map<string, IndexedFile>();
  input.files.forEach((buf, i) => {
    const fileName = input.fileNames?.[i] ?? `file #${i + 1}`;
    let parsed: ParsedDicom;
    try {
      parsed = parseDicom(buf, { headerOnly: true, fileName });
    } catch (err) {
      if (!(err instanceof DicomReadError) || !input.onUnreadable) throw err;
      input.onUnreadable(err);
      return;
    } finally {
      input.onProgress?.(i + 1, input.files.length);
    }
    if (isStructuredReport(parsed.dataset)) return;
    index.set(parsed.header.sopInstanceUID, { buf, header: parsed.header, fileName });
  });
  return index;
}

const LISTED_UIDS = 20;

/** The SOP Instance UIDs the input does hold (in instance order), so a wrong ROI file can be fixed. */
function seriesContents(index: Map<string, IndexedFile>): string[] {
  const images = [...index.values()]
    .map((f) => f.header)
    .sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
  const lines = images
    .slice(0, LISTED_UIDS)
    .map(
      (h) =>
        `the input holds ${h.sopInstanceUID} (instance ${h.instanceNumber ?? '?'}, series ${h.seriesInstanceUID})`,
    );
  if (images.length > LISTED_UIDS) lines.push(`... and ${images.length - LISTED_UIDS} more images`);
  return lines;
}

/**
 * Measures every metric the ROIs allow on a series: reads the referenced images, computes per-ROI
 * statistics and the VBQ family, and checks validity. Pure: buffers in, results out.
 * Throws `DicomReadError` / `AppError('invalid-dicom')` for unreadable files and `AppError('invalid-roi')`
 * for ROIs that cannot be measured (unknown image, outside the image, no usable level).
 */
export async function measureStudy(input: MeasureInput): Promise<StudyMeasurement> {
  const index = indexFiles(input);
  if (index.size === 0) throw new AppError('invalid-dicom', 'no image files in the input (only SR or none)');
  const full = new Map<string, ParsedDicom>();
  const frames = new Map<string, DicomFrame>();
  const measured: MeasuredRoi[] = [];
  const values = new Map<string, Float64Array>();
  for (const roi of input.rois.rois) {
    const file = index.get(roi.sopInstanceUID);
    if (!file) {
      throw new AppError('invalid-roi', `${roiName(roi)} references an image that is not in the series`, [
        `sopInstanceUID ${roi.sopInstanceUID}`,
        ...seriesContents(index),
      ]);
    }
    let parsed = full.get(roi.sopInstanceUID);
    if (!parsed) {
      parsed = parseDicom(file.buf, file.fileName ? { fileName: file.fileName } : {});
      full.set(roi.sopInstanceUID, parsed);
    }
    const frameIndex = (roi.frameNumber ?? 1) - 1;
    const key = `${roi.sopInstanceUID}#${frameIndex}`;
    let frame = frames.get(key);
    if (!frame) {
      frame = await decodeFrame(parsed, frameIndex);
      frames.set(key, frame);
    }
    if (values.has(roi.id)) throw new AppError('invalid-roi', `duplicate ROI id ${roi.id}`);
    const v = gather(frame.values, rasterize(roi, frame.width, frame.height, roiName(roi)));
    values.set(roi.id, v);
    measured.push({ roi, stats: statsOf(v), image: parsed.header });
  }
  const images = [...new Map(measured.map((m) => [m.image.sopInstanceUID, m.image])).values()];
  return { results: computeMetrics(measured, values, input.rois), rois: measured, images };
}

/** Same as {@link measureStudy}, returning only the per-metric results. */
export async function measureSeries(input: MeasureInput): Promise<MeasurementResult[]> {
  return (await measureStudy(input)).results;
}
