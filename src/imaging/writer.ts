import type { Bundle, Observation, Patient } from 'fhir/r4.js';
import { AppError } from '../errors.js';
import { ifNoneExist } from './observations.js';

export interface WriteOutcome {
  /** `created` on 201; `exists` when the conditional create matched an existing Observation (200). */
  status: 'created' | 'exists';
  /** "Observation/<id>" when the server said so (Location header or body). */
  reference?: string;
}

/**
 * Where measurement Observations go. The CLI writes directly; the service swaps in its durable outbox,
 * which must keep the same idempotency: conditional create on the measurement identifier.
 */
export interface ObservationWriter {
  write(observation: Observation): Promise<WriteOutcome>;
}

export interface FhirClientOptions {
  baseUrl: string;
  /** Static bearer token; never logged. */
  token?: string;
  fetchImpl?: typeof fetch;
  timeoutMs?: number;
}

function headers(opts: FhirClientOptions, extra: Record<string, string> = {}): Record<string, string> {
  const h: Record<string, string> = { Accept: 'application/fhir+json', ...extra };
  if (opts.token) h.Authorization = `Bearer ${opts.token}`;
  return h;
}

async function call(opts: FhirClientOptions, url: string, init: RequestInit): Promise<Response> {
  const f = opts.fetchImpl ?? fetch;
  try {
    return await f(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs ?? 15_000) });
  } catch (err) {
    // The URL is configuration, not patient data; the cause text carries no token.
    throw new AppError('upstream-unavailable', `FHIR server unreachable at ${new URL(url).origin}`, [
      err instanceof Error ? err.message : String(err),
    ]);
  }
}

function trimBase(base: string): string {
  return base.replace(/\/+$/, '');
}

/** Writes Observations straight to a FHIR server with `If-None-Exist` (conditional create). */
export class DirectFhirWriter implements ObservationWriter {
  constructor(private readonly opts: FhirClientOptions) {}

  /** Creates the Observation unless one with the same identifier exists (never a duplicate). */
  async write(observation: Observation): Promise<WriteOutcome> {
    const res = await call(this.opts, `${trimBase(this.opts.baseUrl)}/Observation`, {
      method: 'POST',
      headers: headers(this.opts, {
        'Content-Type': 'application/fhir+json',
        'If-None-Exist': ifNoneExist(observation),
      }),
      body: JSON.stringify(observation),
    });
    const text = await res.text();
    if (res.status === 201 || res.status === 200) {
      const loc = res.headers.get('location') ?? res.headers.get('content-location');
      let reference = loc ? /(Observation\/[^/?#]+)/.exec(loc)?.[1] : undefined;
      if (!reference && text) {
        try {
          const body = JSON.parse(text) as { resourceType?: string; id?: string };
          if (body.resourceType === 'Observation' && body.id) reference = `Observation/${body.id}`;
        } catch {
          // A body is optional (Prefer: return=minimal); the status decides.
        }
      }
      const out: WriteOutcome = { status: res.status === 201 ? 'created' : 'exists' };
      if (reference) out.reference = reference;
      return out;
    }
    if (res.status === 412) {
      throw new AppError(
        'upstream-unavailable',
        'the FHIR server holds several Observations with this identifier (412)',
      );
    }
    if (res.status >= 500 || res.status === 429) {
      throw new AppError(
        'upstream-unavailable',
        `FHIR server answered ${res.status} to the Observation create`,
      );
    }
    throw new AppError('invalid-resource', `FHIR server rejected the Observation (${res.status})`, [
      text.slice(0, 500),
    ]);
  }
}

/**
 * Finds the FHIR Patient for a DICOM PatientID by identifier search (`system|value`, or bare value when no
 * system is configured). Exactly one match is required: a wrong patient is worse than none.
 */
export async function resolvePatientReference(
  opts: FhirClientOptions,
  dicomPatientId: string,
  identifierSystem?: string,
): Promise<string> {
  const q = identifierSystem ? `${identifierSystem}|${dicomPatientId}` : dicomPatientId;
  const url = `${trimBase(opts.baseUrl)}/Patient?identifier=${encodeURIComponent(q)}&_count=2`;
  const res = await call(opts, url, { method: 'GET', headers: headers(opts) });
  if (!res.ok) throw new AppError('upstream-unavailable', `Patient search answered ${res.status}`);
  const bundle = (await res.json()) as Bundle<Patient>;
  const patients = (bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is Patient => r?.resourceType === 'Patient');
  if (patients.length !== 1 || !patients[0]?.id) {
    throw new AppError(
      'not-found',
      patients.length === 0
        ? 'no FHIR Patient carries the DICOM PatientID of this study'
        : 'several FHIR Patients carry the DICOM PatientID of this study',
    );
  }
  return `Patient/${patients[0].id}`;
}
