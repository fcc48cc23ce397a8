/**
 * Pulls what a VBQ measurement needs from a PACS over DICOMweb: the study's ROI report and the image series
 * it references.
 */
import { AppError } from '../errors.js';
import { retrieveSeries, searchSeries } from '../dicomweb/client.js';
import type { DicomwebClientOptions } from '../dicomweb/client.js';
import { seq, str } from './dicom/attributes.js';
import { parseDicom } from './dicom/parse.js';
import { readRoisFromSr } from './roi.js';
import type { RoiInput } from './roi.js';
import { SR_MANUFACTURER } from './sr-writer.js';

export interface FetchedStudy {
  /** Image files of the series the ROIs reference. */
  files: Uint8Array[];
  rois: RoiInput;
  srFile: Uint8Array;
  srSopInstanceUID: string;
  /** SR measurement groups that could not be used (named, not silently dropped). */
  skipped: string[];
}

function srContentKey(ds: Record<string, unknown>): string {
  const d = typeof ds.ContentDate === 'string' ? ds.ContentDate : '';
  const t = typeof ds.ContentTime === 'string' ? ds.ContentTime : '';
  return `${d}${t}`;
}

/**
 * Pulls what a VBQ measurement needs from a DICOMweb PACS: the newest TID 1500 ROI report of the study
 * that was not written by this service, and the image series it references. Throws `not-found` when the
 * study has no usable ROI report.
 */
export async function fetchStudyFromDicomweb(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  select: { srSopInstanceUID?: string } = {},
): Promise<FetchedStudy> {
  const srSeries = await searchSeries(opts, studyInstanceUID, { modality: 'SR' });
  const candidates: {
    file: Uint8Array;
    ds: Record<string, unknown>;
    rois: ReturnType<typeof readRoisFromSr>;
  }[] = [];
  for (const s of srSeries) {
    for (const file of await retrieveSeries(opts, studyInstanceUID, s.seriesInstanceUID)) {
      const parsed = parseDicom(file, { fileName: 'SR from PACS' });
      if (str(parsed.dataset, 'Manufacturer') === SR_MANUFACTURER) continue;
      if (select.srSopInstanceUID && parsed.header.sopInstanceUID !== select.srSopInstanceUID) continue;
      try {
        const rois = readRoisFromSr(parsed.dataset);
        if (rois.rois.length > 0) candidates.push({ file, ds: parsed.dataset, rois });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
      }
    }
  }
  candidates.sort((a, b) => srContentKey(b.ds).localeCompare(srContentKey(a.ds)));
  const chosen = candidates[0];
  if (!chosen) throw new AppError('not-found', 'the study has no TID 1500 ROI report to measure');
  const { files } = await fetchReferencedImages(opts, studyInstanceUID, chosen.ds, chosen.rois);
  const { skipped, ...rois } = chosen.rois;
  const srSop = rois.source.kind === 'sr' ? rois.source.srSopInstanceUID : '';
  return { files, rois, srFile: chosen.file, srSopInstanceUID: srSop, skipped };
}

/**
 * The image series an ROI report's ROIs are drawn on: those its evidence sequence lists for the referenced
 * images, else every non-SR series of the study. Returns their files and the series UIDs (sorted).
 */
export async function fetchReferencedImages(
  opts: DicomwebClientOptions,
  studyInstanceUID: string,
  sr: Record<string, unknown>,
  rois: RoiInput,
): Promise<{ files: Uint8Array[]; seriesInstanceUIDs: string[] }> {
  const referenced = new Set(rois.rois.map((r) => r.sopInstanceUID));
  const evidenceSeries = seq(sr, 'CurrentRequestedProcedureEvidenceSequence')
    .flatMap((st) => seq(st, 'ReferencedSeriesSequence'))
    .filter((se) =>
      seq(se, 'ReferencedSOPSequence').some((r) => referenced.has(str(r, 'ReferencedSOPInstanceUID') ?? '')),
    )
    .map((se) => str(se, 'SeriesInstanceUID'))
    .filter((u): u is string => !!u);
  const seriesUids =
    evidenceSeries.length > 0
      ? [...new Set(evidenceSeries)]
      : (await searchSeries(opts, studyInstanceUID))
          .filter((s) => s.modality !== 'SR')
          .map((s) => s.seriesInstanceUID);
  const files: Uint8Array[] = [];
  for (const uid of seriesUids) files.push(...(await retrieveSeries(opts, studyInstanceUID, uid)));
  return { files, seriesInstanceUIDs: [...seriesUids].sort() };
}
