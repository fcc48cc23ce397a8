/**
 * EHR profiles, pure: what ehrProfile() makes of a client entry, how shapeCards() changes cards for each
 * EHR, the Epic topic-code mapping, and the rule checker profileProblems() the self-test reuses. Then every
 * card every scenario fixture produces, shaped for Epic, Oracle Health and a generic client, must pass
 * that EHR's rules (and the generic shaping must change nothing).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EPIC_TOPIC_CODE,
  ehrProfile,
  epicTopicCode,
  profileProblems,
  shapeCards,
  type EhrProfile,
} from '../../src/cds/ehr-profiles.js';
import type { CdsCard } from '../../src/cds/types.js';
import { CARD_TOPICS } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { cardProblems } from '../helpers/card-spec.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { loadScenario, scenarioNames, toEvaluationInput } from '../rules/scenario-harness.js';

const BASE = 'https://cds.hospital.example';

/** A card using everything an EHR may not take. */
function richCard(): CdsCard {
  return {
    uuid: '5a1f3c2e-1111-4222-8333-444455556666',
    summary: 'Bone-health workup before fusion',
    indicator: 'critical',
    source: {
      label: 'Bone health',
      topic: { system: 'https://x.example/topic', code: 'osteoporosis-high-risk-surgery', display: 'x' },
    },
    selectionBehavior: 'at-most-one',
    suggestions: [
      {
        label: 'Order DXA and endocrinology referral',
        uuid: '6b2f3c2e-1111-4222-8333-444455556666',
        actions: [
          { type: 'create', description: 'Order DXA' },
          { type: 'create', description: 'Refer to endocrinology' },
        ],
      },
      {
        label: 'Order DXA only',
        uuid: '7c3f3c2e-1111-4222-8333-444455556666',
        isRecommended: true,
        actions: [{ type: 'create', description: 'Order DXA' }],
      },
    ],
    links: [
      { label: 'Care team view', url: `${BASE}/care-team/launch`, type: 'smart', appContext: '{"p":"1"}' },
      { label: 'Guideline', url: 'https://guidelines.example.org/bone', type: 'absolute' },
      { label: 'Elsewhere', url: 'https://other.example.com/x', type: 'absolute' },
    ],
  };
}

describe('ehrProfile', () => {
  it('is plain CDS Hooks 2.0 by default', () => {
    expect(ehrProfile()).toEqual({
      ehr: 'generic',
      cdsHooksVersion: '2.0',
      smartLinks: true,
      appContext: true,
      maxIndicator: 'critical',
      alphanumericTopicCodes: false,
      singleActionSuggestions: false,
      actionSelectionBehavior: false,
    });
  });

  it('Epic: alphanumeric topic codes, one action per suggestion, SMART links only when registered', () => {
    const epic = ehrProfile({ ehr: 'epic' });
    expect(epic).toMatchObject({
      alphanumericTopicCodes: true,
      singleActionSuggestions: true,
      smartLinks: false,
    });
    expect(ehrProfile({ ehr: 'epic', smartLinks: true }).smartLinks).toBe(true);
  });

  it('Oracle Health: no appContext, allowed links only, no critical unless allowed', () => {
    const oracle = ehrProfile({ ehr: 'oracle', allowedLinks: [BASE] });
    expect(oracle).toMatchObject({ appContext: false, allowedLinkPrefixes: [BASE], maxIndicator: 'warning' });
    expect(ehrProfile({ ehr: 'oracle' }).allowedLinkPrefixes).toEqual([]);
    expect(ehrProfile({ ehr: 'oracle', allowCritical: true }).maxIndicator).toBe('critical');
  });

  it('actionSelectionBehavior only for a 3.0 client that declares it', () => {
    expect(ehrProfile({ actionSelectionBehavior: true }).actionSelectionBehavior).toBe(false);
    expect(ehrProfile({ cdsHooksVersion: '3.0' }).actionSelectionBehavior).toBe(false);
    expect(
      ehrProfile({ cdsHooksVersion: '3.0', actionSelectionBehavior: true }).actionSelectionBehavior,
    ).toBe(true);
  });

  it('a site-configured indicator ceiling applies to any EHR', () => {
    expect(ehrProfile({ maxIndicator: 'info' }).maxIndicator).toBe('info');
  });
});

