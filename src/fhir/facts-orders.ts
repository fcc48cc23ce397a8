/**
 * Which draft orders start the bone-health logic: only draft requests whose code is in the
 * spine-surgery code list, and for order-select only the selected ones. Pure.
 */
import type { Bundle, CodeableConcept, FhirResource } from 'fhir/r4.js';
import { findConceptEntry, type KnowledgeBase } from '../knowledge/index.js';
import type { ProcedureFamily, Region } from '../knowledge/schema.js';
import type { HookName } from '../cds/types.js';

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
}

/** What a draft order codes, whatever request type it is. */
export function requestCode(resource: FhirResource): CodeableConcept | undefined {
  const record = resource as unknown as Record<string, unknown>;
  const code = record.code ?? record.codeCodeableConcept;
  return code !== null && typeof code === 'object' ? (code as CodeableConcept) : undefined;
}

/** The resources of a Bundle's entries (missing resources skipped). */
export function bundleResources(bundle: Bundle | undefined): FhirResource[] {
  return (bundle?.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
}

/**
 * The spine-surgery draft orders of a hook call. Non-draft orders (an order-sign that fires again on
 * re-signing) and, for order-select, unselected orders are ignored.
 */
export function spineProcedureOrders(
  kb: KnowledgeBase,
  hook: HookName,
  draftOrders: Bundle | undefined,
  selections?: readonly string[],
): SpineProcedureOrder[] {
  const selected = hook === 'order-select' ? new Set(selections ?? []) : undefined;
  const orders: SpineProcedureOrder[] = [];
  bundleResources(draftOrders).forEach((resource, index) => {
    const status = (resource as { status?: unknown }).status;
    if (status !== 'draft') return;
    const source = `${resource.resourceType}/${resource.id ?? `#${index}`}`;
    if (selected !== undefined && !selected.has(source)) return;
    const concept = requestCode(resource);
    for (const coding of concept?.coding ?? []) {
      const entry = findConceptEntry(kb, 'spine-surgery-procedures', { coding: [coding] });
      if (entry?.region === undefined || entry.family === undefined) continue;
      orders.push({
        source,
        system: entry.system,
        code: entry.code,
        display: entry.display,
        region: entry.region,
        family: entry.family,
        longConstruct: entry.longConstruct ?? false,
        regionSpecific: entry.regionSpecific ?? true,
      });
      break;
    }
  });
  return orders;
}
