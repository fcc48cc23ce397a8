/**
 * Hook request builders for protocol tests: a syntactically complete order-sign / order-select request
 * whose prefetch is fully supplied with empty searchsets (no advice expected).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import { shippedPrefetchTemplates } from './knowledge.js';

/** Every prefetch key the services declare. */
export const PREFETCH_KEYS: readonly string[] = Object.keys(shippedPrefetchTemplates());

export function emptySearchset(): Bundle {
  return { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] };
}

export function draftOrders(codes: { system: string; code: string }[] = []): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: codes.map((c, i) => ({
      resource: {
        resourceType: 'ServiceRequest',
        id: `draft-${i + 1}`,
        status: 'draft',
        intent: 'order',
        subject: { reference: 'Patient/p1' },
        code: { coding: [{ system: c.system, code: c.code }] },
      },
    })),
  };
}

/** A complete order-sign request for patient `patientId` with every prefetch key supplied. */
export function orderSignRequest(
  patientId = 'p1',
  keys: readonly string[] = PREFETCH_KEYS,
): Record<string, unknown> {
  const prefetch: Record<string, unknown> = {};
  for (const key of keys) {
    prefetch[key] =
      key === 'patient'
        ? { resourceType: 'Patient', id: patientId, gender: 'female', birthDate: '1950-01-01' }
        : emptySearchset();
  }
  return {
    hook: 'order-sign',
    hookInstance: randomUUID(),
    context: {
      userId: 'Practitioner/dr-1',
      patientId,
      draftOrders: draftOrders([{ system: 'http://www.ama-assn.org/go/cpt', code: '22630' }]),
    },
    prefetch,
  };
}

export function orderSelectRequest(patientId = 'p1'): Record<string, unknown> {
  const req = orderSignRequest(patientId);
  return {
    ...req,
    hook: 'order-select',
    context: { ...(req.context as object), selections: ['ServiceRequest/draft-1'] },
  };
}
