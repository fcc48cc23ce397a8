/** Every demo patient gets the cards docs/demo-patients.md promises, and its Bundle is valid R4. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { demoPatients, readDemoSeed } from '../../src/demo/seed/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { r4Problems } from '../helpers/card-spec.js';
import { toEvaluationInput } from './scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb);

describe('demo seed', () => {
  const patients = demoPatients();

  it('has one patient per main scenario with fixed demo ids', () => {
    expect(patients.length).toBeGreaterThanOrEqual(10);
    for (const p of patients) expect(p.id).toMatch(/^demo-[a-z0-9-]+$/);
  });

  it.each(patients.map((p) => p.id))('%s gets the documented cards', (id) => {
    const patient = patients.find((p) => p.id === id)!;
    const { bundle, stored, draftOrders } = readDemoSeed(id);
    expect(stored.find((r) => r.resourceType === 'Patient')?.id).toBe(id);
    expect(draftOrders.length).toBeGreaterThan(0);
    for (const resource of stored) expect(r4Problems(resource)).toEqual([]);
    const cards = evaluate(
      toEvaluationInput(
        bundle,
        {
          description: patient.shows,
          hook: 'order-sign',
          now: '2026-11-21T12:00:00Z',
          patientId: id,
          userId: 'Practitioner/demo',
          cards: patient.cards,
        },
        prefetchTemplates(kb),
      ),
    );
    expect(cards.map((c) => c.indicator)).toEqual(patient.cards.map((c) => c.indicator));
    cards.forEach((card, i) => expect(card.summary).toMatch(new RegExp(patient.cards[i]!.summary)));
  });
});
