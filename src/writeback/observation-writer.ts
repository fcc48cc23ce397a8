/**
 * THE FHIR write path (outbox worker, imaging HTTP API through the outbox, and the `vbq` CLI): writes one
 * bone-quality Observation to the FHIR server as a conditional create on its measurement identifier, so a
 * retried or repeated write never makes a duplicate. A placeholder subject (the DICOM
 * PatientID as an identifier) is resolved to `Patient/<id>` first. Every failure is classified as
 * retryable (the outbox tries again later) or permanent (the outbox gives up), with a reason that carries
 * no patient data and no credentials.
 */
import type { Bundle, Identifier, Observation, OperationOutcome, Reference } from 'fhir/r4.js';
import { urlForMessage } from '../errors.js';
import { FhirAuthError, type FhirWriteAuth } from './fhir-auth.js';

export type WriteErrorCode =
  | 'network'
  | 'timeout'
  | 'server-error'
  | 'rate-limited'
  | 'unauthorized'
  | 'auth-failed'
  | 'rejected'
  | 'multiple-matches'
  | 'patient-not-found'
  | 'patient-ambiguous'
  | 'invalid-observation'
  | 'bad-response'
  /** A Task completion waits for its Observation to be written first. */
  | 'observation-pending'
  /** An amendment found the Observation changed between its read and its update (412/409). */
  | 'version-conflict';

/** A failed write. `message` is safe to log and store: no patient data, no tokens. */
export class WriteError extends Error {
  constructor(
    readonly code: WriteErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
    /** The server's Retry-After, when it sent one (429/503). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'WriteError';
  }
}

export interface WriteResult {
  /**
   * `created` = 201; `exists` = 200, the server already held an Observation with this identifier;
   * `amended` = an amendment replaced the Observation with this identifier (version-aware update);
   * `superseded` = an amendment was not applied because the server's Observation comes from a newer
   * report (its `issued` is later), e.g. a retried outbox item of an older correction.
   */
  outcome: 'created' | 'exists' | 'amended' | 'superseded';
  status: number;
  /** `Observation/<id>` when the server told us the id. */
  reference?: string;
  /** The subject written, e.g. `Patient/123`. */
  subject?: string;
}

/** Writes Observations; implemented over HTTP by `createObservationWriter`, replaceable in other wiring. */
export interface ObservationWriter {
  write(observation: Observation, signal?: AbortSignal): Promise<WriteResult>;
  /**
   * Replaces the Observation carrying this one's identifier (a corrected measurement, status `amended`);
   * creates it when the server has none yet (the original write may still be queued), so the order of
   * the two in the outbox does not matter. Never replaces a newer result: when the server's Observation
   * has a later `issued` (the content date/time of the report it came from) the amendment is skipped
   * (`superseded`), and the update names the version it read (If-Match), so a concurrent change in
   * between makes it read and compare again instead of overwriting.
   */
  amend?(observation: Observation, signal?: AbortSignal): Promise<WriteResult>;
}

export interface ObservationWriterOptions {
  /** FHIR base URL (FHIR_WRITE_BASE_URL), without trailing slash. */
  baseUrl: string;
  auth: FhirWriteAuth;
  /** Per HTTP request. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Clock for HTTP-date Retry-After values. */
  now?: () => Date;
}

const FHIR_JSON = 'application/fhir+json';
const RETRY_AFTER_CAP_MS = 60 * 60 * 1000;

/** FHIR token search value `system|value`, escaping what the query grammar needs escaped. */
export function tokenQuery(identifier: { system?: string; value?: string }): string {
  // Reserved characters inside the parts are escaped with a backslash (FHIR search escaping), then the
  // text is percent-encoded except for `:`, `/` and the separating `|`, which servers accept as-is.
  const esc = (s: string) =>
    encodeURIComponent(s.replace(/[\\|,$]/g, (c) => `\\${c}`))
      .replace(/%3A/gi, ':')
      .replace(/%2F/gi, '/');
  return `${identifier.system ? esc(identifier.system) : ''}|${esc(identifier.value ?? '')}`;
}

/** The `If-None-Exist` header for an Observation: its first identifier with both system and value. */
export function ifNoneExistFor(observation: Observation): string {
  const id = measurementIdentifierOf(observation);
  if (!id)
    throw new WriteError('invalid-observation', 'Observation has no identifier with system and value', false);
  return `identifier=${tokenQuery(id)}`;
}

/** The identifier the conditional create (and the outbox dedupe key) is based on. */
export function measurementIdentifierOf(
  observation: Observation,
): { system: string; value: string } | undefined {
  const id = observation.identifier?.find((i) => i.system && i.value);
  return id?.system && id.value ? { system: id.system, value: id.value } : undefined;
}

/** A subject given only as a Patient identifier (the DICOM PatientID), to be resolved before writing. */
export function placeholderSubject(subject: Reference | undefined): Identifier | undefined {
  if (!subject || subject.reference) return undefined;
  if (subject.type && subject.type !== 'Patient') return undefined;
  return subject.identifier?.value ? subject.identifier : undefined;
}

/**
 * Text of an OperationOutcome's issues (code and details text), bounded. Diagnostics are left out:
 * servers put echoed input (which may be patient data) there more often than in details.text.
 */
export function outcomeText(body: unknown): string | undefined {
  const oo = body as Partial<OperationOutcome> | undefined;
  if (!oo || oo.resourceType !== 'OperationOutcome' || !Array.isArray(oo.issue)) return undefined;
  const parts = oo.issue.map((i) => {
    const where = i.expression?.[0] ?? i.location?.[0];
    const text = i.details?.text ?? i.details?.coding?.[0]?.code;
    return [i.code, text, where && `at ${where}`].filter(Boolean).join(' ');
  });
  const joined = parts.filter(Boolean).join('; ');
  return joined ? joined.slice(0, 300) : undefined;
}

function retryAfterMs(header: string | null, now: number): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, RETRY_AFTER_CAP_MS) : undefined;
}