describe('epicTopicCode', () => {
  it('maps every card topic of the knowledge base to a distinct Epic-safe code, stably', () => {
    const mapped = CARD_TOPICS.map(epicTopicCode);
    for (const code of mapped) expect(code).toMatch(EPIC_TOPIC_CODE);
    expect(new Set(mapped).size).toBe(CARD_TOPICS.length);
    expect(CARD_TOPICS.map(epicTopicCode)).toEqual(mapped);
    expect(epicTopicCode('bone-quality-above-cutoff')).toBe('BoneQualityAboveCutoff');
  });

  it('the README documents the mapping of every card topic', () => {
    const readme = readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    for (const t of shippedKnowledgeBase().cardTopics)
      expect(readme).toMatch(new RegExp(`\\| \`${t.code}\`\\s*\\| \`${epicTopicCode(t.code)}\`\\s*\\|`));
  });

  it('never exceeds 100 characters', () => {
    expect(epicTopicCode('a-'.repeat(120))).toHaveLength(100);
  });
});

describe('shapeCards', () => {
  it('generic: leaves the card as the spec allows it', () => {
    expect(shapeCards([richCard()], ehrProfile())).toEqual([richCard()]);
  });

  it('Epic: rewrites the topic, splits multi-action suggestions, keeps one for at-most-one, drops unregistered SMART links', () => {
    const epic = ehrProfile({ ehr: 'epic' });
    expect(profileProblems(richCard(), epic).length).toBeGreaterThan(0);
    const [card] = shapeCards([richCard()], epic);
    expect(card!.source.topic?.code).toBe('OsteoporosisHighRiskSurgery');
    expect(card!.selectionBehavior).toBe('any');
    // at-most-one cannot be expressed with `any`: the recommended suggestion alone is kept.
    expect(card!.suggestions).toHaveLength(1);
    expect(card!.suggestions![0]!.label).toBe('Order DXA only');
    expect(card!.links?.map((l) => l.type)).toEqual(['absolute', 'absolute']);
    expect(profileProblems(card!, epic)).toEqual([]);
  });

  it('Epic with `any`: one suggestion per action, each with its own uuid', () => {
    const epic = ehrProfile({ ehr: 'epic', smartLinks: true });
    const [card] = shapeCards([{ ...richCard(), selectionBehavior: 'any' }], epic);
    expect(card!.suggestions!.map((s) => s.label)).toEqual([
      'Order DXA',
      'Refer to endocrinology',
      'Order DXA only',
    ]);
    expect(new Set(card!.suggestions!.map((s) => s.uuid)).size).toBe(3);
    expect(card!.links?.some((l) => l.type === 'smart')).toBe(true);
    expect(profileProblems(card!, epic)).toEqual([]);
  });

  it('Oracle Health: no critical, no appContext, only allowed links', () => {
    const oracle = ehrProfile({
      ehr: 'oracle',
      smartLinks: true,
      allowedLinks: [BASE, 'https://guidelines.example.org/'],
    });
    const [card] = shapeCards([richCard()], oracle);
    expect(card!.indicator).toBe('warning');
    expect(card!.links?.map((l) => l.url)).toEqual([
      `${BASE}/care-team/launch`,
      'https://guidelines.example.org/bone',
    ]);
    expect(card!.links?.some((l) => 'appContext' in l)).toBe(false);
    expect(profileProblems(card!, oracle)).toEqual([]);
    // Without an allowed-links list there are no links at all.
    expect(shapeCards([richCard()], ehrProfile({ ehr: 'oracle' }))[0]!.links).toBeUndefined();
  });

  it('3.0 client that declared actionSelectionBehavior gets `all` on suggestions', () => {
    const p = ehrProfile({ cdsHooksVersion: '3.0', actionSelectionBehavior: true });
    const [card] = shapeCards([richCard()], p);
    expect(card!.suggestions!.every((s) => s.actionSelectionBehavior === 'all')).toBe(true);
    expect(profileProblems(card!, ehrProfile())).toContain(
      'suggestion 0 has actionSelectionBehavior the client did not declare support for',
    );
  });
});

