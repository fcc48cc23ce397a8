/**
 * VBQ benchmark: a 20-slice 512x512 16-bit phantom series with its ROI SR, measured end to end from disk,
 * compared with only reading and parsing the same files (baseline measured in the same run).
 * Run: `tsx bench/vbq.ts [explicit|rle|jpegls|j2k ...]` (default: explicit j2k).
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDicom } from '../src/imaging/dicom/parse.js';
import { ensureCodecs } from '../src/imaging/dicom/pixels.js';
import { parseRoiJson, readRoisFromSr } from '../src/imaging/roi.js';
import { writeMeasurementSr } from '../src/imaging/sr-writer.js';
import { measureStudy, measureSeries } from '../src/imaging/vbq.js';
import { keyedUidGenerator } from '../src/imaging/uids.js';
import { blockByName, ellipseIn, makePhantom } from '../test/helpers/phantom.js';
import type { PhantomSyntax } from '../test/helpers/phantom.js';

const SLICES = 20;
const SIZE = 512;
const WARMUP = 2;
const ITERATIONS = 10;

function readDir(dir: string): { names: string[]; files: Buffer[] } {
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.dcm'))
    .sort();
  return { names, files: names.map((n) => readFileSync(join(dir, n))) };
}

async function timeIt(fn: () => Promise<void> | void): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await fn();
  const t0 = performance.now();
  for (let i = 0; i < ITERATIONS; i++) await fn();
  return (performance.now() - t0) / ITERATIONS;
}

async function benchSyntax(syntax: PhantomSyntax): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vbq-bench-'));
  try {
    const p = await makePhantom({
      syntax,
      slices: SLICES,
      width: SIZE,
      height: SIZE,
      noise: 25,
      noiseStart: 3,
    });
    p.files.forEach((f, i) => writeFileSync(join(dir, `IM${String(i).padStart(3, '0')}.dcm`), f));
    const sop = p.sopInstanceUIDs[p.midSlice]!;
    const c = blockByName(p, 'CSF');
    const l3 = blockByName(p, 'L3');
    const json = parseRoiJson({
      rois: [
        ...['L1', 'L2', 'L3', 'L4', 'S1'].map((l) => ({
          label: l,
          shape: 'ellipse',
          points: ellipseIn(blockByName(p, l), 100, 25),
          sopInstanceUID: sop,
        })),
        {
          label: 'CSF',
          level: 'L3',
          shape: 'rectangle',
          points: [
            [c.x0 + 4, l3.y0 + 10],
            [c.x1 - 4, l3.y1 - 10],
          ],
          sopInstanceUID: sop,
        },
      ],
    });
    const study = await measureStudy({ files: p.files, rois: json });
    const sr = writeMeasurementSr({ ...study, uid: keyedUidGenerator('bench'), now: new Date(0) });
    const srPath = join(dir, 'rois-sr.dcm.sr');
    writeFileSync(srPath, sr.buffer);

    const baseline = await timeIt(() => {
      const { files, names } = readDir(dir);
      files.forEach((f, i) => parseDicom(f, { fileName: names[i] }));
      parseDicom(readFileSync(srPath));
    });
    let value: number | null = null;
    const measure = await timeIt(async () => {
      const { files, names } = readDir(dir);
      const rois = readRoisFromSr(parseDicom(readFileSync(srPath)).dataset);
      const results = await measureSeries({ files, fileNames: names, rois });
      value = results[0]!.value;
    });
    console.log(
      `${syntax.padEnd(14)} ${SLICES} x ${SIZE}x${SIZE} 16-bit + SR: measure ${measure.toFixed(1)} ms/study, ` +
        `read+parse ${baseline.toFixed(1)} ms, ratio ${(measure / baseline).toFixed(2)} (VBQ ${value})`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log('ratio = full measurement / (read + full parse of every file); below 1 is possible because');
console.log('slices without ROIs are only header-parsed and only ROI slices are decoded.');
const requested = process.argv.slice(2) as PhantomSyntax[];
await ensureCodecs();
for (const s of requested.length > 0 ? requested : (['explicit', 'j2k'] as PhantomSyntax[]))
  await benchSyntax(s);
