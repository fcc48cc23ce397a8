import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import { DicomReadError } from '../../src/imaging/dicom/read-error.js';
import { parseRoiJson } from '../../src/imaging/roi.js';
import { measureSeries } from '../../src/imaging/vbq.js';
import type { MeasurementResult, Metric } from '../../src/imaging/measurement.js';
import { blockByName, makePhantom, referenceStats } from '../helpers/phantom.js';
import type { Block, Phantom, PhantomOptions, PhantomSyntax } from '../helpers/phantom.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dicom');

type JsonRoi = Record<string, unknown>;

/** An ellipse ROI inside a body, clear of the endplate band (rows y0..y0+1 and y1-2..y1-1). */
function bodyEllipse(b: Block, sop: string, extra: JsonRoi = {}): JsonRoi {
  const cx = (b.x0 + b.x1) / 2;
  const cy = (b.y0 + b.y1) / 2;
  return {
    label: b.name,
    shape: 'ellipse',
    points: [
      [cx - 20, cy],
      [cx + 20, cy],
      [cx, cy - 4],
      [cx, cy + 4],
    ],
    sopInstanceUID: sop,
    ...extra,
  };
}
const insideBodyEllipse = (b: Block) => (x: number, y: number) =>
  ((x - (b.x0 + b.x1) / 2) / 20) ** 2 + ((y - (b.y0 + b.y1) / 2) / 4) ** 2 <= 1;

function endplateRect(b: Block, sop: string, where: 'upper' | 'lower'): JsonRoi {
  const y = where === 'upper' ? b.y0 : b.y1 - 2;
  return {
    label: b.name,
    kind: 'endplate',
    shape: 'rectangle',
    points: [
      [b.x0 + 4, y],
      [b.x1 - 4, y + 2],
    ],
    sopInstanceUID: sop,
  };
}
const insideEndplate = (b: Block, where: 'upper' | 'lower') => (x: number, y: number) => {
  const y0 = where === 'upper' ? b.y0 : b.y1 - 2;
  return x >= b.x0 + 4 && x <= b.x1 - 4 && y >= y0 && y <= y0 + 2;
};

function csfRect(p: Phantom, level: Block, sop: string, csfLevel = level.name): JsonRoi {
  const c = blockByName(p, 'CSF');
  return {
    label: 'CSF',
    level: csfLevel,
    shape: 'rectangle',
    points: [
      [c.x0 + 2, level.y0 + 2],
      [c.x1 - 2, level.y1 - 2],
    ],
    sopInstanceUID: sop,
  };
}
const insideCsf = (p: Phantom, level: Block) => {
  const c = blockByName(p, 'CSF');
  return (x: number, y: number) => x >= c.x0 + 2 && x <= c.x1 - 2 && y >= level.y0 + 2 && y <= level.y1 - 2;
};

function byMetric(results: MeasurementResult[], metric: Metric): MeasurementResult {
  const r = results.find((x) => x.metric === metric);
  if (!r) throw new Error(`no ${metric} result; got ${results.map((x) => x.metric).join(', ')}`);
  return r;
}

