/**
 * Order facts: DXA, bone-health referral and 25-OH vitamin D orders already on record (ServiceRequest) or
 * among the call's draft orders, so the cards acknowledge them instead of suggesting them again.
 */
import { findConceptEntry } from '../../knowledge/index.js';
import { conceptTexts } from '../read/primitives.js';
import type { ReadRequest } from '../read/resources.js';
import { withinMonths, type FactContext } from './common.js';

export interface OrderFact {
  source: string;
  code: string;
  display: string;
  status: string;
  date: string | undefined;
  /** The order is among this call's draft orders. */
  inDraftOrders: boolean;
}

export type OrderListId = 'dxa-orders' | 'bone-health-referrals' | 'vitamin-d-25oh';

const ORDER_STATUS = new Set(['draft', 'active', 'on-hold', 'completed']);
const BONE_HEALTH_TEXT = /(bone|osteopor|osteopen|endocrin|metabolic)/i;

function orderText(request: ReadRequest): string {
  return [...conceptTexts(request.code), ...request.reasonCode.flatMap(conceptTexts), ...request.notes].join(
    ' ',
  );
}

export function extractOrders(
  ctx: FactContext,
  listId: OrderListId,
  stored: readonly ReadRequest[],
  drafts: readonly ReadRequest[],
  lookbackMonths: number,
): OrderFact[] {
  const out: OrderFact[] = [];
  const consider = (request: ReadRequest, inDraftOrders: boolean): void => {
    const status = request.status;
    if (status === undefined || !ORDER_STATUS.has(status)) return;
    const entry = findConceptEntry(ctx.kb, listId, request.code);
    if (entry === undefined) return;
    if (entry.requiresBoneHealthText === true && !BONE_HEALTH_TEXT.test(orderText(request))) return;
    const date = request.authoredOn ?? request.occurrence;
    // Open orders count whatever their age unless dated outside the window; completed ones only within it.
    if (!inDraftOrders && status === 'completed' && !withinMonths(date, lookbackMonths, ctx.now)) return;
    if (
      !inDraftOrders &&
      status !== 'completed' &&
      date !== undefined &&
      !withinMonths(date, lookbackMonths, ctx.now)
    ) {
      return;
    }
    out.push({ source: request.ref, code: entry.code, display: entry.display, status, date, inDraftOrders });
  };
  stored.forEach((r) => consider(r, false));
  drafts.forEach((r) => consider(r, true));
  const seen = new Set<string>();
  return out.filter((o) => (seen.has(o.source) ? false : (seen.add(o.source), true)));
}
