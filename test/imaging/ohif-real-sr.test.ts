/**
 * A report saved by the real OHIF viewer (@ohif/app 3.12.10, by test/browser/ohif-radiology.test.ts on the
 * phantom study 2.25.7401): ellipses labelled L1-L4 and "CSF L3" with OHIF's own tools. Its labels are only
 * in TID 1501 Comment items (@cornerstonejs/adapters' LabelData); the reader must find all five ROIs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import { readRoisFromSr } from '../../src/imaging/roi.js';

const file = path.resolve(import.meta.dirname, '../fixtures/dicom/ohif/ohif-3.12.10-vbq-report.dcm');

describe('SR saved by OHIF 3.12.10', () => {
  it('yields the four vertebral body ellipses and the CSF ellipse with their levels', () => {
    const sr = parseDicom(new Uint8Array(fs.readFileSync(file)));
    const text = JSON.stringify(sr.dataset);
    // The layout under test: labels in Comments, no free-text finding.
    expect(text).toContain('"121106"');
    expect(text).not.toContain('CORNERSTONEFREETEXT');
    const read = readRoisFromSr(sr.dataset);
    expect(read.skipped).toEqual([]);
    expect(read.rois.map((r) => [r.kind, r.level, r.shape])).toEqual([
      ['body', 'L1', 'ellipse'],
      ['body', 'L2', 'ellipse'],
      ['body', 'L3', 'ellipse'],
      ['body', 'L4', 'ellipse'],
      ['csf', 'L3', 'ellipse'],
    ]);
    expect(new Set(read.rois.map((r) => r.sopInstanceUID))).toEqual(new Set(['2.25.7401.3.1']));
  });
});
