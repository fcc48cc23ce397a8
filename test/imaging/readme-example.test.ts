/** The ROI file example in the README is a valid ROI file (users copy it). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRoiJson } from '../../src/imaging/roi.js';

describe('README ROI example', () => {
  it('parses as a JSON ROI file with five ROIs, one of them excluded', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Imaging'));
    const block = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const parsed = parseRoiJson(JSON.parse(block!));
    expect(JSON.stringify(parsed)).toContain('fracture');
    expect((JSON.parse(block!) as { rois: unknown[] }).rois).toHaveLength(5);
  });
});
