/**
 * Issue 10: no card says or implies adequate bone density from data that cannot show it. Walks EVERY
 * scenario fixture, renders its cards, and checks each reassuring phrase against the patient's facts,
 * computed here independently of the rules: a statement that a DXA is not osteopenic/osteoporotic needs a
 * recent T-score where T-scores apply (age >= 50), one that it is within the expected range needs a recent
 * Z-score where Z-scores apply (age < 50), and "recent DXA T x" needs that recent T-score. Anything else
 * that reads as reassurance ("normal", "adequate", "not osteoporotic") is not allowed at all.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractFacts, type Facts } from '../../src/fhir/facts/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { loadScenario, scenarioNames, toEvaluationInput } from '../rules/scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb);
const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);
const LOOKBACK = kb.parameters.dxaLookbackMonths;
const AGE_BOUNDARY = kb.clinicalData.zScoreRule.ageBoundaryYears;

/** Phrases that would tell a reader bone density is fine. */
const GENERIC_REASSURANCE =
  /\bnot osteoporotic\b|\bnormal (bone|density|dxa|bmd)\b|\badequate (bone|density)\b|\bbone density is (adequate|normal)\b|\bno osteoporosis\b/i;
/** The one sentence that mentions adequacy to deny it. */
const DENIAL = /cannot show whether bone density is adequate/gi;

function recentT(facts: Facts): number[] {
  return facts.dxa.tScores.filter((t) => t.ageMonths <= LOOKBACK).map((t) => t.value);
}
function recentZ(facts: Facts): number[] {
  return facts.dxa.zScores.filter((z) => z.ageMonths <= LOOKBACK).map((z) => z.value);
}
function tApplies(facts: Facts): boolean {
  const age = facts.patient.ageYears;
  return age === undefined || age >= AGE_BOUNDARY;
}

const names = scenarioNames();

describe('no card implies adequate bone density without a score that shows it', () => {
  it('walks every scenario fixture', () => {
    expect(names.length).toBeGreaterThanOrEqual(100);
  });

  it.each(names)('%s', (name) => {
    const { bundle, expected } = loadScenario(name);
    const input = toEvaluationInput(bundle, expected, templates);
    const cards = evaluate(input);
    const facts = extractFacts(kb, {
      patientId: expected.patientId,
      prefetch: input.prefetch,
      draftOrders: 'draftOrders' in input.context ? input.context.draftOrders : undefined,
      now: input.now,
    });
    for (const card of cards) {
      const text = `${card.summary}\n${card.detail ?? ''}`;
      expect(text.replace(DENIAL, ''), `${name}: generic reassurance`).not.toMatch(GENERIC_REASSURANCE);
      if (/not in the osteopenia or osteoporosis range/.test(text)) {
        expect(tApplies(facts), `${name}: T-score reassurance where T-scores do not apply`).toBe(true);
        expect(recentT(facts).some((v) => v >= kb.parameters.tScoreOsteopenia)).toBe(true);
      }
      if (/within the expected range for age/.test(text)) {
        expect(tApplies(facts), `${name}: Z-score reassurance where T-scores apply`).toBe(false);
        expect(recentZ(facts).some((v) => v > kb.clinicalData.zScoreRule.belowExpectedRangeZ)).toBe(true);
      }
      for (const m of text.matchAll(/recent DXA T (-?\d+(?:\.\d+)?)/g)) {
        expect(tApplies(facts)).toBe(true);
        expect(recentT(facts)).toContain(Number(m[1]));
      }
      // "DXA done" acknowledges an order, never a result: it must come with a DXA on record.
      if (/DXA done/.test(text)) expect(facts.dxa.recent).toBe(true);
    }
  });
});
