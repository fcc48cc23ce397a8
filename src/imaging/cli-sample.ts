/**
 * `vbq sample <dir>`: a small synthetic lumbar T1 sagittal series with a matching ROI file and the same
 * ROIs as a DICOM SR, so the README's example runs as written without patient images. Deterministic:
 * the same files (and UIDs) on every run.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT } from './cli-exit.js';
import { blockByName, ellipseIn, makePhantom } from './phantom.js';
import type { Block, Phantom } from './phantom.js';
import { parseRoiJson } from './roi.js';
import { writeMeasurementSr } from './sr-writer.js';
import { keyedUidGenerator } from './uids.js';
import { measureStudy } from './vbq.js';

/** Fixed so the sample (and the README's output) is the same on every run. */
const SAMPLE = {
  uidRoot: '2.25.271828182845904523536',
  width: 256,
  height: 256,
  slices: 5,
  noise: 12,
  noiseStart: 20250314,
  srWrittenAt: new Date('2025-03-14T12:00:00Z'),
} as const;

const ellipse = (b: Block, rx: number, ry: number) => ellipseIn(b, rx, ry, true);

/** The sample ROIs: every shape, an excluded level and a CSF ROI, all on the middle slice. */
export function sampleRois(p: Phantom): { rois: Record<string, unknown>[] } {
  const sop = p.sopInstanceUIDs[p.midSlice]!;
  const l3 = blockByName(p, 'L3');
  const csf = blockByName(p, 'CSF');
  return {
    rois: [
      { label: 'L1', shape: 'ellipse', points: ellipse(blockByName(p, 'L1'), 40, 12), sopInstanceUID: sop },
      { label: 'L2', shape: 'ellipse', points: ellipse(blockByName(p, 'L2'), 40, 12), sopInstanceUID: sop },
      {
        label: 'L3',
        shape: 'rectangle',
        points: [
          [l3.x0 + 20, l3.y0 + 8],
          [l3.x1 - 20, l3.y1 - 8],
        ],
        sopInstanceUID: sop,
      },
      {
        label: 'L4',
        shape: 'ellipse',
        points: ellipse(blockByName(p, 'L4'), 40, 12),
        sopInstanceUID: sop,
        exclude: 'fracture',
      },
      {
        label: 'CSF',
        level: 'L3',
        shape: 'polygon',
        points: [
          [csf.x0 + 2, l3.y0 + 6],
          [csf.x1 - 2, l3.y0 + 6],
          [csf.x1 - 2, l3.y1 - 6],
          [csf.x0 + 2, l3.y1 - 6],
        ],
        sopInstanceUID: sop,
      },
    ],
  };
}

/** Runs `vbq sample <dir>`; refuses a directory that already holds files (nothing is overwritten). */
export async function runSample(
  dir: string,
  io: { stdout: (t: string) => void; stderr: (t: string) => void },
): Promise<number> {
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (existing.length > 0) {
    io.stderr(`vbq: ${dir} is not empty; name a new directory for the sample\n`);
    return EXIT.usage;
  }
  const p = await makePhantom(SAMPLE);
  const seriesDir = join(dir, 'series');
  await mkdir(seriesDir, { recursive: true });
  for (const [i, file] of p.files.entries()) {
    await writeFile(join(seriesDir, `IM${String(i + 1).padStart(4, '0')}.dcm`), file);
  }
  const roiJson = sampleRois(p);
  await writeFile(join(dir, 'rois.json'), `${JSON.stringify(roiJson, null, 2)}\n`);
  // The SR carries the same ROIs (TID 1500, as a viewer would store them), for `--sr`.
  const study = await measureStudy({ files: p.files, rois: parseRoiJson(roiJson) });
  const sr = writeMeasurementSr({
    ...study,
    uid: keyedUidGenerator(SAMPLE.uidRoot),
    now: SAMPLE.srWrittenAt,
  });
  await writeFile(join(dir, 'rois-sr.dcm'), sr.buffer);
  const sop = p.sopInstanceUIDs[p.midSlice]!;
  io.stdout(
    [
      `wrote ${seriesDir}: synthetic lumbar T1 sagittal series, ${p.files.length} images ${SAMPLE.width}x${SAMPLE.height}`,
      `wrote ${join(dir, 'rois.json')}: ${roiJson.rois.length} ROIs on image ${sop} (L4 excluded: fracture)`,
      `wrote ${join(dir, 'rois-sr.dcm')}: the same ROIs as a DICOM SR (TID 1500)`,
      '',
    ].join('\n'),
  );
  return EXIT.ok;
}
