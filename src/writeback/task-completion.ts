/**
 * Closing the radiology loop (issue 17): when a measurement lands, the open VBQ measurement Tasks of the
 * patient for that study (created from the data-gap card) are completed with the Observation as output.
 * Runs as an outbox item queued after the Observation's, so it is durable and retried; it waits (retries)
 * until the Observation is on the FHIR server, because the Task must reference it.
 *
 * Also lists the open Tasks for the radiology worklist.
 */
import type { Bundle, Observation, Task } from 'fhir/r4.js';
import { CANONICAL_BASE } from '../knowledge/codes.js';
import type { FhirWriteAuth } from './fhir-auth.js';
import { tokenQuery, WriteError } from './observation-writer.js';
import type { OutboxHandler } from './outbox-worker.js';

export const TASK_COMPLETE_OUTBOX_KIND = 'fhir-task-complete';
export const RADIOLOGY_TASK_SYSTEM = `${CANONICAL_BASE}/CodeSystem/radiology-task`;
const OPEN_STATUSES = 'requested,received,accepted,ready,in-progress,on-hold';
const FHIR_JSON = 'application/fhir+json';

export interface TaskCompletionPayload {
  /** DICOM Study Instance UID of the measured study. */
  studyInstanceUID: string;
  /** Measurement identifiers of the Observations written for it. */
  observations: { system: string; value: string }[];
}

export interface FhirTaskClientOptions {
  baseUrl: string;
  auth: Pick<FhirWriteAuth, 'authorization'>;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
  now?: () => Date;
}

function client(opts: FhirTaskClientOptions) {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const doFetch = opts.fetchImpl ?? fetch;
  return async function call(
    what: string,
    path: string,
    init: { method?: string; body?: unknown } = {},
    signal?: AbortSignal,
  ): Promise<unknown> {
    const authorization = await opts.auth.authorization(signal);
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
    let res: Response;
    try {
      res = await doFetch(`${base}/${path}`, {
        method: init.method ?? 'GET',
        headers: {
          accept: FHIR_JSON,
          ...(init.body !== undefined ? { 'content-type': FHIR_JSON } : {}),
          ...(authorization ? { authorization } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch {
      throw new WriteError('network', `${what}: FHIR server unreachable`, true);
    }
    const text = await res.text();
    if (!res.ok) {
      const retryable = res.status >= 500 || res.status === 429 || res.status === 401;
      throw new WriteError(
        res.status >= 500 ? 'server-error' : 'rejected',
        `${what}: FHIR server answered ${res.status}`,
        retryable,
        res.status,
      );
    }
    try {
      return text.trim() === '' ? undefined : (JSON.parse(text) as unknown);
    } catch {
      throw new WriteError('bad-response', `${what}: the answer is not JSON`, true, res.status);
    }
  };
}

function resources<T>(bundle: unknown, type: string): T[] {
  const b = bundle as Partial<Bundle> | undefined;
  return (b?.entry ?? [])
    .map((e) => e.resource as { resourceType?: string } | undefined)
    .filter((r): r is T & { resourceType: string } => r?.resourceType === type) as T[];
}

function studyUidOf(task: Task): string | undefined {
  const input = task.input?.find((i) =>
    i.type.coding?.some((c) => c.system === RADIOLOGY_TASK_SYSTEM && c.code === 'study-instance-uid'),
  );
  return input?.valueOid;
}

/** The outbox handler completing the Tasks for a measured study. */
export function createTaskCompletionHandler(opts: FhirTaskClientOptions): OutboxHandler {
  const call = client(opts);
  const now = opts.now ?? (() => new Date());
  return async (payload, signal) => {
    const p = payload as TaskCompletionPayload;
    const refs: string[] = [];
    let subject: string | undefined;
    for (const id of p.observations) {
      const found = resources<Observation>(
        await call(
          'finding the Observation',
          `Observation?identifier=${tokenQuery(id)}&_count=2`,
          {},
          signal,
        ),
        'Observation',
      )[0];
      if (!found?.id) {
        throw new WriteError(
          'observation-pending',
          'completing the Task: the Observation is not written yet',
          true,
        );
      }
      refs.push(`Observation/${found.id}`);
      subject ??= found.subject?.reference;
    }
    if (!subject || refs.length === 0) return { completed: 0 };
    const wanted = `urn:oid:${p.studyInstanceUID}`;
    const open = resources<Task>(
      await call(
        'finding the open Tasks',
        `Task?code=${encodeURIComponent(`${RADIOLOGY_TASK_SYSTEM}|measure-vbq`)}&subject=${encodeURIComponent(subject)}&status=${OPEN_STATUSES}&_count=100`,
        {},
        signal,
      ),
      'Task',
    );
    const completed: string[] = [];
    for (const task of open) {
      let uid = studyUidOf(task);
      const focus = task.focus?.reference;
      if (uid === undefined && focus?.startsWith('ImagingStudy/')) {
        const study = (await call('reading the ImagingStudy', focus, {}, signal)) as
          { identifier?: { system?: string; value?: string }[] } | undefined;
        uid = study?.identifier?.find((i) => i.system === 'urn:dicom:uid')?.value;
      }
      if (uid !== wanted || !task.id) continue;
      const done: Task = {
        ...task,
        status: 'completed',
        lastModified: now().toISOString(),
        output: [
          ...(task.output ?? []),
          ...refs.map((reference) => ({
            type: { coding: [{ system: RADIOLOGY_TASK_SYSTEM, code: 'bone-quality-observation' }] },
            valueReference: { reference },
          })),
        ],
      };
      await call(
        'completing the Task',
        `Task/${encodeURIComponent(task.id)}`,
        { method: 'PUT', body: done },
        signal,
      );
      completed.push(`Task/${task.id}`);
    }
    return { completed: completed.length, tasks: completed };
  };
}

/** Open VBQ measurement Tasks that name their study (for the worklist): study UID, Task, surgery date. */
export async function openMeasurementTasks(
  opts: FhirTaskClientOptions,
): Promise<{ studyInstanceUID: string; task: string; plannedSurgeryDate?: string; authoredOn?: string }[]> {
  const call = client(opts);
  const tasks = resources<Task>(
    await call(
      'listing the open Tasks',
      `Task?code=${encodeURIComponent(`${RADIOLOGY_TASK_SYSTEM}|measure-vbq`)}&status=${OPEN_STATUSES}&_count=500`,
    ),
    'Task',
  );
  return tasks.flatMap((t) => {
    const uid = studyUidOf(t);
    if (!uid?.startsWith('urn:oid:') || !t.id) return [];
    const entry: {
      studyInstanceUID: string;
      task: string;
      plannedSurgeryDate?: string;
      authoredOn?: string;
    } = {
      studyInstanceUID: uid.slice('urn:oid:'.length),
      task: `Task/${t.id}`,
    };
    const planned = t.restriction?.period?.end;
    if (planned) entry.plannedSurgeryDate = planned;
    if (t.authoredOn) entry.authoredOn = t.authoredOn;
    return [entry];
  });
}
