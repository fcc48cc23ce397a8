/**
 * Findings -> CDS Hooks cards. One card per finding; every optional field is omitted rather than empty.
 * Summary < 140 characters with the key number; the detail lists every value with its date, the cutoffs
 * with citation and performance, and the caveats that apply.
 */
import type { Coding } from 'fhir/r4.js';
import type { CdsCard, CdsLink, CdsSuggestion } from '../cds/types.js';
import {
  CARD_TOPIC_SYSTEM,
  orderCode,
  OVERRIDE_REASON_SYSTEM,
  type KnowledgeBase,
} from '../knowledge/index.js';
import { referenceLink, type Cutoff, type Reference } from '../knowledge/schema.js';
import type { ActionState, Finding, ScoreAssessment } from '../rules/assess.js';
import { compareFieldStrength, type ScoreForCutoff } from '../rules/cutoffs.js';
import { day, metricLabel, num, pct } from '../rules/format.js';
import { suggestedOrder, type OrderContext, type SuggestedOrderKind } from './service-requests.js';
import { uuidV5 } from './uuid.js';

export const SUMMARY_MAX = 139;

/** Fits a summary under 140 characters, dropping the advice before cutting the headline. */
export function fitSummary(headline: string, advice: string): string {
  const full = `${headline}: ${advice}`;
  if (full.length <= SUMMARY_MAX) return full;
  if (headline.length <= SUMMARY_MAX) return headline;
  return `${headline.slice(0, SUMMARY_MAX - 1).trimEnd()}…`;
}

function firstAuthor(ref: Reference): string {
  if (ref.short !== undefined) return ref.short;
  const name = ref.authors.split(/[ ,]/)[0] ?? ref.authors;
  return `${name} ${ref.year}`;
}

/** "Hu 2022, J Neurosurg Spine 2022;37:654-662 (reviewed in Gausper 2025; <link>)" */
export function citation(kb: KnowledgeBase, refId: string): string {
  const ref = kb.references[refId];
  if (ref === undefined) return refId;
  const review = ref.reviewedIn === undefined ? undefined : kb.references[ref.reviewedIn];
  const where = [
    review === undefined ? undefined : `reviewed in ${firstAuthor(review)}`,
    // The full link is in the card's links; the detail keeps the identifier short.
    ref.doi !== undefined ? `doi:${ref.doi}` : ref.pmid !== undefined ? `PMID ${ref.pmid}` : undefined,
  ].filter((x): x is string => x !== undefined);
  return `${firstAuthor(ref)}, ${ref.journal}${where.length === 0 ? '' : ` (${where.join('; ')})`}`;
}