async function lumbar(
  opts: PhantomOptions = {},
): Promise<{ p: Phantom; sop: string; b: (n: string) => Block }> {
  const p = await makePhantom({ endplate: 300, ...opts });
  return { p, sop: p.sopInstanceUIDs[p.midSlice]!, b: (n) => blockByName(p, n) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

describe('VBQ family on noise-free phantoms (hand-checkable numbers)', () => {
  it('VBQ = median(L1..L4 SI) / CSF SI = 410 / 164 = 2.5; S1 VBQ = 500/164; EBQ = 300/164', async () => {
    const { p, sop, b } = await lumbar();
    const rois = parseRoiJson({
      rois: [
        ...['L1', 'L2', 'L3', 'L4', 'S1'].map((l) => bodyEllipse(b(l), sop)),
        endplateRect(b('L3'), sop, 'lower'),
        endplateRect(b('L4'), sop, 'upper'),
        csfRect(p, b('L3'), sop),
      ],
    });
    const results = await measureSeries({ files: p.files, rois });
    const vbq = byMetric(results, 'vbq-l1-l4');
    expect(vbq.value).toBe(2.5);
    expect(vbq.validity).toEqual({ valid: true, reasons: [] });
    expect(vbq.levels.map((l) => [l.level, l.si, l.sd, l.median])).toEqual([
      ['L1', 400, 0, 400],
      ['L2', 420, 0, 420],
      ['L3', 380, 0, 380],
      ['L4', 440, 0, 440],
    ]);
    expect(vbq.csf).toMatchObject({ level: 'L3', si: 164 });
    expect(byMetric(results, 'vbq-s1').value).toBe(500 / 164);
    expect(byMetric(results, 'ebq').value).toBe(300 / 164);
    expect(results.map((r) => r.metric).sort()).toEqual(['ebq', 'vbq-l1-l4', 'vbq-s1']);
  });
});

describe.each<PhantomSyntax>(['explicit', 'implicit', 'rle', 'jpegls', 'j2k', 'jpeg-lossless'])(
  'every metric exactly on a noisy phantom, transfer syntax %s',
  (syntax) => {
    it('matches brute-force statistics of the known pixels', async () => {
      const { p, sop, b } = await lumbar({
        syntax,
        noise: 30,
        noiseStart: 1234,
        rescaleSlope: 2,
        rescaleIntercept: -50,
      });
      const rois = parseRoiJson({
        rois: [
          ...['L1', 'L2', 'L3', 'L4', 'S1'].map((l) => bodyEllipse(b(l), sop)),
          endplateRect(b('L2'), sop, 'lower'),
          endplateRect(b('L3'), sop, 'upper'),
          csfRect(p, b('L3'), sop),
        ],
      });
      const results = await measureSeries({ files: p.files, rois });
      const truth = p.truth[p.midSlice]!;
      const ref = (inside: (x: number, y: number) => boolean) => referenceStats(truth, p.width, inside);
      const levels = ['L1', 'L2', 'L3', 'L4'].map((l) => ref(insideBodyEllipse(b(l))));
      const csf = ref(insideCsf(p, b('L3')));

      const vbq = byMetric(results, 'vbq-l1-l4');
      vbq.levels.forEach((l, i) => {
        expect(l.si).toBe(levels[i]!.mean);
        expect(l.median).toBe(levels[i]!.median);
        expect(l.pixelCount).toBe(levels[i]!.n);
        expect(l.sd).toBeCloseTo(levels[i]!.sd, 9);
      });
      expect(vbq.csf?.si).toBe(csf.mean);
      expect(vbq.value).toBe(median(levels.map((l) => l.mean)) / csf.mean);
      // The noise really is there (guards against a decoder that returns the noise-free image).
      expect(levels[0]!.sd).toBeGreaterThan(10);

      const s1 = ref(insideBodyEllipse(b('S1')));
      expect(byMetric(results, 'vbq-s1').value).toBe(s1.mean / csf.mean);

      const ep = [ref(insideEndplate(b('L2'), 'lower')), ref(insideEndplate(b('L3'), 'upper'))];
      expect(byMetric(results, 'ebq').value).toBe((ep[0]!.mean + ep[1]!.mean) / 2 / csf.mean);
    });
  },
);

describe('levels, exclusions and CSF choice', () => {
  it('excludes levels with their reasons and uses the rest', async () => {
    const { p, sop, b } = await lumbar();
    const rois = parseRoiJson({
      rois: [
        bodyEllipse(b('L1'), sop),
        bodyEllipse(b('L2'), sop, { exclude: 'fracture' }),
        bodyEllipse(b('L3'), sop),
        bodyEllipse(b('L4'), sop, { exclude: 'instrumented' }),
        csfRect(p, b('L3'), sop),
      ],
    });
    const vbq = byMetric(await measureSeries({ files: p.files, rois }), 'vbq-l1-l4');
    expect(vbq.value).toBe(390 / 164);
    expect(vbq.levels.map((l) => l.level)).toEqual(['L1', 'L3']);
    expect(vbq.exclusions).toEqual([
      { level: 'L2', reason: 'fracture' },
      { level: 'L4', reason: 'instrumented' },
    ]);
  });

  it('refuses VBQ with too-few-levels when fewer than two lumbar levels remain, while S1 VBQ stays valid', async () => {
    const { p, sop, b } = await lumbar();
    const rois = parseRoiJson({
      rois: [
        bodyEllipse(b('L1'), sop, { exclude: 'cement' }),
        bodyEllipse(b('L2'), sop, { exclude: 'fracture' }),
        bodyEllipse(b('L3'), sop, { exclude: 'instrumented' }),
        bodyEllipse(b('L4'), sop),
        bodyEllipse(b('S1'), sop),
        csfRect(p, b('L3'), sop),
      ],
    });
    const results = await measureSeries({ files: p.files, rois });
    const vbq = byMetric(results, 'vbq-l1-l4');
    expect(vbq.value).toBeNull();
    expect(vbq.validity.valid).toBe(false);
    expect(vbq.validity.reasons.map((r) => r.code)).toEqual(['too-few-levels']);
    expect(byMetric(results, 'vbq-s1').value).toBe(500 / 164);
  });

  it('pools several ROIs of one level into one signal intensity', async () => {
    const { p, sop, b } = await lumbar({ noise: 40, noiseStart: 9 });
    const l1 = b('L1');
    const left = {
      label: 'L1',
      shape: 'rectangle',
      points: [
        [l1.x0 + 2, l1.y0 + 4],
        [l1.x0 + 12, l1.y0 + 10],
      ],
      sopInstanceUID: sop,
    };
    const right = {
      label: 'L1',
      shape: 'rectangle',
      points: [
        [l1.x1 - 12, l1.y0 + 4],
        [l1.x1 - 2, l1.y0 + 10],
      ],
      sopInstanceUID: sop,
    };
    const rois = parseRoiJson({ rois: [left, right, bodyEllipse(b('L2'), sop), csfRect(p, b('L3'), sop)] });
    const vbq = byMetric(await measureSeries({ files: p.files, rois }), 'vbq-l1-l4');
    const ref = referenceStats(
      p.truth[p.midSlice]!,
      p.width,
      (x, y) =>
        y >= l1.y0 + 4 &&
        y <= l1.y0 + 10 &&
        ((x >= l1.x0 + 2 && x <= l1.x0 + 12) || (x >= l1.x1 - 12 && x <= l1.x1 - 2)),
    );
    const pooled = vbq.levels.find((l) => l.level === 'L1')!;
    expect(pooled.pixelCount).toBe(ref.n);
    expect(pooled.si).toBeCloseTo(ref.mean, 10);
    expect(pooled.median).toBe(ref.median);
    expect(pooled.roiIds).toEqual(['roi-0', 'roi-1']);
  });

  it('uses CSF at L3 first, then L2 or L4, and refuses without a usable CSF ROI', async () => {
    const { p, sop, b } = await lumbar({ csf: 200 });
    const bodies = ['L1', 'L2', 'L3', 'L4'].map((l) => bodyEllipse(b(l), sop));
    const run = async (csf: JsonRoi[]) =>
      byMetric(
        await measureSeries({ files: p.files, rois: parseRoiJson({ rois: [...bodies, ...csf] }) }),
        'vbq-l1-l4',
      );

    const both = await run([csfRect(p, b('L2'), sop), csfRect(p, b('L3'), sop)]);
    expect(both.csf?.level).toBe('L3');
    const l2 = await run([csfRect(p, b('L2'), sop)]);
    expect(l2.csf?.level).toBe('L2');
    expect(l2.value).toBe(410 / 200);
    const l3Obstructed = await run(
      [csfRect(p, b('L3'), sop), csfRect(p, b('L4'), sop)].map((r, i) =>
        i === 0 ? { ...r, exclude: 'stenosis' } : r,
      ),
    );
    expect(l3Obstructed.csf?.level).toBe('L4');

    for (const csf of [[], [csfRect(p, b('L1'), sop)], [{ ...csfRect(p, b('L3'), sop), level: undefined }]]) {
      const r = await run(csf);
      expect(r.value).toBeNull();
      expect(r.validity.reasons.map((x) => x.code)).toContain('csf-roi-missing');
    }
  });

  it('computes C-VBQ = median(C3..C6) / CSF at C2 on a cervical phantom', async () => {
    const p = await makePhantom({
      bodies: { C2: 350, C3: 360, C4: 380, C5: 400, C6: 410, C7: 420 },
      csf: 150,
      header: { BodyPartExamined: 'CSPINE', StudyDescription: 'MRI CERVICAL SPINE' },
    });
    const sop = p.sopInstanceUIDs[p.midSlice]!;
    const b = (n: string) => blockByName(p, n);
    const rois = parseRoiJson({
      rois: [
        ...['C2', 'C3', 'C4', 'C5', 'C6', 'C7'].map((l) => bodyEllipse(b(l), sop)),
        csfRect(p, b('C2'), sop),
      ],
    });
    const results = await measureSeries({ files: p.files, rois });
    expect(results.map((r) => r.metric)).toEqual(['c-vbq']);
    const c = results[0]!;
    expect(c.value).toBe(390 / 150);
    expect(c.levels.map((l) => l.level)).toEqual(['C3', 'C4', 'C5', 'C6']);
    expect(c.csf?.level).toBe('C2');

    // Lumbar labels on a cervical examination are refused, not measured.
    const wrong = parseRoiJson({
      rois: [
        { ...bodyEllipse(b('C3'), sop), label: 'L1' },
        { ...bodyEllipse(b('C4'), sop), label: 'L2' },
        csfRect(p, b('C5'), sop, 'L3'),
      ],
    });
    const refused = byMetric(await measureSeries({ files: p.files, rois: wrong }), 'vbq-l1-l4');
    expect(refused.value).toBeNull();
    expect(refused.validity.reasons.map((r) => r.code)).toEqual(['region-mismatch']);
  });
});

describe('validity refusals on phantoms', () => {
  const cases: { name: string; header: Record<string, unknown>; code: string }[] = [
    {
      name: 'T2',
      header: { SeriesDescription: 't2_tse_sag', RepetitionTime: '3200', EchoTime: '96' },
      code: 'not-t1',
    },
    {
      name: 'PD by TR/TE',
      header: { SeriesDescription: 'sag spine', RepetitionTime: '2500', EchoTime: '20' },
      code: 'not-t1',
    },
    {
      name: 'T1 FLAIR',
      header: {
        SeriesDescription: 't1_flair_sag',
        ScanningSequence: ['SE', 'IR'],
        InversionTime: '860',
        RepetitionTime: '2000',
        EchoTime: '9',
      },
      code: 'flair-or-inversion-recovery',
    },
    { name: 'contrast agent', header: { ContrastBolusAgent: 'Gadobutrol' }, code: 'contrast-enhanced' },
    {
      name: 'post-contrast label',
      header: { SeriesDescription: 't1_tse_sag +C' },
      code: 'contrast-enhanced',
    },
    {
      name: 'axial',
      header: { ImageOrientationPatient: ['1', '0', '0', '0', '1', '0'] },
      code: 'not-sagittal',
    },
    { name: 'fat suppressed', header: { ScanOptions: ['FS'] }, code: 'fat-suppressed' },
    {
      name: 'gradient echo',
      header: { ScanningSequence: 'GR', SeriesDescription: 't1_vibe_sag' },
      code: 'not-spin-echo',
    },
    {
      name: 'shoulder',
      header: { BodyPartExamined: 'SHOULDER', StudyDescription: 'MR SHOULDER' },
      code: 'not-spine',
    },
  ];
  it.each(cases)('refuses $name with $code', async ({ header, code }) => {
    const { p, sop, b } = await lumbar({ header, slices: 1 });
    const rois = parseRoiJson({
      rois: [...['L1', 'L2', 'L3', 'L4'].map((l) => bodyEllipse(b(l), sop)), csfRect(p, b('L3'), sop)],
    });
    const vbq = byMetric(await measureSeries({ files: p.files, rois }), 'vbq-l1-l4');
    expect(vbq.value).toBeNull();
    expect(vbq.validity.valid).toBe(false);
    expect(vbq.validity.reasons.map((r) => r.code)).toContain(code);
    // The numbers are still reported for review, only the score is withheld.
    expect(vbq.levels).toHaveLength(4);
  });

  it('does not flag "non-contrast" descriptions as contrast-enhanced', async () => {
    const { p, sop, b } = await lumbar({ header: { SeriesDescription: 'T1 SAG NON-CONTRAST' }, slices: 1 });
    const rois = parseRoiJson({
      rois: [bodyEllipse(b('L1'), sop), bodyEllipse(b('L2'), sop), csfRect(p, b('L3'), sop)],
    });
    expect(byMetric(await measureSeries({ files: p.files, rois }), 'vbq-l1-l4').validity.valid).toBe(true);
  });

  it('refuses VBQ on CT (not-mr) and measures L1 HU instead', async () => {
    const { p, sop, b } = await lumbar({
      slices: 1,
      bodies: { L1: 1174, L2: 1150, L3: 1160, L4: 1170 },
      csf: 1030,
      rescaleIntercept: -1024,
      header: { Modality: 'CT', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2', SeriesDescription: 'SAG BONE' },
    });
    const rois = parseRoiJson({
      rois: [...['L1', 'L2', 'L3', 'L4'].map((l) => bodyEllipse(b(l), sop)), csfRect(p, b('L3'), sop)],
    });
    const results = await measureSeries({ files: p.files, rois });
    expect(byMetric(results, 'vbq-l1-l4').validity.reasons.map((r) => r.code)).toEqual(['not-mr']);
    const hu = byMetric(results, 'ct-hu-l1');
    expect(hu).toMatchObject({ value: 150, unit: 'HU', validity: { valid: true } });
  });

  it('refuses ROIs spread over two series (mixed-series)', async () => {
    const a = await lumbar({ slices: 1 });
    const other = await makePhantom({
      slices: 1,
      uidRoot: '2.25.777',
      header: { SeriesDescription: 't1_tse_sag_2' },
    });
    const rois = parseRoiJson({
      rois: [
        bodyEllipse(a.b('L1'), a.sop),
        bodyEllipse(a.b('L2'), a.sop),
        csfRect(other, blockByName(other, 'L3'), other.sopInstanceUIDs[0]!),
      ],
    });
    const vbq = byMetric(await measureSeries({ files: [...a.p.files, ...other.files], rois }), 'vbq-l1-l4');
    expect(vbq.validity.reasons.map((r) => r.code)).toEqual(['mixed-series']);
  });
});

describe('real DICOM samples are refused with clear reasons', () => {
  async function measureFixture(name: string) {
    const buf = readFileSync(join(FIXTURES, name));
    const h = parseDicom(buf, { headerOnly: true }).header;
    const cx = h.columns / 2;
    const cy = h.rows / 2;
    const k = h.rows / 256;
    const ell = (label: string, dy: number) => ({
      label,
      shape: 'ellipse',
      points: [
        [cx - 8 * k, cy + dy * k],
        [cx + 8 * k, cy + dy * k],
        [cx, cy + (dy - 4) * k],
        [cx, cy + (dy + 4) * k],
      ],
      sopInstanceUID: h.sopInstanceUID,
    });
    const rois = parseRoiJson({
      rois: [ell('L1', -30), ell('L2', -10), ell('L3', 10), ell('L4', 30), { ...ell('CSF', 0), level: 'L3' }],
    });
    return byMetric(await measureSeries({ files: [buf], fileNames: [name], rois }), 'vbq-l1-l4');
  }

  it('real sagittal T2 lumbar MR (0.3 T, JPEG 2000) -> not-t1', async () => {
    const r = await measureFixture('orthanc-tests_2022-03-08-RicSmi_MR_LSPINE_T2_SAG_J2K.dcm');
    expect(r.value).toBeNull();
    expect(r.validity.reasons.map((x) => x.code)).toEqual(['not-t1']);
    expect(r.validity.reasons[0]!.message).toMatch(/T2-weighted \(TR 3500 ms, TE 125 ms, "T2 DE SAG"\)/);
    expect(r.acquisition).toMatchObject({ fieldStrengthT: 0.3, trMs: 3500, teMs: 125, sequence: 'T2 TSE' });
  });

  it('real sagittal T2 TSE (cervical image labelled LSPINE, ISO_IR 13) -> not-t1', async () => {
    const r = await measureFixture('orthanc-tests_Encodings_ISO_IR13_MR_LSPINE_t2_tse_sag_J2K.dcm');
    expect(r.validity.reasons.map((x) => x.code)).toContain('not-t1');
    expect(r.value).toBeNull();
  });

  it('real T1 SE shoulder MR (RLE) -> not-spine (a T1 image of the wrong body part)', async () => {
    const r = await measureFixture('WG04_MR2_RLE_shoulder_sag.dcm');
    const codes = r.validity.reasons.map((x) => x.code);
    expect(codes).toContain('not-spine');
    expect(codes).not.toContain('not-t1');
  });

  it('real small axial MR (TR 4000, TE 240) -> not-t1 and not-sagittal', async () => {
    const r = await measureFixture('pydicom_MR_small.dcm');
    expect(r.validity.reasons.map((x) => x.code)).toEqual(expect.arrayContaining(['not-t1', 'not-sagittal']));
  });

  it('the malformed fo-dicom file -> DicomReadError (invalid-dicom), naming the file', async () => {
    const name = 'fodicom_GH1339_MR_spine_t2_tse_tra_JPEGLossless.dcm';
    const buf = readFileSync(join(FIXTURES, name));
    const rois = parseRoiJson({
      rois: [
        {
          label: 'L1',
          shape: 'rectangle',
          points: [
            [1, 1],
            [5, 5],
          ],
          sopInstanceUID: '1.2.3',
        },
      ],
    });
    const err = await measureSeries({ files: [buf], fileNames: [name], rois }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomReadError);
    expect((err as DicomReadError).message).toContain(name);
  });
});

describe('ROI input errors', () => {
  it('names the ROI and field of invalid JSON ROIs', () => {
    const bad = {
      rois: [
        {
          label: 'L1',
          shape: 'ellipse',
          points: [
            [1, 2],
            [3, 4],
            [5, 6],
          ],
          sopInstanceUID: '1.2.3',
        },
        {
          label: 'T12',
          shape: 'rectangle',
          points: [
            [1, 2],
            [3, 4],
          ],
          sopInstanceUID: '1.2.3',
        },
        {
          label: 'L2',
          kind: 'csf',
          shape: 'rectangle',
          points: [
            [1, 2],
            [3, 4],
          ],
          sopInstanceUID: '1.2.3',
        },
        {
          label: 'L3',
          shape: 'polygon',
          points: [
            [1, 2],
            [3, 4],
          ],
          sopInstanceUID: 'not a uid',
          colour: 'red',
        },
      ],
    };
    try {
      parseRoiJson(bad);
      throw new Error('expected invalid-roi');
    } catch (err) {
      expect(err).toBeInstanceOf(AppError);
      const e = err as AppError;
      expect(e.code).toBe('invalid-roi');
      const details = e.details.join('\n');
      expect(details).toMatch(/rois\[0\]\.points: ellipse needs exactly 4 points/);
      expect(details).toMatch(/rois\[1\]\.label:/);
      expect(details).toMatch(/rois\[2\]\.kind: kind "csf" requires label "CSF"/);
      expect(details).toMatch(/rois\[3\]\.sopInstanceUID/);
      expect(details).toMatch(/rois\[3\].*colour/);
    }
    expect(() => parseRoiJson({ rois: [] })).toThrow(AppError);
    expect(() => parseRoiJson('nope')).toThrow(AppError);
  });

  it('rejects ROIs on unknown images, outside the image, or allowing no metric', async () => {
    const { p, sop, b } = await lumbar({ slices: 1 });
    const run = (rois: JsonRoi[]) => measureSeries({ files: p.files, rois: parseRoiJson({ rois }) });
    await expect(run([bodyEllipse(b('L1'), '1.2.3.4')])).rejects.toMatchObject({ code: 'invalid-roi' });
    await expect(
      run([
        {
          label: 'L1',
          shape: 'rectangle',
          points: [
            [100, 10],
            [200, 20],
          ],
          sopInstanceUID: sop,
        },
      ]),
    ).rejects.toThrow(/extends outside the 128x128 image/);
    await expect(run([csfRect(p, b('L3'), sop)])).rejects.toThrow(/allow no metric/);
  });

  it('reports acquisition facts, patient id, progress and the ROI source', async () => {
    const { p, sop, b } = await lumbar({ slices: 5 });
    const seen: number[] = [];
    const results = await measureSeries({
      files: p.files,
      rois: parseRoiJson({
        rois: [bodyEllipse(b('L1'), sop), bodyEllipse(b('L2'), sop), csfRect(p, b('L3'), sop)],
      }),
      onProgress: (done) => seen.push(done),
    });
    const r = byMetric(results, 'vbq-l1-l4');
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(r.acquisition).toEqual({
      modality: 'MR',
      fieldStrengthT: 1.5,
      scanner: 'PhantomWorks Synthetic 1.5T',
      trMs: 550,
      teMs: 11,
      pixelBandwidth: 190,
      sequence: 'T1 TSE',
      seriesDate: '2025-03-14',
      acquisitionDateTime: '2025-03-14T10:22:33.250',
    });
    expect(r.patient).toEqual({ dicomPatientId: 'PHANTOM-001' });
    expect(r.roiSource.kind).toBe('json');
    expect(r.roiSource.roiDigest).toMatch(/^[0-9a-f]{64}$/);
    expect(r.studyInstanceUID).toBe(p.studyInstanceUID);
    expect(r.seriesInstanceUID).toBe(p.seriesInstanceUID);
    expect(r.imageSopInstanceUIDs).toEqual([sop]);
  });
});
