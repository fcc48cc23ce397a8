/**
 * Findings -> CDS Hooks cards. One card per finding; every optional field is omitted rather than empty.
 * Summary < 140 characters with the key number; a detail of at most DETAIL_MAX_CHARS rendered characters
 * and DETAIL_MAX_LINES lines; every cited work linked; a link to the care-team view for the whole picture.
 */
import type { Coding } from 'fhir/r4.js';
import type { CdsCard, CdsLink, CdsSuggestion } from '../cds/types.js';
import {
  CARD_TOPIC_SYSTEM,
  orderCode,
  OVERRIDE_REASON_SYSTEM,
  type KnowledgeBase,
} from '../knowledge/index.js';
import type { Finding } from '../rules/index.js';
import { citationLinks } from './citations.js';
import { radiologyTaskSuggestion } from './radiology-task.js';
import { renderedLength } from './format.js';
import { suggestedOrder, type OrderContext, type SuggestedOrderKind } from './service-requests.js';
import { uuidV5 } from './uuid.js';
import {
  adviceText,
  anabolicLine,
  basisLine,
  caveatLine,
  excludedLine,
  leftOutLine,
  fieldStrengthCaveatLine,
  headline,
  historyLine,
  inPlaceLine,
  kidneyLine,
  overdueLine,
  preliminaryLine,
  unclassifiedDxaLine,
  recommendationLine,
  valueLine,
  vitaminDLine,
  type DetailLine,
} from './wording.js';

export const SUMMARY_MAX = 139;
export const DETAIL_MAX_CHARS = 600;
export const DETAIL_MAX_LINES = 10;

/** Fits a summary under 140 characters, dropping the advice before cutting the headline. */
export function fitSummary(headline: string, advice: string): string {
  const full = `${headline}: ${advice}`;
  if (full.length <= SUMMARY_MAX) return full;
  if (headline.length <= SUMMARY_MAX) return headline;
  return `${headline.slice(0, SUMMARY_MAX - 1).trimEnd()}…`;
}

/** Drops the most dispensable lines until the detail fits the card budget. */
export function fitDetail(lines: DetailLine[]): DetailLine[] {
  let kept = lines.slice();
  // The rendered size is summed once and updated as lines go (it was re-summed on every check).
  let size = 0;
  for (const l of kept) size += renderedLength(l.text) + 1;
  while ((kept.length > DETAIL_MAX_LINES || size > DETAIL_MAX_CHARS) && kept.some((l) => l.dropOrder > 0)) {
    const drop = kept.reduce((worst, l) => (l.dropOrder > worst.dropOrder ? l : worst));
    const before = kept.length;
    kept = kept.filter((l) => l !== drop);
    size -= (before - kept.length) * (renderedLength(drop.text) + 1);
  }
  return kept;
}

/** Caveats that weaken the deciding datum for this patient (listed first). */
const WEAKENING = new Set<string>(['hyperlipidemia', 'lumbarTScore', 'stale']);

function detailLines(kb: KnowledgeBase, finding: Finding): DetailLine[] {
  const lines: DetailLine[] = [];
  for (const line of [overdueLine(kb, finding), preliminaryLine(finding)]) if (line) lines.push(line);
  if (finding.lead !== undefined) lines.push(valueLine(kb, finding.lead));
  if (finding.second !== undefined) lines.push(valueLine(kb, finding.second));
  lines.push(recommendationLine(kb, finding));
  const kidney = kidneyLine(kb, finding);
  if (kidney !== undefined) lines.push(kidney);
  if (finding.anabolic && finding.advice !== 'consider-anabolic') lines.push(anabolicLine(kb));
  const optional = [
    unclassifiedDxaLine(kb, finding),
    basisLine(kb, finding),
    historyLine(finding),
    vitaminDLine(kb, finding),
    inPlaceLine(finding),
    excludedLine(finding),
    leftOutLine(finding),
  ];
  // At most two caveats: what weakens the deciding datum for this patient (a confounder, a lumbar-only
  // T-score, stale data) first, then the deciding comparison's field-strength caveat, then the others.
  // Lines are worded only until two are found (each caveatLine call writes all its wordings).
  const fieldCaveat = fieldStrengthCaveatLine(kb, finding);
  const patient = finding.caveats.filter(
    (c) => fieldCaveat === undefined || (c !== 'fieldStrength' && c !== 'fieldStrengthUnknown'),
  );
  const caveats: DetailLine[] = [];
  for (const c of patient) {
    if (caveats.length === 2) break;
    if (!WEAKENING.has(c)) continue;
    const line = caveatLine(kb, c, 0);
    if (line !== undefined) caveats.push(line);
  }
  if (fieldCaveat !== undefined && caveats.length < 2) caveats.push(fieldCaveat);
  for (const c of patient) {
    if (caveats.length === 2) break;
    if (WEAKENING.has(c)) continue;
    const line = caveatLine(kb, c, 1);
    if (line !== undefined) caveats.push(line);
  }
  caveats.forEach((line, i) =>
    optional.push({ text: line.text, dropOrder: i === 0 ? 2 : 4, refs: line.refs }),
  );
  for (const line of optional) if (line !== undefined) lines.push(line);
  return fitDetail(lines);
}