function performance(cutoff: Cutoff): string {
  const parts = [
    cutoff.sensitivity === undefined ? undefined : `sens ${pct(cutoff.sensitivity)}`,
    cutoff.specificity === undefined ? undefined : `spec ${pct(cutoff.specificity)}`,
    cutoff.auc === undefined ? undefined : `AUC ${num(cutoff.auc)}`,
    cutoff.npv === undefined ? undefined : `NPV ${pct(cutoff.npv)}`,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join(', ') : 'performance not reported';
}

function cutoffLine(
  kb: KnowledgeBase,
  cutoff: Cutoff,
  result: string | undefined,
  score?: ScoreForCutoff,
  brief = false,
): string {
  // Field strength: which comparison this is (site-calibrated, same field strength) and its caveat.
  const fs = compareFieldStrength(kb, cutoff, score);
  const design =
    cutoff.cohort?.design === undefined
      ? ''
      : `; from a ${cutoff.cohort.design}${cutoff.cohort.n === undefined ? '' : ` (n = ${cutoff.cohort.n}${cutoff.cohort.events === undefined ? '' : `, ${cutoff.cohort.events} events`})`}`;
  // The full caveat on the cutoffs compared; the short label on the further ones.
  const field =
    fs.caveat !== undefined && !brief ? ` [${fs.caveat.text}]` : fs.label !== '' ? ` [${fs.label}]` : '';
  const what = `${cutoff.comparator} ${num(cutoff.threshold)}${cutoff.unit === undefined ? '' : ` ${cutoff.unit}`}: ${cutoff.procedureLabel === 'any' ? '' : `${cutoff.procedureLabel} `}${cutoff.outcome}`;
  return `${what}${result === undefined ? '' : ` (${result})`}; ${performance(cutoff)}; ${cutoff.population}${design}; ${citation(kb, cutoff.reference)}${field}`;
}

function scoreBlock(kb: KnowledgeBase, a: ScoreAssessment): string[] {
  const s = a.score;
  const meta = [
    day(s.date),
    s.source,
    s.fieldStrengthT === undefined ? 'field strength not recorded' : `${num(s.fieldStrengthT)} T`,
    s.sequence,
    s.scanner,
    s.levelsUsed === undefined ? undefined : `levels ${s.levelsUsed}`,
    s.csfLevel === undefined ? undefined : `CSF ${s.csfLevel}`,
    s.excludedLevels === undefined ? undefined : `excluded ${s.excludedLevels}`,
  ].filter((x): x is string => x !== undefined && x !== '');
  const lines = [`- ${metricLabel(s.metric, s.region)} ${num(s.value)} (${meta.join('; ')})`];
  const mark = (exceeded: boolean): string => (exceeded ? 'above' : 'below');
  for (const c of a.procedure)
    lines.push(`  - Procedure cutoff ${cutoffLine(kb, c.cutoff, mark(c.exceeded), s)}`);
  if (a.screening !== undefined)
    lines.push(`  - Screening cutoff ${cutoffLine(kb, a.screening.cutoff, mark(a.screening.exceeded), s)}`);
  for (const c of a.supporting)
    lines.push(`  - Also published: ${cutoffLine(kb, c.cutoff, mark(c.exceeded), s, true)}`);
  if (a.procedure.length === 0 && a.screening === undefined)
    lines.push('  - No published cutoff for this metric and procedure.');
  if (a.confounders.includes('hyperlipidemia')) lines.push('  - Confounded by hyperlipidemia (see caveats).');
  if (a.confounders.includes('stale')) lines.push(`  - Older than ${kb.parameters.staleDataMonths} months.`);
  return lines;
}

function recommendation(kb: KnowledgeBase, finding: Finding): string[] {
  const text = (id: string): string[] => {
    const dp = kb.decisionPoints.find((d) => d.id === id);
    return dp === undefined ? [] : [withRefs(kb, dp.recommendation, dp.references)];
  };
  const lines = kb.decisionPoints
    .filter((dp) => dp.appliesTo?.includes(finding.topic) === true)
    .map((dp) => withRefs(kb, dp.recommendation, dp.references));
  if (finding.evidence.some((e) => e.key.startsWith('ct-hu:') && e.role === 'strong'))
    lines.push(...text('low-ct-hu'));
  if (finding.anabolic)
    lines.push(
      ...text('osteoporosis-long-construct').map(
        (l) => `Osteoporosis with a deformity correction or long fusion planned: ${l}`,
      ),
    );
  if (finding.actions.vitaminD === 'suggest') lines.push(...text('vitamin-d'));
  const inPlace = [finding.actions.dxa, finding.actions.referral, finding.actions.vitaminD].some(
    (a) => a === 'ordered' || a === 'done',
  );
  if (inPlace) lines.push(...text('already-in-place'));
  return lines;
}

function withRefs(kb: KnowledgeBase, recommendation: string, refs: string[]): string {
  const cited = refs
    .map((r) => (kb.references[r] === undefined ? r : firstAuthor(kb.references[r])))
    .join(', ');
  return `${recommendation}${cited === '' ? '' : ` (${cited})`}.`;
}

function actionLine(label: string, state: ActionState): string | undefined {
  if (state === 'ordered') return `${label}: already ordered; not suggested again.`;
  if (state === 'done') return `${label}: already done recently; not suggested again.`;
  return undefined;
}

function detail(kb: KnowledgeBase, finding: Finding): string {
  const out: string[] = [];
  const orders = finding.procedure.orders.map((o) => `${o.display} (${o.code}, ${o.source})`).join('; ');
  out.push(`**Planned procedure:** ${orders}`);
  out.push('', '**Values used**');
  for (const a of finding.scores) out.push(...scoreBlock(kb, a));
  for (const e of finding.evidence) {
    if (e.key.startsWith('score:')) continue;
    out.push(`- ${e.text}`);
    for (const c of e.cutoffs) out.push(`  - Cutoff ${cutoffLine(kb, c, undefined)}`);
  }
  if (finding.scores.length === 0 && finding.evidence.length === 0)
    out.push('- No bone-quality, DXA or CT value on record.');
  const recs = recommendation(kb, finding);
  if (recs.length > 0) out.push('', '**Recommendation**', ...recs.map((r) => `- ${r}`));
  const state = [
    actionLine('DXA', finding.actions.dxa),
    actionLine('Bone-health referral', finding.actions.referral),
    actionLine('25-OH vitamin D', finding.actions.vitaminD),
  ].filter((l): l is string => l !== undefined);
  const other = [...state, ...finding.notes];
  if (other.length > 0) out.push('', '**Also on record**', ...other.map((n) => `- ${n}`));
  out.push('', '**Caveats**', ...finding.caveats.map((c) => `- ${kb.caveats[c].text}`));
  out.push('', `_Knowledge base: ${kb.version}._`);
  return out.join('\n');
}

function referencedIds(kb: KnowledgeBase, finding: Finding): string[] {
  const ids = new Set<string>(['gausper-2025']);
  for (const a of finding.scores) {
    for (const c of [...a.procedure, ...(a.screening ? [a.screening] : []), ...a.supporting])
      ids.add(c.cutoff.reference);
  }
  for (const e of finding.evidence) for (const c of e.cutoffs) ids.add(c.reference);
  for (const c of finding.caveats) for (const r of kb.caveats[c].references) ids.add(r);
  if (finding.anabolic) ids.add('kato-2025');
  if (finding.actions.vitaminD === 'suggest') ids.add('dimar-2021');
  if (finding.topic === 'bone-density-not-assessed') ids.add('sardar-2022');
  return [...ids].sort();
}

function links(kb: KnowledgeBase, finding: Finding): CdsLink[] {
  return referencedIds(kb, finding)
    .map((id) => kb.references[id])
    .filter((r): r is Reference => r !== undefined && referenceLink(r) !== undefined)
    .map((r) => ({
      label: r.doi !== undefined ? `${firstAuthor(r)} (doi:${r.doi})` : firstAuthor(r),
      url: referenceLink(r)!,
      type: 'absolute' as const,
    }));
}

function suggestionLabel(kb: KnowledgeBase, kind: SuggestedOrderKind): string {
  switch (kind) {
    case 'dxa':
      return `Order DXA bone density (CPT ${orderCode(kb, 'dxa-orders').code})`;
    case 'referral':
      return 'Refer to bone health / endocrinology';
    case 'vitamin-d':
      return 'Order 25-OH vitamin D';
  }
}

function suggestions(
  kb: KnowledgeBase,
  finding: Finding,
  ctx: OrderContext,
  cardUuid: string,
): CdsSuggestion[] {
  const reason = `${finding.headline} (before ${finding.procedure.label})`;
  const kinds: SuggestedOrderKind[] = [];
  if (finding.actions.dxa === 'suggest') kinds.push('dxa');
  if (finding.actions.referral === 'suggest') kinds.push('referral');
  if (finding.actions.vitaminD === 'suggest') kinds.push('vitamin-d');
  return kinds.map((kind) => ({
    label: suggestionLabel(kb, kind),
    uuid: uuidV5(`${cardUuid}|${kind}`),
    isRecommended: kind !== 'vitamin-d',
    actions: [
      {
        type: 'create' as const,
        description: `${suggestionLabel(kb, kind)} (draft ServiceRequest)`,
        resource: suggestedOrder(kb, kind, ctx, reason),
      },
    ],
  }));
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
    const card: CdsCard = {
      uuid,
      summary: fitSummary(finding.headline, finding.advice),
      detail: detail(kb, finding),
      indicator: finding.indicator,
      source: {
        label: kb.source.label,
        url: kb.source.url,
        topic: { system: CARD_TOPIC_SYSTEM, code: topic.code, display: topic.display },
      },
      overrideReasons,
    };
    const suggested = suggestions(kb, finding, ctx, uuid);
    if (suggested.length > 0) {
      card.suggestions = suggested;
      card.selectionBehavior = 'any';
    }
    const cited = links(kb, finding);
    if (cited.length > 0) card.links = cited;
    return card;
  });
}
