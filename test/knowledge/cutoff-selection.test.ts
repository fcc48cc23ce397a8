/**
 * Field-strength-aware cutoff selection (src/rules/cutoffs.ts) and what cards say about it: a
 * site-calibrated cutoff for the score's field strength first, then a published cutoff derived at the
 * score's field strength, else the default with a cited caveat giving the direction and size of the shift.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import {
  ageContext,
  compareFieldStrength,
  scoreFieldStrength,
  selectProcedureCutoffs,
  selectScreeningCutoff,
  type ScoreForCutoff,
} from '../../src/rules/cutoffs.js';
import { loadScenario, toEvaluationInput } from '../rules/scenario-harness.js';

const DIR = path.resolve(import.meta.dirname, '../../cds-services');
const kb = loadKnowledgeBase({ dir: DIR });
const site = loadKnowledgeBase({ dir: DIR, overridesFile: path.join(DIR, 'overrides.example.json') });

const vbq = (fieldStrengthT: number | undefined, scanner?: string): ScoreForCutoff => ({
  metric: 'vbq-l1-l4',
  region: 'lumbar',
  fieldStrengthT,
  scanner,
});
const cutoff = (id: string) => kb.cutoffs.find((c) => c.id === id)!;

describe('scoreFieldStrength', () => {
  it('classes recorded field strengths', () => {
    expect(scoreFieldStrength(1.5)).toBe('1.5T');
    expect(scoreFieldStrength(3)).toBe('3T');
    expect(scoreFieldStrength(2.89)).toBe('other');
    expect(scoreFieldStrength(undefined)).toBe('unknown');
  });
});

describe('screening cutoff by field strength', () => {
  it('3 T score: the published cutoff derived at 3 T (Chen 2023), no caveat', () => {
    const s = selectScreeningCutoff(kb, 'vbq-l1-l4', 'lumbar', vbq(3))!;
    expect(s.cutoff.id).toBe('vbq-osteoporosis-chen-2023');
    expect(s.basis).toBe('same-field-strength');
    expect(s.label).toBe('derived at 3 T, as this score');
    expect(s.caveat).toBeUndefined();
  });

  it('1.5 T score: no usable 1.5 T screening cutoff, so the default with the shift stated', () => {
    const s = selectScreeningCutoff(kb, 'vbq-l1-l4', 'lumbar', vbq(1.5))!;
    expect(s.cutoff.id).toBe('vbq-osteoporosis-kadri-2022');
    expect(s.basis).toBe('default');
    expect(s.caveat).toMatchObject({
      kind: 'cutoff-field-strength-unknown',
      scoreFieldStrength: '1.5T',
      cutoffFieldStrength: 'unknown',
      shift: 0.5,
      references: ['field-strength-2023'],
    });
    expect(s.caveat!.text).toContain('1.5 T scores run ~0.5 higher than 3 T (J Orthop Surg Res 2023)');
  });

  it('unknown field strength: the default, saying the score field strength is not recorded', () => {
    const s = selectScreeningCutoff(kb, 'vbq-l1-l4', 'lumbar', vbq(undefined))!;
    expect(s.cutoff.id).toBe('vbq-osteoporosis-kadri-2022');
    expect(s.caveat?.kind).toBe('score-field-strength-unknown');
    expect(s.caveat?.direction).toBe('unknown');
    expect(s.caveat?.text).toContain("the score's field strength is not recorded");
  });
});

describe('direction and size of the shift', () => {
  it('a 3 T-derived cutoff and a 1.5 T score: the score reads ~0.5 higher', () => {
    const c = compareFieldStrength(kb, cutoff('vbq-osteoporosis-chen-2023'), vbq(1.5));
    expect(c.caveat).toMatchObject({
      kind: 'other-field-strength',
      direction: 'score-reads-higher',
      shift: 0.5,
    });
    expect(c.caveat!.text).toBe('derived at 3 T; 1.5 T scores run ~0.5 higher (J Orthop Surg Res 2023)');
  });

  it('a 1.5 T-derived cutoff and a 3 T score: the score reads ~0.5 lower', () => {
    const c = compareFieldStrength(kb, cutoff('vbq-osteoporosis-lin-2025-1-5t'), vbq(3));
    expect(c.caveat).toMatchObject({ direction: 'score-reads-lower', shift: 0.5 });
    expect(c.caveat!.text).toBe('derived at 1.5 T; 3 T scores run ~0.5 lower (J Orthop Surg Res 2023)');
  });

  it('a field strength with no published shift (1.0 T): direction unknown, no size', () => {
    const c = compareFieldStrength(kb, cutoff('vbq-osteoporosis-chen-2023'), vbq(1));
    expect(c.caveat).toMatchObject({ direction: 'unknown', shift: undefined });
  });

  it('non-MRI cutoffs carry no field-strength note', () => {
    const c = compareFieldStrength(kb, cutoff('ct-hu-l1-osteoporosis-pickhardt-2013'), vbq(1.5));
    expect(c).toMatchObject({ label: '', caveat: undefined });
  });
});

describe('site-calibrated cutoffs', () => {
  it('win for scores at their field strength and say "site-calibrated (n, AUC)"', () => {
    const [s] = selectProcedureCutoffs(site, vbq(1.5), ['posterior-interbody']);
    expect(s?.cutoff.id).toBe('local-vbq-tlif-subsidence-1-5t');
    expect(s?.basis).toBe('site-calibrated');
    expect(s?.label).toBe('site-calibrated (n = 212, AUC 0.81) for 1.5 T');
    expect(s?.caveat).toBeUndefined();
  });

  it('are not used for scores from another or an unknown field strength', () => {
    expect(selectProcedureCutoffs(site, vbq(3), ['posterior-interbody'])[0]?.cutoff.id).toBe(
      'vbq-tlif-subsidence-hu-2022',
    );
    expect(selectProcedureCutoffs(site, vbq(undefined), ['posterior-interbody'])[0]?.cutoff.id).toBe(
      'vbq-tlif-subsidence-hu-2022',
    );
  });

  it('the overrides schema accepts the site-calibration provenance shape', () => {
    const local = site.cutoffs.find((c) => c.id === 'local-vbq-tlif-subsidence-1-5t')!;
    expect(local.provenance).toMatchObject({ kind: 'site-calibration', cohortSize: 212, events: 48 });
  });
});

describe('cards on 1.5 T, 3 T and unknown-field-strength scores', () => {
  const templates = prefetchTemplates(kb);
  const withField = (field: number | undefined, value = 3.42) => {
    const { bundle, expected } = loadScenario('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const input = toEvaluationInput(bundle, expected, templates);
    const obs = (
      input.prefetch.boneQuality as unknown as {
        entry: {
          resource: {
            valueQuantity: { value: number };
            component: { code: { coding: { code: string }[] }; valueQuantity?: { value: number } }[];
          };
        }[];
      }
    ).entry[0]!.resource;
    obs.valueQuantity.value = value;
    const fs = obs.component.find((c) => c.code.coding[0]!.code === 'field-strength')!;
    if (field === undefined) obs.component = obs.component.filter((c) => c !== fs);
    else fs.valueQuantity!.value = field;
    return input;
  };

  it('1.5 T: the caveat says the TLIF cutoff was derived at an unreported field strength and 1.5 T reads higher', () => {
    const [card] = boneHealthEvaluator(kb)(withField(1.5));
    expect(card!.detail).toContain('**VBQ 3.42** (1 Jun 2026, 1.5 T)');
    expect(card!.detail).toContain(
      'Field strength of the cohort not reported; this score was measured at 1.5 T and 1.5 T scores run ~0.5 higher than 3 T (J Orthop Surg Res 2023)',
    );
  });

  it('3 T: between the cutoffs, the screening comparison says the cutoff was derived at 3 T like the score', () => {
    const [card] = boneHealthEvaluator(kb)(withField(3, 3.1));
    expect(card!.detail).toMatch(/at or above the 2\.9 screening cutoff \[derived at 3 T, as this score\]/);
  });

  it('unknown: the value line and the caveat say the score field strength is not recorded', () => {
    const [card] = boneHealthEvaluator(kb)(withField(undefined));
    expect(card!.detail).toContain('field strength not recorded');
    expect(card!.detail).toContain("the score's field strength is not recorded");
  });

  it('site-calibrated: the card names the calibration with its cohort size and AUC', () => {
    const [card] = boneHealthEvaluator(site)(withField(1.5, 3.95));
    expect(card!.detail).toContain('site-calibrated (n = 212, AUC 0.81) for 1.5 T');
    expect(card!.summary).toMatch(/^VBQ 3\.95 above the 3\.9 TLIF cage subsidence cutoff/);
  });

  it('a deciding cutoff from a single retrospective cohort (Wu 2025) says so; review-read papers say so, linked', () => {
    // Wu 2025 decides no shipped card; make it the primary PLIF cutoff to see how a card cites it.
    const wuKb = structuredClone(kb);
    for (const c of wuKb.cutoffs) {
      if (c.primaryFor?.includes('posterior-interbody') && c.role === 'procedure-specific') c.primaryFor = [];
      if (c.id === 'vbq-plif-fixation-failure-wu-2025') c.primaryFor = ['posterior-interbody'];
    }
    const [card] = boneHealthEvaluator(wuKb)(withField(3, 3.9));
    expect(card!.detail).toContain('from a single retrospective cohort (n = 256, 67 events)');
    for (const link of card!.links ?? []) expect(link.url).toMatch(/^https:\/\//);
    // Hu 2022 was read through the review: the TLIF card says so.
    const [tlif] = boneHealthEvaluator(kb)(withField(3));
    expect(tlif!.detail).toContain('Hu 2022, reviewed in Gausper 2025');
  });
});

describe('age context', () => {
  it('puts a VBQ value next to the normative mean for the decade', () => {
    expect(ageContext(kb, 'vbq-l1-l4', 64)).toBe(
      'mean VBQ at age 60-69 is 3.27 (SD 0.57; VBQ normative data (serial MRI))',
    );
    expect(ageContext(kb, 'vbq-l1-l4', 75)).toBeUndefined();
    expect(ageContext(kb, 'c-vbq', 64)).toBeUndefined();
  });
});