describe('profileProblems names each broken rule', () => {
  it.each<[string, EhrProfile, RegExp]>([
    ['epic topic', ehrProfile({ ehr: 'epic', smartLinks: true }), /source\.topic\.code/],
    ['epic actions', ehrProfile({ ehr: 'epic', smartLinks: true }), /exactly one expected/],
    ['epic selection', ehrProfile({ ehr: 'epic', smartLinks: true }), /selectionBehavior at-most-one/],
    ['oracle critical', ehrProfile({ ehr: 'oracle', allowedLinks: [BASE] }), /above the ceiling/],
    ['oracle link', ehrProfile({ ehr: 'oracle', smartLinks: true, allowedLinks: [BASE] }), /allowed-links/],
    [
      'oracle appContext',
      ehrProfile({ ehr: 'oracle', smartLinks: true, allowedLinks: [BASE] }),
      /appContext/,
    ],
    ['unregistered SMART', ehrProfile({ ehr: 'epic' }), /SMART link/],
  ])('%s', (_name, profile, pattern) => {
    expect(profileProblems(richCard(), profile).some((p) => pattern.test(p))).toBe(true);
  });
});

describe('every card the scenario fixtures produce passes each profile', () => {
  const kb = shippedKnowledgeBase();
  const evaluate = boneHealthEvaluator(kb, { careTeamBaseUrl: BASE });
  const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);
  const profiles: Record<string, EhrProfile> = {
    epic: ehrProfile({ ehr: 'epic' }),
    'epic (care-team view registered)': ehrProfile({ ehr: 'epic', smartLinks: true }),
    oracle: ehrProfile({ ehr: 'oracle', allowedLinks: [`${BASE}/`] }),
    'oracle (no links allowed)': ehrProfile({ ehr: 'oracle' }),
    generic: ehrProfile(),
    'generic 3.0': ehrProfile({ cdsHooksVersion: '3.0', actionSelectionBehavior: true }),
  };
  const all = scenarioNames().map((name) => {
    const { bundle, expected } = loadScenario(name);
    return { name, cards: evaluate(toEvaluationInput(bundle, expected, templates)) };
  });

  it('the scenarios produce cards with topics, suggestions and links to check', () => {
    const cards = all.flatMap((s) => s.cards);
    expect(cards.length).toBeGreaterThan(20);
    expect(cards.some((c) => (c.suggestions?.length ?? 0) > 0)).toBe(true);
    expect(cards.some((c) => c.links?.some((l) => l.type === 'smart'))).toBe(true);
  });

  it.each(Object.entries(profiles))('%s', (label, profile) => {
    for (const { name, cards } of all) {
      const shaped = shapeCards(cards, profile);
      expect(shaped, name).toHaveLength(cards.length);
      for (const card of shaped) {
        expect(profileProblems(card, profile), `${label} ${name}`).toEqual([]);
        if (profile.ehr === 'epic') {
          expect(card.source.topic?.code).toMatch(EPIC_TOPIC_CODE);
          for (const s of card.suggestions ?? []) expect(s.actions).toHaveLength(1);
          if (card.suggestions !== undefined) expect(card.selectionBehavior).toBe('any');
        }
        if (profile.ehr === 'oracle') {
          expect(card.indicator).not.toBe('critical');
          for (const l of card.links ?? []) {
            expect(l.appContext).toBeUndefined();
            expect(profile.allowedLinkPrefixes!.some((p) => l.url.startsWith(p))).toBe(true);
          }
        }
        if (profile.cdsHooksVersion === '2.0') expect(cardProblems(card), `${label} ${name}`).toEqual([]);
      }
      if (label === 'generic') expect(shaped, name).toEqual(cards);
    }
  });
});
