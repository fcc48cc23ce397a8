/**
 * `vbq inspect`: what a set of DICOM files holds (studies, series, instances with their SOP Instance
 * UIDs, sequence and acquisition facts) and whether a series passes the VBQ acquisition checks, so a
 * user can write an ROI file against the right images. Prints no patient data.
 */
import { assessMrImage, sequenceLabel } from './acquisition.js';
import { SkippedFiles, readInputFiles } from './cli-files.js';
import { EXIT } from './cli-exit.js';
import type { DicomHeader } from './dicom/header.js';
import { parseDicom } from './dicom/parse.js';
import { DicomReadError } from './dicom/read-error.js';

interface SeriesListing {
  seriesInstanceUID: string;
  modality: string;
  description?: string;
  sequence?: string;
  plane: string;
  acquisition: string[];
  /** Acquisition refusal codes a lumbar VBQ on this series would get (MR only). */
  vbqCheck?: string[];
  instances: {
    instanceNumber?: number;
    sopInstanceUID: string;
    rows: number;
    columns: number;
    frames: number;
  }[];
}

interface StudyListing {
  studyInstanceUID: string;
  date?: string;
  description?: string;
  series: SeriesListing[];
}

function acquisitionFacts(h: DicomHeader): string[] {
  return [
    h.fieldStrengthT !== undefined ? `${h.fieldStrengthT} T` : undefined,
    h.trMs !== undefined ? `TR ${h.trMs} ms` : undefined,
    h.teMs !== undefined ? `TE ${h.teMs} ms` : undefined,
    h.pixelBandwidthHz !== undefined ? `BW ${h.pixelBandwidthHz} Hz/px` : undefined,
    [h.manufacturer, h.model].filter(Boolean).join(' ') || undefined,
    h.acquisitionDateTime,
  ].filter((x): x is string => x !== undefined);
}

function listing(headers: DicomHeader[]): StudyListing[] {
  const studies = new Map<string, StudyListing>();
  for (const h of headers) {
    let study = studies.get(h.studyInstanceUID);
    if (!study) {
      study = { studyInstanceUID: h.studyInstanceUID, series: [] };
      if (h.studyDate) study.date = h.studyDate;
      if (h.studyDescription) study.description = h.studyDescription;
      studies.set(h.studyInstanceUID, study);
    }
    let series = study.series.find((s) => s.seriesInstanceUID === h.seriesInstanceUID);
    if (!series) {
      const isImage = h.modality !== 'SR' && h.hasPixelData;
      series = {
        seriesInstanceUID: h.seriesInstanceUID,
        modality: h.modality || '?',
        plane: h.plane,
        acquisition: isImage ? acquisitionFacts(h) : [],
        instances: [],
      };
      if (h.seriesDescription) series.description = h.seriesDescription;
      if (isImage) series.sequence = sequenceLabel(h);
      if (h.modality === 'MR') series.vbqCheck = [...new Set(assessMrImage(h, 'lumbar').map((r) => r.code))];
      study.series.push(series);
    }
    series.instances.push({
      ...(h.instanceNumber !== undefined ? { instanceNumber: h.instanceNumber } : {}),
      sopInstanceUID: h.sopInstanceUID,
      rows: h.rows,
      columns: h.columns,
      frames: h.numberOfFrames,
    });
  }
  for (const study of studies.values()) {
    for (const s of study.series) {
      s.instances.sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0));
    }
  }
  return [...studies.values()];
}

function text(studies: StudyListing[]): string {
  const lines: string[] = [];
  for (const st of studies) {
    lines.push(
      `study ${st.studyInstanceUID}${st.date ? ` (${st.date})` : ''}${st.description ? ` ${st.description}` : ''}`,
    );
    for (const se of st.series) {
      const n = se.instances.length;
      lines.push(
        `  series ${se.seriesInstanceUID} ${se.modality}${se.description ? ` "${se.description}"` : ''}, ${n} instance${n === 1 ? '' : 's'}`,
      );
      if (se.sequence) lines.push(`    sequence: ${se.sequence}, ${se.plane}`);
      if (se.acquisition.length > 0) lines.push(`    acquisition: ${se.acquisition.join(', ')}`);
      if (se.vbqCheck) {
        lines.push(
          `    lumbar VBQ check: ${se.vbqCheck.length === 0 ? 'passes' : `refused (${se.vbqCheck.join(', ')})`}`,
        );
      }
      for (const i of se.instances) {
        const size = i.rows > 0 ? ` ${i.columns}x${i.rows}${i.frames > 1 ? `x${i.frames}` : ''}` : '';
        lines.push(`    instance ${i.instanceNumber ?? '?'}: ${i.sopInstanceUID}${size}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Runs `vbq inspect`; returns the exit code. */
export async function runInspect(
  opts: { paths: string[]; json: boolean },
  io: { stdout: (t: string) => void; stderr: (t: string) => void },
): Promise<number> {
  const skipped = new SkippedFiles(io.stderr);
  let input;
  try {
    input = await readInputFiles(opts.paths, (f, code) => skipped.skip(`${f}: cannot read (${code})`));
  } catch (err) {
    io.stderr(`vbq: ${(err as Error).message}\n`);
    return EXIT.unreadable;
  }
  const headers: DicomHeader[] = [];
  input.files.forEach((buf, i) => {
    try {
      headers.push(parseDicom(buf, { headerOnly: true, fileName: input.fileNames[i]! }).header);
    } catch (err) {
      if (!(err instanceof DicomReadError)) throw err;
      skipped.skip(`${err.code}: ${err.message}`);
    }
  });
  skipped.summary(input.files.length);
  if (headers.length === 0) {
    io.stderr('vbq: invalid-dicom: no readable DICOM files\n');
    return EXIT.unreadable;
  }
  const studies = listing(headers);
  io.stdout(opts.json ? `${JSON.stringify({ studies }, null, 2)}\n` : text(studies));
  return EXIT.ok;
}
