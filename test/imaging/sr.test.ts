import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import { keyedUidGenerator } from '../../src/imaging/uids.js';
import { parseLabel, parseRoiJson, readRoisFromSr } from '../../src/imaging/roi.js';
import { formatDs, readSrMetricValues, writeMeasurementSr } from '../../src/imaging/sr-writer.js';
import { measureSeries, measureStudy } from '../../src/imaging/vbq.js';
import { blockByName, ellipseIn, makePhantom } from '../helpers/phantom.js';
import type { Phantom } from '../helpers/phantom.js';
import { buildViewerSr, lumbarViewerRois } from './ohif-sr.js';

function csfPolyline(p: Phantom, level: string): [number, number][] {
  const c = blockByName(p, 'CSF');
  const l = blockByName(p, level);
  return [
    [c.x0 + 2, l.y0 + 2],
    [c.x1 - 2, l.y0 + 2],
    [c.x1 - 2, l.y1 - 2],
    [c.x0 + 2, l.y1 - 2],
    [c.x0 + 2, l.y0 + 2],
  ];
}

describe('SR reader (OHIF / Cornerstone style TID 1500 built with dcmjs)', () => {
  it('reads ellipses and polylines, levels from SNOMED finding sites or free-text labels', async () => {
    const p = await makePhantom({ noise: 10 });
    const sop = p.sopInstanceUIDs[p.midSlice]!;
    const sr = buildViewerSr(p, [
      { label: 'L1', shape: 'ellipse', points: ellipseIn(blockByName(p, 'L1'), 18, 4), sopInstanceUID: sop },
      {
        label: 'vertebra',
        shape: 'ellipse',
        points: ellipseIn(blockByName(p, 'L2'), 18, 4),
        sopInstanceUID: sop,
        findingSite: { code: '14293000', meaning: 'L2 vertebra' },
      },
      {
        label: 'body',
        shape: 'ellipse',
        points: ellipseIn(blockByName(p, 'L3'), 18, 4),
        sopInstanceUID: sop,
        findingSite: { code: '36470004', meaning: 'L3 vertebra', scheme: 'SRT' },
      },
      { label: 'L4', shape: 'ellipse', points: ellipseIn(blockByName(p, 'L4'), 18, 4), sopInstanceUID: sop },
      { label: 'CSF L3', shape: 'polyline', points: csfPolyline(p, 'L3'), sopInstanceUID: sop },
      {
        label: 'arrow to nothing',
        shape: 'ellipse',
        points: ellipseIn(blockByName(p, 'L5'), 5, 3),
        sopInstanceUID: sop,
      },
    ]);
    const parsed = parseDicom(sr);
    const read = readRoisFromSr(parsed.dataset);
    expect(read.source).toMatchObject({ kind: 'sr', srSopInstanceUID: parsed.header.sopInstanceUID });
    expect(read.rois.map((r) => [r.kind, r.level, r.shape])).toEqual([
      ['body', 'L1', 'ellipse'],
      ['body', 'L2', 'ellipse'],
      ['body', 'L3', 'ellipse'],
      ['body', 'L4', 'ellipse'],
      ['csf', 'L3', 'polygon'],
    ]);
    expect(read.rois[4]!.points).toHaveLength(4);
    expect(read.skipped).toHaveLength(1);
    expect(read.skipped[0]).toMatch(/no vertebral level or CSF label/);

    // Measuring from the SR equals measuring from the same ROIs given as JSON.
    const fromSr = await measureSeries({ files: p.files, rois: read });
    const json = parseRoiJson({
      rois: [
        ...['L1', 'L2', 'L3', 'L4'].map((l) => ({
          label: l,
          shape: 'ellipse',
          points: ellipseIn(blockByName(p, l), 18, 4),
          sopInstanceUID: sop,
        })),
        {
          label: 'CSF',
          level: 'L3',
          shape: 'polygon',
          points: csfPolyline(p, 'L3').slice(0, 4),
          sopInstanceUID: sop,
        },
      ],
    });
    const fromJson = await measureSeries({ files: p.files, rois: json });
    expect(fromSr[0]!.value).toBe(fromJson[0]!.value);
    expect(fromSr[0]!.roiSource).toMatchObject({
      kind: 'sr',
      srSopInstanceUID: parsed.header.sopInstanceUID,
    });
  });

  it.each(['finding-site', 'comment'] as const)(
    'reads the label where the viewer writes it only in a %s (older OHIF v3 / current @cornerstonejs/adapters)',
    async (layout) => {
      const p = await makePhantom({ noise: 10 });
      const rois = lumbarViewerRois(p);
      const sr = buildViewerSr(p, rois, '2.25.999000111222333.7', layout);
      const parsed = parseDicom(sr);
      // The label is nowhere else: no free-text finding, and the tracking identifier names the tool only.
      const text = JSON.stringify(parsed.dataset);
      expect(text).not.toContain('"121071"');
      const read = readRoisFromSr(parsed.dataset);
      expect(read.skipped).toEqual([]);
      expect(read.rois.map((r) => [r.kind, r.level, r.shape])).toEqual([
        ['body', 'L1', 'ellipse'],
        ['body', 'L2', 'ellipse'],
        ['body', 'L3', 'ellipse'],
        ['body', 'L4', 'ellipse'],
        ['csf', 'L3', 'polygon'],
      ]);
      // The outline, not the label box position (a POINT), is what is measured.
      expect(read.rois[0]!.points).toEqual(rois[0]!.points);
      const fromLayout = await measureSeries({ files: p.files, rois: read });
      const fromFinding = await measureSeries({
        files: p.files,
        rois: readRoisFromSr(parseDicom(buildViewerSr(p, rois)).dataset),
      });
      expect(fromLayout[0]!.value).not.toBeNull();
      expect(fromLayout[0]!.value).toBe(fromFinding[0]!.value);
    },
  );

  it('rejects non-SR and non-TID-1500 documents as invalid-roi', async () => {
    const p = await makePhantom({ slices: 1 });
    expect(() => readRoisFromSr(parseDicom(p.files[0]!).dataset)).toThrow(AppError);
    const ds = {
      Modality: 'SR',
      SOPInstanceUID: '1.2.3',
      ConceptNameCodeSequence: [
        { CodeValue: '18748-4', CodingSchemeDesignator: 'LN', CodeMeaning: 'Diagnostic imaging report' },
      ],
    };
    expect(() => readRoisFromSr(ds)).toThrow(/not a TID 1500 measurement report/);
  });

  it('parses free-text labels', () => {
    expect(parseLabel('L1')).toEqual({ kind: 'body', level: 'L1' });
    expect(parseLabel('CSF L3')).toEqual({ kind: 'csf', level: 'L3' });
    expect(parseLabel('csf')).toEqual({ kind: 'csf' });
    expect(parseLabel('L4 endplate')).toEqual({ kind: 'endplate', level: 'L4' });
    expect(parseLabel('C5')).toEqual({ kind: 'body', level: 'C5' });
    expect(parseLabel('L12')).toBeUndefined();
    expect(parseLabel('Cornerstone3DTools@^0.1.0:EllipticalROI')).toBeUndefined();
  });
});

