import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HookRequest, OrderSignContext } from '../../src/cds/types.js';
import { cardUuid, fitSummary, uuidV5 } from '../../src/cards/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { boneHealthEvaluator, planBoneHealth } from '../../src/services/bone-health.js';
import { cardProblems } from '../helpers/card-spec.js';
import { loadScenario, toEvaluationInput } from './scenario-harness.js';

const DIR = path.resolve(import.meta.dirname, '../../cds-services');
const kb = loadKnowledgeBase({ dir: DIR });
const templates = prefetchTemplates(kb);
const evaluate = boneHealthEvaluator(kb);

function run(name: string, change?: (input: ReturnType<typeof toEvaluationInput>) => void) {
  const { bundle, expected } = loadScenario(name);
  const input = toEvaluationInput(bundle, expected, templates);
  change?.(input);
  return evaluate(input);
}

describe('card uuids', () => {
  it('uuidV5 matches the RFC 4122 test vector', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('are stable across hook calls, hook instances and clocks for the same data', () => {
    const a = run('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const b = run('lumbar-tlif-vbq-above-cutoff-no-dxa', (i) => {
      i.hookInstance = '11111111-2222-4333-8444-555555555555';
      i.now = new Date('2026-11-22T08:00:00Z');
    });
    expect(a.map((c) => c.uuid)).toEqual(b.map((c) => c.uuid));
    expect(a[0]!.suggestions!.map((s) => s.uuid)).toEqual(b[0]!.suggestions!.map((s) => s.uuid));
  });

  it('are the same for order-sign and order-select of the same order', () => {
    const sign = run('order-select-spine-order-selected-warning', (i) => {
      i.hook = 'order-sign';
      i.context = {
        userId: i.context.userId,
        patientId: i.context.patientId,
        draftOrders: (i.context as OrderSignContext).draftOrders,
      };
    });
    const select = run('order-select-spine-order-selected-warning');
    expect(sign).toHaveLength(1);
    expect(select.map((c) => c.uuid)).toEqual(sign.map((c) => c.uuid));
  });

  it('change when the data change', () => {
    const a = run('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const b = run('lumbar-tlif-vbq-above-cutoff-no-dxa', (i) => {
      const bundle = i.prefetch.boneQuality as unknown as {
        entry: { resource: { valueQuantity: { value: number } } }[];
      };
      bundle.entry[0]!.resource.valueQuantity.value = 3.55;
    });
    expect(b[0]!.summary).toContain('3.55');
    expect(b[0]!.uuid).not.toBe(a[0]!.uuid);
    const finding = { topic: 'bone-quality-above-cutoff', keys: ['x'] } as Parameters<typeof cardUuid>[1];
    expect(cardUuid('p1', finding)).not.toBe(cardUuid('p2', finding));
  });
});

describe('evaluator', () => {
  it('answers no cards when no draft order is a spine procedure, and the relevance check agrees', () => {
    const { bundle, expected } = loadScenario('non-spine-order-no-card');
    const input = toEvaluationInput(bundle, expected, templates);
    expect(evaluate(input)).toEqual([]);
    const request = {
      hook: input.hook,
      hookInstance: input.hookInstance,
      context: input.context,
    } as HookRequest;
    expect(planBoneHealth(kb, request)).toBeUndefined();
    const spine = loadScenario('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const spineInput = toEvaluationInput(spine.bundle, spine.expected, templates);
    expect(planBoneHealth(kb, { ...request, context: spineInput.context })).toBeDefined();
  });

  it('does not throw when every prefetch key is null (no data) and still gives spec-valid cards', () => {
    const cards = run('age-72-no-bone-density-assessment-info', (i) => {
      for (const key of Object.keys(i.prefetch)) i.prefetch[key] = null;
    });
    for (const card of cards) expect(cardProblems(card)).toEqual([]);
  });

  it('ignores resources of another patient in a prefetch bundle', () => {
    const cards = run('lumbar-tlif-vbq-above-cutoff-no-dxa', (i) => {
      const bundle = i.prefetch.boneQuality as unknown as {
        entry: { resource: { subject: { reference: string } } }[];
      };
      bundle.entry[0]!.resource.subject.reference = 'Patient/someone-else';
    });
    expect(cards).toEqual([]);
  });

  it('keeps every summary under 140 characters', () => {
    expect(fitSummary('x'.repeat(120), 'bone-health workup advised').length).toBeLessThan(140);
    expect(fitSummary('y'.repeat(300), 'advice').length).toBeLessThan(140);
  });
});

describe('hospital overrides change the advice', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kb-ovr-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const base = kb.cutoffs.find((c) => c.id === 'vbq-tlif-subsidence-hu-2022')!;
  const overridesFile = path.join(dir, 'overrides.json');
  writeFileSync(
    overridesFile,
    JSON.stringify({
      version: '1.0.0',
      cutoffs: [
        {
          ...base,
          id: 'local-tlif-15t',
          fieldStrengthT: 1.5,
          threshold: 3.9,
          reference: 'local',
          population: 'Our 1.5 T scanner',
        },
      ],
      references: {
        local: {
          authors: 'Hospital QA',
          year: 2026,
          title: 'Local VBQ calibration',
          journal: 'internal report',
        },
      },
    }),
  );
  const local = boneHealthEvaluator(loadKnowledgeBase({ dir: DIR, overridesFile }));
  const setField = (value: number, field: number) => (i: ReturnType<typeof toEvaluationInput>) => {
    const bundle = i.prefetch.boneQuality as unknown as {
      entry: {
        resource: {
          valueQuantity: { value: number };
          component: { code: { coding: { code: string }[] }; valueQuantity?: { value: number } }[];
        };
      }[];
    };
    const obs = bundle.entry[0]!.resource;
    obs.valueQuantity.value = value;
    const fs = obs.component.find((c) => c.code.coding[0]!.code === 'field-strength')!;
    fs.valueQuantity!.value = field;
  };

  it('uses the cutoff calibrated for the scanner field strength (1.5 T: 3.9)', () => {
    const { bundle, expected } = loadScenario('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const input = toEvaluationInput(bundle, expected, templates);
    setField(3.6, 1.5)(input);
    const cards = local(input);
    expect(cards).toHaveLength(1);
    expect(cards[0]!.indicator).toBe('info');
    expect(cards[0]!.detail).toContain('site-calibrated for 1.5 T');
  });

  it('keeps the published cutoff for other field strengths (3 T: 3.28)', () => {
    const { bundle, expected } = loadScenario('lumbar-tlif-vbq-above-cutoff-no-dxa');
    const input = toEvaluationInput(bundle, expected, templates);
    setField(3.6, 3)(input);
    const cards = local(input);
    expect(cards[0]!.indicator).toBe('warning');
    expect(cards[0]!.summary).toContain('3.28');
  });
});