function suggestionLabel(kb: KnowledgeBase, kind: SuggestedOrderKind, finding: Finding): string {
  switch (kind) {
    case 'dxa':
      return `Order DXA bone density (CPT ${orderCode(kb, 'dxa-orders').code})`;
    case 'referral':
      return finding.context.kidney !== undefined
        ? 'Refer to bone health (CKD-MBD aware, with nephrology)'
        : 'Refer to bone health / endocrinology';
    case 'vitamin-d':
      return 'Order 25-OH vitamin D';
  }
}

function suggestions(
  kb: KnowledgeBase,
  finding: Finding,
  ctx: OrderContext,
  cardUuid: string,
  reason: string,
): CdsSuggestion[] {
  const kinds: SuggestedOrderKind[] = [];
  if (finding.actions.dxa === 'suggest') kinds.push('dxa');
  if (finding.actions.referral === 'suggest') kinds.push('referral');
  if (finding.actions.vitaminD === 'suggest') kinds.push('vitamin-d');
  return kinds.map((kind) => ({
    label: suggestionLabel(kb, kind, finding),
    uuid: uuidV5(`${cardUuid}|${kind}`),
    isRecommended: kind !== 'vitamin-d',
    actions: [
      {
        type: 'create' as const,
        description: `${suggestionLabel(kb, kind, finding)} (draft ServiceRequest)`,
        resource: suggestedOrder(kb, kind, ctx, reason),
      },
    ],
  }));
}

/** The care-team view: a SMART launch (with what the card was about) and a plain link for other EHRs. */
function careTeamLinks(finding: Finding, ctx: OrderContext, uuid: string): CdsLink[] {
  if (ctx.careTeamBaseUrl === undefined) return [];
  const launch = `${ctx.careTeamBaseUrl.replace(/\/+$/, '')}/care-team/launch`;
  const links: CdsLink[] = [
    {
      label: 'Bone-health view: trend, cutoffs and evidence',
      url: launch,
      type: 'smart',
      appContext: JSON.stringify({
        finding: finding.topic,
        procedure: finding.procedure.orders.map((o) => o.code).join(','),
        card: uuid,
      }),
    },
  ];
  if (ctx.fhirServer !== undefined)
    links.push({
      label: 'Bone-health view (standalone launch)',
      url: `${launch}?iss=${encodeURIComponent(ctx.fhirServer)}`,
      type: 'absolute',
    });
  return links;
}

/** The stable uuid of a finding's card: patient + topic + the data it rests on. */
export function cardUuid(patientId: string, finding: Finding): string {
  return uuidV5(JSON.stringify([patientId, finding.topic, finding.keys]));
}

/** Renders findings as CDS Hooks cards (one per finding). */
export function buildCards(kb: KnowledgeBase, findings: Finding[], ctx: OrderContext): CdsCard[] {
  const overrideReasons: Coding[] = kb.overrideReasons.map((r) => ({
    system: OVERRIDE_REASON_SYSTEM,
    code: r.code,
    display: r.display,
  }));
  return findings.map((finding) => {
    const uuid = cardUuid(ctx.patientId, finding);
    const topic = kb.cardTopics.find((t) => t.code === finding.topic)!;
    const head = headline(kb, finding);
    const lines = detailLines(kb, finding);
    const card: CdsCard = {
      uuid,
      summary: fitSummary(head, adviceText(finding)),
      detail: lines.map((l) => l.text).join('\n\n'),
      indicator: finding.indicator,
      source: {
        label: kb.source.label,
        url: kb.source.url,
        topic: { system: CARD_TOPIC_SYSTEM, code: topic.code, display: topic.display },
      },
      overrideReasons,
    };
    const suggested = suggestions(kb, finding, ctx, uuid, `${head} (before ${finding.procedure.label})`);
    const radiology = radiologyTaskSuggestion(finding, ctx, uuid); // issue 17: VBQ on the existing MR
    if (radiology !== undefined) suggested.push(radiology);
    if (suggested.length > 0) {
      card.suggestions = suggested;
      card.selectionBehavior = 'any';
    }
    const links = [
      ...citationLinks(
        kb,
        lines.flatMap((l) => l.refs),
      ),
      ...careTeamLinks(finding, ctx, uuid),
    ];
    if (links.length > 0) card.links = links;
    return card;
  });
}
