/**
 * Table tests: every fixture in test/fixtures/scenarios is one hook call with its expected cards. Each
 * produced card is also checked against the CDS Hooks card rules and its suggested resources against R4.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { cardProblems } from '../helpers/card-spec.js';
import { loadScenario, scenarioNames, toEvaluationInput } from './scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb);
// The patient-view keys are a superset of the order hooks' keys: one set serves every scenario.
const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);
const names = scenarioNames();

describe('scenario table', () => {
  it('has at least 40 scenarios', () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
  });

  it.each(names)('%s', (name) => {
    const { bundle, expected } = loadScenario(name);
    const cards = evaluate(toEvaluationInput(bundle, expected, templates));
    expect(cards.map((c) => `${c.indicator} ${c.source.topic?.code}: ${c.summary}`)).toHaveLength(
      expected.cards.length,
    );
    expected.cards.forEach((want, i) => {
      const card = cards[i]!;
      expect(card.indicator).toBe(want.indicator);
      expect(card.source.topic?.code).toBe(want.topic);
      expect(card.summary).toMatch(new RegExp(want.summary));
      const codes = (card.suggestions ?? []).map((s) => {
        const resource = s.actions?.[0]?.resource as { code?: { coding?: { code?: string }[] } } | undefined;
        return resource?.code?.coding?.[0]?.code;
      });
      expect(codes.sort()).toEqual([...want.suggestions].sort());
      for (const text of want.detailIncludes ?? []) expect(card.detail).toContain(text);
      for (const text of want.detailExcludes ?? []) expect(card.detail).not.toContain(text);
    });
    for (const card of cards) expect(cardProblems(card)).toEqual([]);
  });
});
