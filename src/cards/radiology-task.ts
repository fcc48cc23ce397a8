/**
 * The data-gap card's radiology suggestion (issue 17): a FHIR Task (profile vbq-measurement-task) asking
 * radiology to measure VBQ on the existing MR before the surgery being ordered. The service completes the
 * Task, with the Observation as output, when the measurement lands.
 */
import type { Task } from 'fhir/r4.js';
import type { CdsSuggestion } from '../cds/types.js';
import { CANONICAL_BASE, SYSTEMS } from '../knowledge/index.js';
import type { Finding } from '../rules/index.js';
import { radiologyGap } from '../rules/radiology-gap.js';
import type { OrderContext } from './service-requests.js';
import { uuidV5 } from './uuid.js';

export const VBQ_TASK_PROFILE = `${CANONICAL_BASE}/StructureDefinition/vbq-measurement-task`;
export const RADIOLOGY_TASK_SYSTEM = `${CANONICAL_BASE}/CodeSystem/radiology-task`;

function humanDate(date: string): string {
  return date.slice(0, 10);
}

/** The Task the suggestion creates. */
export function radiologyTask(finding: Finding, ctx: OrderContext): Task | undefined {
  const gap = radiologyGap(finding);
  if (gap === undefined) return undefined;
  const score = gap.region === 'cervical' ? 'C-VBQ' : 'VBQ';
  const task: Task = {
    resourceType: 'Task',
    meta: { profile: [VBQ_TASK_PROFILE] },
    status: 'requested',
    intent: 'order',
    code: {
      coding: [
        { system: RADIOLOGY_TASK_SYSTEM, code: 'measure-vbq', display: 'Measure VBQ on existing MR images' },
      ],
    },
    description: `Measure ${score} on the existing ${gap.region} MR of ${humanDate(gap.studyDate)} before ${gap.procedureLabel} (${
      gap.plannedSurgeryDate ? `planned for ${humanDate(gap.plannedSurgeryDate)}` : 'surgery date not stated'
    })`,
    focus: { reference: gap.imagingStudy },
    for: { reference: `Patient/${ctx.patientId}` },
    reasonReference: gap.surgeryOrder,
    requester: { reference: ctx.userId },
    authoredOn: ctx.now.toISOString(),
    performerType: [{ coding: [{ system: SYSTEMS.snomed, code: '66862007', display: 'Radiologist' }] }],
  };
  // Task.restriction.period is R4's "when fulfilment is sought": the score is wanted by the planned surgery
  // date, which the worklist shows and sorts by (R5's Task.requestedPeriod is not in R4).
  if (gap.plannedSurgeryDate !== undefined) task.restriction = { period: { end: gap.plannedSurgeryDate } };
  if (gap.studyUid !== undefined) {
    task.input = [
      {
        type: { coding: [{ system: RADIOLOGY_TASK_SYSTEM, code: 'study-instance-uid' }] },
        valueOid: gap.studyUid,
      },
    ];
  }
  return task;
}

/** The suggestion on the card of `finding`, or undefined when it is not a radiology gap. */
export function radiologyTaskSuggestion(
  finding: Finding,
  ctx: OrderContext,
  cardUuid: string,
): CdsSuggestion | undefined {
  const task = radiologyTask(finding, ctx);
  if (task === undefined) return undefined;
  const score = radiologyGap(finding)?.region === 'cervical' ? 'C-VBQ' : 'VBQ';
  const label = `Ask radiology to measure ${score} on the existing MR`;
  return {
    label,
    uuid: uuidV5(`${cardUuid}|radiology-task`),
    isRecommended: true,
    actions: [{ type: 'create', description: `${label} (FHIR Task, no new imaging)`, resource: task }],
  };
}
