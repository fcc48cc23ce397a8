/**
 * Suggested orders as complete FHIR R4 ServiceRequests (profile bone-health-service-request): draft,
 * intent order, coded, for the patient, requested by the signing user, with a reason.
 */
import type { ServiceRequest } from 'fhir/r4.js';
import { CANONICAL_BASE, orderCode, SYSTEMS, type KnowledgeBase } from '../knowledge/index.js';

export const SERVICE_REQUEST_PROFILE = `${CANONICAL_BASE}/StructureDefinition/bone-health-service-request`;

export interface OrderContext {
  patientId: string;
  userId: string;
  now: Date;
  /** The service's public base URL, for the care-team view's links (none when unset). */
  careTeamBaseUrl?: string;
  /** The EHR's FHIR server, for the view's standalone-launch link. */
  fhirServer?: string;
}

export type SuggestedOrderKind = 'dxa' | 'referral' | 'vitamin-d';

/**
 * A draft ServiceRequest, written out field by field: spreading a shared base into each kind's literal
 * took V8's slow generic copy path (the largest self time of buildCards). The keys come in the
 * order the spread gave them, so the serialised resource is unchanged.
 */
function draftOrder(
  ctx: OrderContext,
  reason: string,
  category: ServiceRequest['category'],
  code: ServiceRequest['code'],
  performerType?: ServiceRequest['performerType'],
): ServiceRequest {
  const order: ServiceRequest = {
    resourceType: 'ServiceRequest',
    meta: { profile: [SERVICE_REQUEST_PROFILE] },
    status: 'draft',
    intent: 'order',
    subject: { reference: `Patient/${ctx.patientId}` },
    requester: { reference: ctx.userId },
    authoredOn: ctx.now.toISOString(),
    reasonCode: [{ text: reason }],
  };
  if (category !== undefined) order.category = category;
  order.code = code;
  if (performerType !== undefined) order.performerType = performerType;
  return order;
}

/** The ServiceRequest a suggestion creates. Codes come from the code lists (entries with role order). */
export function suggestedOrder(
  kb: KnowledgeBase,
  kind: SuggestedOrderKind,
  ctx: OrderContext,
  reason: string,
): ServiceRequest {
  switch (kind) {
    case 'dxa': {
      const code = orderCode(kb, 'dxa-orders');
      return draftOrder(
        ctx,
        reason,
        [{ coding: [{ system: SYSTEMS.snomed, code: '363679005', display: 'Imaging' }] }],
        {
          coding: [{ system: code.system, code: code.code, display: code.display }],
          text: 'DXA bone density (hip and spine)',
        },
      );
    }
    case 'referral': {
      const code = orderCode(kb, 'bone-health-referrals');
      return draftOrder(
        ctx,
        reason,
        undefined,
        {
          coding: [{ system: code.system, code: code.code, display: code.display }],
          text: 'Bone-health / endocrinology referral',
        },
        { text: 'Endocrinology or metabolic bone clinic' },
      );
    }
    case 'vitamin-d': {
      const code = orderCode(kb, 'vitamin-d-25oh');
      return draftOrder(
        ctx,
        reason,
        [{ coding: [{ system: SYSTEMS.snomed, code: '108252007', display: 'Laboratory procedure' }] }],
        {
          coding: [{ system: code.system, code: code.code, display: code.display }],
          text: '25-OH vitamin D',
        },
      );
    }
  }
}
