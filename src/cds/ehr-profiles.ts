/**
 * What each EHR can take, applied to a response before it leaves: a hospital cannot change its EHR, so
 * the service adapts. Pure. The plain CDS Hooks behaviour ("generic") is the default.
 *
 * - Epic: `source.topic.code` must be a static alphanumeric string of at most 100 characters (it keys a
 *   user's override across calls); one action per suggestion; `selectionBehavior` `any` only; SMART links
 *   are shown only when registered in advance.
 * - Oracle Health (Millennium): links only from its allowed list; no `appContext`; critical cards open
 *   as pop-ups, so they are downgraded unless the site allows them.
 * - CDS Hooks 3.0 clients that document support for it get `actionSelectionBehavior` on suggestions.
 */
import { uuidV5 } from '../cards/uuid.js';
import type { CdsCard, CdsSuggestion, Indicator } from './types.js';

export type EhrKind = 'epic' | 'oracle' | 'generic';

export interface EhrProfile {
  ehr: EhrKind;
  /** The CDS Hooks version the client speaks (a client entry may pin it). */
  cdsHooksVersion: '2.0' | '3.0';
  /** SMART links are kept (Epic: only when the care-team view is registered with Epic). */
  smartLinks: boolean;
  /** Only links whose URL starts with one of these are kept (Oracle Health's allowed-links list). */
  allowedLinkPrefixes?: string[];
  /** `appContext` on SMART links. */
  appContext: boolean;
  /** The highest indicator sent (e.g. `warning`: no critical pop-ups). */
  maxIndicator: Indicator;
  /** Epic: topic codes alphanumeric, at most 100 characters. */
  alphanumericTopicCodes: boolean;
  /** One action per suggestion (Epic). */
  singleActionSuggestions: boolean;
  /** The client documented support for suggestion.actionSelectionBehavior (CDS Hooks 3.0). */
  actionSelectionBehavior: boolean;
}

/** A client entry's EHR settings as written in CDS_CLIENTS_FILE (all optional). */
export interface EhrSettings {
  ehr?: EhrKind;
  cdsHooksVersion?: '2.0' | '3.0';
  smartLinks?: boolean;
  allowedLinks?: string[];
  allowCritical?: boolean;
  maxIndicator?: Indicator;
  actionSelectionBehavior?: boolean;
}

const ORDER: Indicator[] = ['info', 'warning', 'critical'];

/** The profile of a client: the EHR's defaults, then what the site configured for it. */
export function ehrProfile(settings: EhrSettings = {}): EhrProfile {
  const ehr = settings.ehr ?? 'generic';
  const base: EhrProfile = {
    ehr,
    cdsHooksVersion: settings.cdsHooksVersion ?? '2.0',
    smartLinks: true,
    appContext: true,
    maxIndicator: 'critical',
    alphanumericTopicCodes: false,
    singleActionSuggestions: false,
    actionSelectionBehavior: false,
  };
  if (ehr === 'epic') {
    base.alphanumericTopicCodes = true;
    base.singleActionSuggestions = true;
    base.smartLinks = settings.smartLinks ?? false;
  }
  if (ehr === 'oracle') {
    base.appContext = false;
    base.smartLinks = settings.smartLinks ?? false;
    base.allowedLinkPrefixes = settings.allowedLinks ?? [];
    base.maxIndicator = settings.allowCritical === true ? 'critical' : 'warning';
  } else if (settings.allowedLinks !== undefined) {
    base.allowedLinkPrefixes = settings.allowedLinks;
  }
  if (ehr === 'generic' && settings.smartLinks !== undefined) base.smartLinks = settings.smartLinks;
  if (settings.maxIndicator !== undefined) base.maxIndicator = settings.maxIndicator;
  base.actionSelectionBehavior = base.cdsHooksVersion === '3.0' && settings.actionSelectionBehavior === true;
  return base;
}

/**
 * Our topic codes as Epic can keep them: hyphens dropped and words joined in PascalCase
 * (`bone-quality-above-cutoff` -> `BoneQualityAboveCutoff`), at most 100 characters. Stable: the same
 * code always maps to the same Epic code, so an override persists across calls.
 */
export function epicTopicCode(code: string): string {
  return code
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== '')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')
    .slice(0, 100);
}