/** True when `current` (an Observation's issued) is strictly later than `incoming`'s; unknown is not. */
function isNewer(current: string | undefined, incoming: string | undefined): boolean {
  if (!current || !incoming) return false;
  const a = Date.parse(current);
  const b = Date.parse(incoming);
  return Number.isFinite(a) && Number.isFinite(b) && a > b;
}

/** Maps an unsuccessful HTTP status to a classified error. */
function statusError(what: string, res: Response, body: unknown, now: number): WriteError {
  const status = res.status;
  if (status >= 200 && status < 300) {
    // Only 200 and 201 say where the resource is; asking again is safe because the create is conditional.
    return new WriteError('bad-response', `${what}: FHIR server answered ${status}`, true, status);
  }
  const detail = outcomeText(body);
  const suffix = detail ? `: ${detail}` : '';
  if (status === 429) {
    return new WriteError(
      'rate-limited',
      `${what}: FHIR server answered 429${suffix}`,
      true,
      status,
      retryAfterMs(res.headers.get('retry-after'), now),
    );
  }
  if (status >= 500 || status === 408) {
    return new WriteError(
      'server-error',
      `${what}: FHIR server answered ${status}${suffix}`,
      true,
      status,
      retryAfterMs(res.headers.get('retry-after'), now),
    );
  }
  if (status === 401) {
    // Credentials are configuration an operator can fix; the write waits instead of being dropped.
    return new WriteError(
      'unauthorized',
      `${what}: FHIR server answered 401 (credentials refused)`,
      true,
      status,
    );
  }
  if (status === 412) {
    return new WriteError(
      'multiple-matches',
      `${what}: FHIR server answered 412, more than one resource matches the identifier${suffix}`,
      false,
      status,
    );
  }
  return new WriteError('rejected', `${what}: FHIR server answered ${status}${suffix}`, false, status);
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => '');
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Creates the HTTP writer for `options.baseUrl`. */
export function createObservationWriter(options: ObservationWriterOptions): ObservationWriter {
  const base = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? (() => new Date());

  /** One request with the current credentials; on 401 once more with fresh ones when that can help. */
  async function send(
    what: string,
    url: string,
    init: { method: string; headers: Record<string, string>; body?: string },
    signal: AbortSignal | undefined,
  ): Promise<{ res: Response; body: unknown }> {
    for (let attempt = 0; ; attempt++) {
      let authorization: string | undefined;
      try {
        authorization = await options.auth.authorization(signal);
      } catch (err) {
        if (err instanceof FhirAuthError)
          throw new WriteError('auth-failed', `${what}: ${err.message}`, err.retryable, err.status);
        throw err;
      }
      const timeout = AbortSignal.timeout(timeoutMs);
      let res: Response;
      try {
        res = await doFetch(url, {
          method: init.method,
          headers: { accept: FHIR_JSON, ...init.headers, ...(authorization ? { authorization } : {}) },
          ...(init.body !== undefined ? { body: init.body } : {}),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch {
        // The URL names the server and endpoint (configuration); its query, which may carry a patient
        // identifier, is elided.
        const where = urlForMessage(url);
        if (timeout.aborted || signal?.aborted)
          throw new WriteError('timeout', `${what}: FHIR server did not answer in time at ${where}`, true);
        throw new WriteError('network', `${what}: FHIR server unreachable at ${where}`, true);
      }
      const body = await readBody(res);
      if (res.status === 401 && attempt === 0 && options.auth.invalidate(authorization)) continue;
      return { res, body };
    }
  }

  async function resolvePatient(identifier: Identifier, signal: AbortSignal | undefined): Promise<string> {
    const what = 'resolving the subject';
    const url = `${base}/Patient?identifier=${tokenQuery(identifier)}&_elements=id&_count=2`;
    const { res, body } = await send(what, url, { method: 'GET', headers: {} }, signal);
    if (!res.ok) throw statusError(what, res, body, now().getTime());
    const bundle = body as Partial<Bundle> | undefined;
    if (bundle?.resourceType !== 'Bundle')
      throw new WriteError('bad-response', `${what}: search did not return a Bundle`, true, res.status);
    const ids = (bundle.entry ?? [])
      .filter((e) => e.resource?.resourceType === 'Patient' && e.search?.mode !== 'include' && e.resource.id)
      .map((e) => e.resource?.id as string);
    const system = identifier.system ?? '(no system)';
    if (ids.length > 1 || (bundle.total ?? 0) > 1) {
      throw new WriteError(
        'patient-ambiguous',
        `${what}: more than one Patient has this identifier (system ${system})`,
        false,
      );
    }
    const id = ids[0];
    // The Patient may be registered later (e.g. by the ADT feed): waiting is better than guessing.
    if (!id)
      throw new WriteError(
        'patient-not-found',
        `${what}: no Patient with this identifier yet (system ${system})`,
        true,
      );
    return `Patient/${id}`;
  }

  async function withSubject(
    observation: Observation,
    signal: AbortSignal | undefined,
  ): Promise<Observation> {
    const placeholder = placeholderSubject(observation.subject);
    if (placeholder) {
      return { ...observation, subject: { reference: await resolvePatient(placeholder, signal) } };
    }
    if (!observation.subject?.reference) {
      throw new WriteError(
        'invalid-observation',
        'Observation has no subject reference or Patient identifier',
        false,
      );
    }
    return observation;
  }

  /** The Observation with this identifier on the server (its id, version and issued), if any. */
  async function currentObservation(
    query: string,
    signal: AbortSignal | undefined,
  ): Promise<(Observation & { id: string }) | undefined> {
    const what = 'reading the Observation to amend';
    const { res, body } = await send(
      what,
      `${base}/Observation?${query}&_count=2`,
      { method: 'GET', headers: {} },
      signal,
    );
    if (!res.ok) throw statusError(what, res, body, now().getTime());
    const bundle = body as Partial<Bundle> | undefined;
    if (bundle?.resourceType !== 'Bundle')
      throw new WriteError('bad-response', `${what}: search did not return a Bundle`, true, res.status);
    const found = (bundle.entry ?? [])
      .filter((e) => e.search?.mode !== 'include')
      .map((e) => e.resource)
      .filter((r): r is Observation & { id: string } => r?.resourceType === 'Observation' && !!r.id);
    if (found.length > 1)
      throw new WriteError(
        'multiple-matches',
        `${what}: more than one Observation has its identifier`,
        false,
      );
    return found[0];
  }

  return {
    async amend(observation, signal) {
      if (observation.resourceType !== 'Observation') {
        throw new WriteError('invalid-observation', 'payload is not an Observation', false);
      }
      // The same identifier query as the conditional create: one logical Observation per measurement.
      const query = ifNoneExistFor(observation);
      const toWrite = await withSubject(observation, signal);
      const what = 'amending the Observation';
      const current = await currentObservation(query, signal);
      if (current && isNewer(current.issued, toWrite.issued)) {
        return {
          outcome: 'superseded',
          status: 200,
          reference: `Observation/${current.id}`,
          ...(current.subject?.reference ? { subject: current.subject.reference } : {}),
        };
      }
      // Version-aware update of the Observation read (If-Match), or, when there is none yet, the
      // conditional update that creates it (a concurrent create then matches and is replaced in turn).
      const version = current?.meta?.versionId;
      const { res, body } = await send(
        what,
        current ? `${base}/Observation/${encodeURIComponent(current.id)}` : `${base}/Observation?${query}`,
        {
          method: 'PUT',
          headers: {
            'content-type': FHIR_JSON,
            prefer: 'return=representation',
            ...(current && version ? { 'if-match': `W/"${version}"` } : {}),
          },
          body: JSON.stringify(current ? { ...toWrite, id: current.id } : toWrite),
        },
        signal,
      );
      if (res.status === 412 || res.status === 409) {
        // Changed since it was read: the next attempt reads it again and compares.
        throw new WriteError(
          'version-conflict',
          `${what}: the Observation changed since it was read (${res.status})`,
          true,
          res.status,
        );
      }
      if (res.status !== 200 && res.status !== 201) throw statusError(what, res, body, now().getTime());
      return {
        outcome: res.status === 201 ? 'created' : 'amended',
        status: res.status,
        ...optionalReference(res, body),
        ...(toWrite.subject?.reference ? { subject: toWrite.subject.reference } : {}),
      };
    },
    async write(observation, signal) {
      if (observation.resourceType !== 'Observation') {
        throw new WriteError('invalid-observation', 'payload is not an Observation', false);
      }
      const ifNoneExist = ifNoneExistFor(observation);
      let toWrite = observation;
      const placeholder = placeholderSubject(observation.subject);
      if (placeholder) {
        toWrite = { ...observation, subject: { reference: await resolvePatient(placeholder, signal) } };
      } else if (!observation.subject?.reference) {
        throw new WriteError(
          'invalid-observation',
          'Observation has no subject reference or Patient identifier',
          false,
        );
      }
      const what = 'writing the Observation';
      const { res, body } = await send(
        what,
        `${base}/Observation`,
        {
          method: 'POST',
          headers: {
            'content-type': FHIR_JSON,
            'if-none-exist': ifNoneExist,
            prefer: 'return=representation',
          },
          body: JSON.stringify(toWrite),
        },
        signal,
      );
      if (res.status !== 200 && res.status !== 201) throw statusError(what, res, body, now().getTime());
      return {
        outcome: res.status === 201 ? 'created' : 'exists',
        status: res.status,
        ...optionalReference(res, body),
        ...(toWrite.subject?.reference ? { subject: toWrite.subject.reference } : {}),
      };
    },
  };
}

/** `Observation/<id>` from the returned resource, else from the Location header. */
function optionalReference(res: Response, body: unknown): { reference?: string } {
  const resource = body as { resourceType?: unknown; id?: unknown } | undefined;
  if (resource?.resourceType === 'Observation' && typeof resource.id === 'string') {
    return { reference: `Observation/${resource.id}` };
  }
  const location = res.headers.get('location') ?? res.headers.get('content-location');
  const match = location ? /(?:^|\/)Observation\/([A-Za-z0-9\-.]{1,64})(?:\/|$)/.exec(location) : null;
  return match?.[1] ? { reference: `Observation/${match[1]}` } : {};
}
