/** The evaluator must not throw for well-formed but sparse or unusual FHIR content. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { cardProblems } from '../helpers/card-spec.js';
import { CPT, draftOrder } from '../fixtures/scenarios/builders.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb);
const searchset = (...resources: FhirResource[]): Bundle => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: [...resources.map((resource) => ({ resource })), {}],
});

describe('robustness', () => {
  it('handles resources missing optional parts, undated data and orders without ids', () => {
    const P = 'p1';
    const cards = evaluate({
      hook: 'order-sign',
      hookInstance: '0f0c7e3a-1a2b-4c3d-8e9f-001122334455',
      now: new Date('2026-11-21T12:00:00Z'),
      context: {
        userId: 'Practitioner/u1',
        patientId: P,
        draftOrders: {
          resourceType: 'Bundle',
          type: 'collection',
          entry: [
            { resource: { ...draftOrder('x', P, CPT, '22630', 'TLIF'), id: undefined } as FhirResource },
            {
              resource: {
                resourceType: 'MedicationRequest',
                status: 'draft',
                intent: 'order',
                subject: { reference: `Patient/${P}` },
              } as FhirResource,
            },
          ],
        },
      },
      prefetch: {
        patient: { resourceType: 'Patient', id: P },
        boneQuality: searchset(
          { resourceType: 'Observation', id: 'o1', status: 'final', code: {} },
          {
            resourceType: 'Observation',
            id: 'o2',
            status: 'final',
            code: {
              coding: [
                {
                  system: 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality',
                  code: 'vbq-l1-l4',
                },
              ],
            },
            valueQuantity: { value: 3.5 },
          },
        ),
        ctHu: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception' }] },
        dxa: searchset({
          resourceType: 'Observation',
          id: 'd1',
          status: 'final',
          code: { coding: [{ system: 'http://loinc.org', code: '38264-8' }] },
        }),
        vitaminD: null,
        conditions: searchset({
          resourceType: 'Condition',
          id: 'c1',
          subject: { reference: `Patient/${P}` },
        }),
        medicationRequests: searchset({
          resourceType: 'MedicationRequest',
          id: 'm1',
          status: 'active',
          intent: 'order',
          subject: { reference: `Patient/${P}` },
          medicationReference: { reference: 'Medication/elsewhere' },
        }),
        medicationStatements: searchset(),
        serviceRequests: searchset({
          resourceType: 'ServiceRequest',
          id: 's1',
          status: 'active',
          intent: 'order',
          subject: { reference: `Patient/${P}` },
        }),
        imagingStudies: searchset({
          resourceType: 'ImagingStudy',
          id: 'i1',
          status: 'available',
          subject: { reference: `Patient/${P}` },
        }),
      },
    });
    for (const card of cards) expect(cardProblems(card)).toEqual([]);
    // The undated VBQ is excluded with its reason; nothing else is usable, so no advice for an undated patient.
    expect(cards).toEqual([]);
  });
});