function splitSuggestions(suggestions: CdsSuggestion[]): CdsSuggestion[] {
  return suggestions.flatMap((s) => {
    const actions = s.actions ?? [];
    if (actions.length <= 1) return [s];
    // One suggestion per action, each with its own stable uuid and the action's description as label.
    return actions.map((action, i) => ({
      ...s,
      label: action.description || s.label,
      ...(s.uuid === undefined ? {} : { uuid: uuidV5(`${s.uuid}|${i}`) }),
      actions: [action],
    }));
  });
}

/** Shapes the cards for the client's EHR profile. */
export function shapeCards(cards: CdsCard[], profile: EhrProfile): CdsCard[] {
  const cap = ORDER.indexOf(profile.maxIndicator);
  return cards.map((original) => {
    const card: CdsCard = { ...original };
    if (ORDER.indexOf(card.indicator) > cap) card.indicator = profile.maxIndicator;
    if (profile.alphanumericTopicCodes && card.source.topic?.code !== undefined) {
      card.source = {
        ...card.source,
        topic: { ...card.source.topic, code: epicTopicCode(card.source.topic.code) },
      };
    }
    if (card.suggestions !== undefined) {
      let suggestions = profile.singleActionSuggestions
        ? splitSuggestions(card.suggestions)
        : card.suggestions;
      if (profile.actionSelectionBehavior)
        suggestions = suggestions.map((s) => ({ ...s, actionSelectionBehavior: 'all' as const }));
      if (profile.ehr === 'epic' && card.selectionBehavior === 'at-most-one') {
        // Epic supports `any` only: keep the recommended (else first) suggestion so "at most one" holds.
        suggestions = [suggestions.find((s) => s.isRecommended) ?? suggestions[0]!];
      }
      card.suggestions = suggestions;
      card.selectionBehavior = profile.ehr === 'epic' ? 'any' : card.selectionBehavior;
    }
    if (card.links !== undefined) {
      const links = card.links
        .filter((l) => l.type !== 'smart' || profile.smartLinks)
        .filter(
          (l) =>
            profile.allowedLinkPrefixes === undefined ||
            profile.allowedLinkPrefixes.some((p) => l.url.startsWith(p)),
        )
        .map((l) => {
          if (profile.appContext || l.appContext === undefined) return l;
          const { appContext: _dropped, ...rest } = l;
          return rest;
        });
      if (links.length > 0) card.links = links;
      else delete card.links;
    }
    return card;
  });
}

/** Epic keeps an override across calls only through a static alphanumeric topic code of at most 100. */
export const EPIC_TOPIC_CODE = /^[A-Za-z0-9]{1,100}$/;

/**
 * What in a card (already shaped) breaks its EHR profile's rules: empty when the EHR can take it. Used by
 * the tests over every scenario card and by the conformance self-test (scripts/selftest.ts) against a
 * running service, so both check the same rules.
 */
export function profileProblems(card: CdsCard, profile: EhrProfile): string[] {
  const problems: string[] = [];
  const cap = ORDER.indexOf(profile.maxIndicator);
  if (ORDER.indexOf(card.indicator) > cap)
    problems.push(`indicator ${card.indicator} above the ceiling ${profile.maxIndicator}`);
  const topic = card.source.topic?.code;
  if (profile.alphanumericTopicCodes && (topic === undefined || !EPIC_TOPIC_CODE.test(topic)))
    problems.push(`source.topic.code ${JSON.stringify(topic)} is not 1-100 alphanumeric characters`);
  if (profile.ehr === 'epic' && card.selectionBehavior !== undefined && card.selectionBehavior !== 'any')
    problems.push(`selectionBehavior ${card.selectionBehavior} (Epic supports "any" only)`);
  (card.suggestions ?? []).forEach((s, i) => {
    if (profile.singleActionSuggestions && (s.actions?.length ?? 0) !== 1)
      problems.push(`suggestion ${i} has ${s.actions?.length ?? 0} actions (exactly one expected)`);
    if (!profile.actionSelectionBehavior && s.actionSelectionBehavior !== undefined)
      problems.push(`suggestion ${i} has actionSelectionBehavior the client did not declare support for`);
  });
  for (const link of card.links ?? []) {
    if (link.type === 'smart' && !profile.smartLinks)
      problems.push(`SMART link ${link.url} not registered with this EHR`);
    if (
      profile.allowedLinkPrefixes !== undefined &&
      !profile.allowedLinkPrefixes.some((p) => link.url.startsWith(p))
    )
      problems.push(`link ${link.url} is not on the allowed-links list`);
    if (!profile.appContext && link.appContext !== undefined)
      problems.push(`link ${link.url} has appContext (not supported)`);
  }
  return problems;
}