describe('SR writer', () => {
  it('writes a TID 1500 SR that our reader reads back to the same ROIs and the same scores', async () => {
    const p = await makePhantom({ noise: 15, endplate: 300, syntax: 'rle' });
    const sop = p.sopInstanceUIDs[p.midSlice]!;
    const b = (n: string) => blockByName(p, n);
    const c = b('CSF');
    const json = parseRoiJson({
      rois: [
        ...['L1', 'L3', 'L4', 'S1'].map((l) => ({
          label: l,
          shape: 'ellipse',
          points: ellipseIn(b(l), 18, 4),
          sopInstanceUID: sop,
        })),
        {
          label: 'L2',
          shape: 'ellipse',
          points: ellipseIn(b('L2'), 18, 4),
          sopInstanceUID: sop,
          exclude: 'fracture',
        },
        {
          label: 'L3',
          kind: 'endplate',
          shape: 'rectangle',
          points: [
            [b('L3').x0 + 4, b('L3').y0],
            [b('L3').x1 - 4, b('L3').y0 + 2],
          ],
          sopInstanceUID: sop,
        },
        {
          label: 'CSF',
          level: 'L3',
          shape: 'rectangle',
          points: [
            [c.x0 + 2, b('L3').y0 + 2],
            [c.x1 - 2, b('L3').y1 - 2],
          ],
          sopInstanceUID: sop,
        },
      ],
    });
    const study = await measureStudy({ files: p.files, rois: json });
    const written = writeMeasurementSr({
      ...study,
      uid: keyedUidGenerator('test'),
      now: new Date('2025-03-15T08:00:00Z'),
    });
    const parsed = parseDicom(written.buffer);
    expect(parsed.header).toMatchObject({
      modality: 'SR',
      studyInstanceUID: p.studyInstanceUID,
      sopInstanceUID: written.sopInstanceUID,
      patientId: 'PHANTOM-001',
    });
    const back = readRoisFromSr(parsed.dataset);
    expect(back.skipped).toEqual([]);
    expect(back.rois.map((r) => [r.kind, r.level, r.exclude])).toEqual(
      json.rois.map((r) => [r.kind, r.level, r.exclude]),
    );
    expect(back.rois.map((r) => r.viewerMean)).toEqual(study.rois.map((m) => Number(formatDs(m.stats.mean))));

    const again = await measureSeries({ files: p.files, rois: back });
    for (const r of study.results) {
      const twin = again.find((x) => x.metric === r.metric)!;
      expect(twin.value).toBe(r.value);
      expect(twin.exclusions).toEqual(r.exclusions);
    }
    const stored = readSrMetricValues(parsed.dataset);
    for (const r of study.results) expect(stored[r.metric]).toBeCloseTo(r.value!, 8);

    // Deterministic UIDs: the same key writes the same instance (idempotent STOW).
    const twice = writeMeasurementSr({
      ...study,
      uid: keyedUidGenerator('test'),
      now: new Date('2025-03-15T08:00:00Z'),
    });
    expect(twice.sopInstanceUID).toBe(written.sopInstanceUID);
    expect(Buffer.from(twice.buffer).equals(Buffer.from(written.buffer))).toBe(true);
  });

  it('formats DS values within 16 characters', () => {
    expect(formatDs(2.5)).toBe('2.5');
    expect(formatDs(1 / 3).length).toBeLessThanOrEqual(16);
    expect(Number(formatDs(123456.7891234567))).toBeCloseTo(123456.789123, 5);
    expect(formatDs(-0.000012345678901234).length).toBeLessThanOrEqual(16);
  });
});
