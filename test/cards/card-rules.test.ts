/**
 * The card rules a surgeon relies on, checked on every card the scenario fixtures produce: a detail read in
 * ten seconds (at most DETAIL_MAX_CHARS rendered characters and DETAIL_MAX_LINES lines), no raw resource
 * ids, no internal notes, human dates, every cited work linked, and the care-team view one click away.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DETAIL_MAX_CHARS, DETAIL_MAX_LINES } from '../../src/cards/index.js';
import type { CdsCard } from '../../src/cds/types.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { loadScenario, scenarioNames, toEvaluationInput } from '../rules/scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const BASE = 'https://cds.example.org';
const FHIR = 'https://ehr.example.org/fhir';
const evaluate = boneHealthEvaluator(kb, { careTeamBaseUrl: BASE });
const templates = prefetchTemplates(kb);

const cards: { scenario: string; card: CdsCard }[] = scenarioNames().flatMap((scenario) => {
  const { bundle, expected } = loadScenario(scenario);
  return evaluate({ ...toEvaluationInput(bundle, expected, templates), fhirServer: FHIR }).map((card) => ({
    scenario,
    card,
  }));
});

const rendered = (md: string) => md.replace(/\*\*|_/g, '');
const RESOURCE_ID =
  /\b(Observation|ServiceRequest|Condition|MedicationRequest|MedicationStatement|ImagingStudy|Patient|Procedure|DiagnosticReport)\/[A-Za-z0-9\-.#]+/;
const INTERNAL = [
  /acknowledge/i,
  /do not repeat the order/i,
  /name the complication/i,
  /\bseed\b/i,
  /cited in/i,
  /clinical brief/i,
];
const ISO_DATE = /\b\d{4}-\d{2}-\d{2}\b/;

describe('card rules on every scenario card', () => {
  it('the scenarios produce cards to check', () => {
    expect(cards.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cards.map((c) => [`${c.scenario}: ${c.card.summary}`, c.card] as const))('%s', (_name, card) => {
    const detail = card.detail ?? '';
    expect(rendered(detail).length).toBeLessThanOrEqual(DETAIL_MAX_CHARS);
    expect(detail.split(/\n+/).filter((l) => l.trim() !== '').length).toBeLessThanOrEqual(DETAIL_MAX_LINES);
    for (const text of [card.summary, detail]) {
      expect(text).not.toMatch(RESOURCE_ID);
      expect(text).not.toMatch(ISO_DATE);
      for (const pattern of INTERNAL) expect(text).not.toMatch(pattern);
    }
    // Every work cited in the detail ("(...; Hu 2022, reviewed in Gausper 2025)") has a link labelled with it.
    const labels = (card.links ?? []).map((l) => l.label);
    const citedNames = [...detail.matchAll(/\(([^()]*)\)/g)].flatMap((m) =>
      m[1]!
        .split(/;|, reviewed in /)
        .map((p) => p.trim())
        .filter((p) => /^[A-Z][A-Za-z .'\u2019-]* (19|20)\d{2}[a-z]?$/.test(p)),
    );
    expect(citedNames.length).toBeGreaterThan(0);
    const unlinked = citedNames.filter((name) => !labels.some((l) => l.startsWith(`${name}:`)));
    expect(unlinked).toEqual([]);
    // The care-team view: a SMART link with appContext naming the card, and a plain link.
    const smart = card.links?.find((l) => l.type === 'smart');
    expect(smart?.url).toBe(`${BASE}/care-team/launch`);
    expect(JSON.parse(smart?.appContext ?? '{}')).toMatchObject({
      card: card.uuid,
      finding: card.source.topic?.code,
    });
    expect(
      card.links?.some(
        (l) => l.type === 'absolute' && l.url === `${BASE}/care-team/launch?iss=${encodeURIComponent(FHIR)}`,
      ),
    ).toBe(true);
  });
});
