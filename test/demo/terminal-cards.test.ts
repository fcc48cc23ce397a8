/** The demo EHR's terminal rendering of every scenario card: wrapped, Markdown rendered, colour only on request. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { renderCard } from '../../scripts/terminal-cards.js';
import { loadScenario, scenarioNames, toEvaluationInput } from '../rules/scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb, { careTeamBaseUrl: 'http://localhost:3000' });
const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);
const cards = scenarioNames().flatMap((name) => {
  const { bundle, expected } = loadScenario(name);
  return evaluate(toEvaluationInput(bundle, expected, templates));
});
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

describe('terminal rendering of cards', () => {
  it.each([60, 80, 100])('wraps every card to %i columns, renders Markdown, no colour when off', (width) => {
    for (const [i, card] of cards.entries()) {
      const text = renderCard(card, i, { width, colour: false });
      for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(width);
      expect(text).not.toMatch(ANSI);
      expect(text).not.toContain('**');
      expect(text).toContain(card.summary.split(' ')[0]!);
      expect(text).toContain(card.indicator.toUpperCase());
      expect(text).toContain('Care-team view: http://localhost:3000/care-team/launch');
    }
  });

  it('colours the indicator and bolds the Markdown when colour is on', () => {
    const card = cards.find((c) => c.indicator === 'critical') ?? cards[0]!;
    const text = renderCard(card, 0, { width: 80, colour: true });
    expect(text).toMatch(ANSI);
    expect(text).not.toContain('**');
    for (const line of text.replace(ANSI, '').split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
