/** calibration-outcomes.json: the shipped file is valid and consistent with the knowledge base; errors name the entry. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedCutoffsFor } from '../../src/calibration/calibrate.js';
import {
  CalibrationOutcomesError,
  outcomeCodes,
  parseCalibrationOutcomes,
} from '../../src/calibration/outcomes.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { KNOWLEDGE_DIR, shippedOutcomes } from './helpers.js';

const raw = () =>
  JSON.parse(readFileSync(path.join(KNOWLEDGE_DIR, 'calibration-outcomes.json'), 'utf8')) as {
    outcomes: Record<string, Record<string, unknown>>;
  };

describe('calibration outcomes', () => {
  it('every outcome has codes and published cutoffs to compare with', () => {
    const kb = shippedKnowledgeBase();
    for (const [name, outcome] of Object.entries(shippedOutcomes().outcomes)) {
      expect(outcomeCodes(outcome, kb).length, name).toBeGreaterThan(0);
      expect(publishedCutoffsFor(kb, 'vbq-l1-l4', outcome).length, name).toBeGreaterThan(0);
    }
    expect(
      publishedCutoffsFor(kb, 'vbq-l1-l4', shippedOutcomes().outcomes['osteoporosis-dxa']!)
        .map((c) => c.id)
        .sort(),
    ).toEqual(['vbq-osteoporosis-chen-2023', 'vbq-osteoporosis-lin-2025-1-5t', 'vbq-osteoporosis-pu-2023']);
  });

  it('codes not confirmed against their terminology are marked unverified', () => {
    for (const outcome of Object.values(shippedOutcomes().outcomes)) {
      if (outcome.source.kind !== 'clinical-event') continue;
      for (const code of outcome.source.codes)
        expect(code.verified || code.verifiedBy === undefined).toBe(true);
    }
  });

  it('rejects an unknown reference, an unknown code list and a primary procedure cutoff without families', () => {
    const kb = shippedKnowledgeBase();
    const a = raw();
    (a.outcomes['cage-subsidence']!.references as string[]).push('no-such-paper');
    expect(() => parseCalibrationOutcomes(a, kb)).toThrow(
      new CalibrationOutcomesError(
        'calibration-outcomes.json outcomes.cage-subsidence: unknown reference "no-such-paper"',
      ),
    );
    const b = raw();
    (b.outcomes['fragility-fracture']!.source as { codeLists: string[] }).codeLists = ['no-such-list'];
    expect(() => parseCalibrationOutcomes(b, kb)).toThrow(/outcomes\.fragility-fracture\.source/);
    const c = raw();
    (
      c.outcomes['cage-subsidence']!.cutoff as { procedureFamilies: { lumbar: string[] } }
    ).procedureFamilies.lumbar = ['any'];
    expect(() => parseCalibrationOutcomes(c, kb)).toThrow(/needs named procedure families \(lumbar\)/);
  });
});
