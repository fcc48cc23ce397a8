import type { CodeableConcept } from 'fhir/r4.js';
/**
 * Which draft orders start the bone-health logic: only draft requests whose code is in the spine-surgery
 * code list, and for order-select only the selected ones. Pure.
 */
import { findConceptEntry, type KnowledgeBase } from '../../knowledge/index.js';
import type { ProcedureFamily, Region } from '../../knowledge/schema.js';
import type { HookName } from '../../cds/types.js';
import { readDraftOrders, type DraftOrders } from '../read/bundle.js';

/** A draft spine-surgery order that triggered the logic. */
export interface SpineProcedureOrder {
  /** `ResourceType/id` of the draft order (or `ResourceType/#index` when it has no id). */
  source: string;
  system: string;
  code: string;
  display: string;
  region: Region;
  family: ProcedureFamily;
  longConstruct: boolean;
  regionSpecific: boolean;
  /** When the order is planned for (occurrence[x] of the draft order), when it says. */
  plannedDate?: string;
}

/**
 * The spine-surgery draft orders of a hook call. Non-draft orders (an order-sign that fires again on
 * re-signing) and, for order-select, unselected orders are ignored. `draftOrders` is the received value
 * (read tolerantly here) or the result of `readDraftOrders`.
 */
export function spineProcedureOrders(
  kb: KnowledgeBase,
  hook: HookName,
  draftOrders: unknown,
  selections?: readonly string[],
): SpineProcedureOrder[] {
  const read: DraftOrders = readDraftOrders(draftOrders);
  const selected = hook === 'order-select' ? new Set(selections ?? []) : undefined;
  const orders: SpineProcedureOrder[] = [];
  for (const request of read.orders) {
    if (request.status !== 'draft') continue;
    if (selected !== undefined && !selected.has(request.ref)) continue;
    for (const coding of request.code?.coding ?? []) {
      const order = spineProcedureOrder(kb, request.ref, { coding: [coding] });
      if (order === undefined) continue;
      if (request.occurrence !== undefined) order.plannedDate = request.occurrence;
      orders.push(order);
      break;
    }
  }
  return orders;
}

/** The spine-surgery order a coded concept names (region and family from the code list), if any. */
export function spineProcedureOrder(
  kb: KnowledgeBase,
  source: string,
  concept: CodeableConcept,
): SpineProcedureOrder | undefined {
  const entry = findConceptEntry(kb, 'spine-surgery-procedures', concept);
  if (entry?.region === undefined || entry.family === undefined) return undefined;
  return {
    source,
    system: entry.system,
    code: entry.code,
    display: entry.display,
    region: entry.region,
    family: entry.family,
    longConstruct: entry.longConstruct ?? false,
    regionSpecific: entry.regionSpecific ?? true,
  };
}
