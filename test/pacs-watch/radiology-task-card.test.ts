/**
 * The data-gap card's radiology suggestion: on the unscored-MR scenario the card offers a Task asking
 * radiology to measure VBQ on the existing MR (profile vbq-measurement-task), focused on the ImagingStudy,
 * for the surgery order being drafted; cards that are not this gap offer none.
 */
import path from 'node:path';
import type { Bundle, ServiceRequest, Task } from 'fhir/r4.js';
import { describe, expect, it } from 'vitest';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { boneHealthEvaluator } from '../../src/services/bone-health.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { loadScenario, scenarioNames, toEvaluationInput } from '../rules/scenario-harness.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const evaluate = boneHealthEvaluator(kb);
const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);

const DRAFT_ORDER_ROLE = 'draft-order';

/** The scenario's draft ServiceRequests changed by `edit` (e.g. to give the surgery a date). */
function withDraftOrders(bundle: Bundle, edit: (r: ServiceRequest) => ServiceRequest): Bundle {
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map((e) =>
      e.resource?.resourceType === 'ServiceRequest' &&
      e.resource.meta?.tag?.some((t) => t.code === DRAFT_ORDER_ROLE)
        ? { ...e, resource: edit(e.resource as ServiceRequest) }
        : e,
    ),
  };
}

function tasksOf(name: string, edit?: (r: ServiceRequest) => ServiceRequest): Task[] {
  const loaded = loadScenario(name);
  const { expected } = loaded;
  const bundle = edit ? withDraftOrders(loaded.bundle, edit) : loaded.bundle;
  return evaluate(toEvaluationInput(bundle, expected, templates)).flatMap((card) =>
    (card.suggestions ?? [])
      .flatMap((s) => s.actions ?? [])
      .map((a) => a.resource as { resourceType?: string })
      .filter((r): r is Task => r?.resourceType === 'Task'),
  );
}

describe('radiology Task suggestion on the data-gap card', () => {
  it('asks radiology to measure VBQ on the existing MR, for the surgery order, as a conforming Task', () => {
    const [task, ...more] = tasksOf('mri-without-bone-quality-score-info');
    expect(more).toEqual([]);
    expect(task).toMatchObject({
      status: 'requested',
      intent: 'order',
      code: { coding: [{ code: 'measure-vbq' }] },
      focus: { reference: 'ImagingStudy/mr-1' },
      for: { reference: 'Patient/pt-mri-without-bone-quality-score-info' },
      requester: { reference: 'Practitioner/dr-spine' },
      input: [{ valueOid: 'urn:oid:1.2.840.99.1' }],
    });
    expect(task!.reasonReference?.reference).toMatch(/^ServiceRequest\//);
    expect(task!.description).toMatch(/^Measure VBQ on the existing lumbar MR of 2026-09-01 before /);
    expect(getProfileValidator().validate(task!)).toEqual([]);
  });

  it('carries the planned surgery date of the draft order (occurrence[x]) as restriction.period.end', () => {
    const name = 'mri-without-bone-quality-score-info';
    // No date on the order: none on the Task, and the description says so.
    const [undated] = tasksOf(name);
    expect(undated!.restriction).toBeUndefined();
    expect(undated!.description).toMatch(/\(surgery date not stated\)$/);
    const cases: [Partial<ServiceRequest>, string][] = [
      [{ occurrenceDateTime: '2026-12-14T08:00:00+01:00' }, '2026-12-14T08:00:00+01:00'],
      [{ occurrencePeriod: { start: '2026-12-15', end: '2026-12-16' } }, '2026-12-15'],
      [{ occurrenceTiming: { event: ['2026-12-20', '2026-12-17'] } }, '2026-12-17'],
      [{ occurrenceTiming: { repeat: { boundsPeriod: { start: '2026-12-18' } } } }, '2026-12-18'],
    ];
    for (const [occurrence, planned] of cases) {
      const [task] = tasksOf(name, (r) => ({ ...r, ...occurrence }));
      expect(task!.restriction).toEqual({ period: { end: planned } });
      expect(task!.description).toContain(`(planned for ${planned.slice(0, 10)})`);
      expect(getProfileValidator().validate(task!)).toEqual([]);
    }
  });

  it('a completed Task without its Observation does not conform (the service always names it)', () => {
    const [task] = tasksOf('mri-without-bone-quality-score-info');
    const issues = getProfileValidator().validate({ ...task!, status: 'completed' });
    expect(issues.some((i) => i.severity === 'error')).toBe(true);
  });

  it('no other scenario gets a Task', () => {
    for (const name of scenarioNames().filter((n) => n !== 'mri-without-bone-quality-score-info')) {
      expect({ name, tasks: tasksOf(name).length }).toEqual({ name, tasks: 0 });
    }
  });
});
