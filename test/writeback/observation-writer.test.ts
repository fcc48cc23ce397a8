import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bundle, Observation } from 'fhir/r4.js';
import { noFhirAuth } from '../../src/writeback/fhir-auth.js';
import {
  createObservationWriter,
  ifNoneExistFor,
  outcomeText,
  tokenQuery,
  WriteError,
} from '../../src/writeback/observation-writer.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { startGuardedFhirServer, type GuardedFhirServer } from './guarded-fhir.js';
import {
  MEASUREMENT_SYSTEM,
  observationsLike,
  PATIENT_ID_SYSTEM,
  patientSeed,
  vbqObservation,
} from './fixtures.js';

async function writeError(p: Promise<unknown>): Promise<WriteError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof WriteError) return err;
    throw err;
  }
  throw new Error('expected the write to fail');
}

describe('observation writer (conditional create over HTTP)', () => {
  let fhir: TestFhirServer;
  const duplicateObs = vbqObservation('1.2.3.dup', { reference: 'Patient/p1' });

  beforeAll(async () => {
    const twins: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: ['o-a', 'o-b'].map((id) => ({ resource: { ...duplicateObs, id } })),
    };
    fhir = await startFhirServer({
      seed: [
        patientSeed([
          ['p1', 'PAT-001'],
          ['p2', 'TWIN'],
          ['p3', 'TWIN'],
        ]),
        twins,
      ],
    });
  });
  afterAll(async () => {
    await fhir.stop();
  });

  const writer = () =>
    createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 2000 });

  it('creates exactly one Observation, and a repeated write finds it instead of duplicating', async () => {
    const obs = vbqObservation('1.2.3.100', { reference: 'Patient/p1' });
    const first = await writer().write(obs);
    expect(first.outcome).toBe('created');
    expect(first.status).toBe(201);
    expect(first.reference).toMatch(/^Observation\/.+/);
    const second = await writer().write(obs);
    expect(second.outcome).toBe('exists');
    expect(second.status).toBe(200);
    expect(second.reference).toBe(first.reference);
    const stored = await observationsLike(fhir.baseUrl, obs);
    expect(stored).toHaveLength(1);
    expect(stored[0]?.valueQuantity?.value).toBe(3.1);
  });

  it('resolves a DICOM PatientID placeholder subject to Patient/<id> before writing', async () => {
    const obs = vbqObservation('1.2.3.101');
    const result = await writer().write(obs);
    expect(result.subject).toBe('Patient/p1');
    const stored = await observationsLike(fhir.baseUrl, obs);
    expect(stored.map((o) => o.subject?.reference)).toEqual(['Patient/p1']);
  });

  it('waits (retryable) when no Patient has the identifier yet, without naming the PatientID', async () => {
    const obs = vbqObservation('1.2.3.102', {
      identifier: { system: PATIENT_ID_SYSTEM, value: 'UNKNOWN-SECRET-ID' },
    });
    const err = await writeError(writer().write(obs));
    expect(err.code).toBe('patient-not-found');
    expect(err.retryable).toBe(true);
    expect(err.message).not.toContain('UNKNOWN-SECRET-ID');
    expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(0);
  });

  it('gives up (permanent) when the PatientID matches more than one Patient', async () => {
    const obs = vbqObservation('1.2.3.103', { identifier: { system: PATIENT_ID_SYSTEM, value: 'TWIN' } });
    const err = await writeError(writer().write(obs));
    expect(err.code).toBe('patient-ambiguous');
    expect(err.retryable).toBe(false);
    expect(err.message).not.toContain('TWIN');
  });

  it('treats 412 (identifier already matches several Observations) as permanent', async () => {
    const err = await writeError(writer().write(duplicateObs));
    expect(err.status).toBe(412);
    expect(err.code).toBe('multiple-matches');
    expect(err.retryable).toBe(false);
    expect(await observationsLike(fhir.baseUrl, duplicateObs)).toHaveLength(2);
  });

  it('treats a 400 as permanent and keeps the OperationOutcome text', async () => {
    // Observation.code is required (1..1): the server's structural validation refuses the write.
    const { code: _code, ...withoutCode } = vbqObservation('1.2.3.104', { reference: 'Patient/p1' });
    const obs = withoutCode as Observation;
    const err = await writeError(writer().write(obs));
    expect(err.status).toBe(400);
    expect(err.code).toBe('rejected');
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('at Observation.code');
  });

  it('refuses an Observation without an identifier before calling the server', async () => {
    fhir.clearRequests();
    const obs = { ...vbqObservation('1.2.3.105', { reference: 'Patient/p1' }), identifier: [] };
    const err = await writeError(writer().write(obs));
    expect(err.code).toBe('invalid-observation');
    expect(err.retryable).toBe(false);
    expect(fhir.requests).toHaveLength(0);
  });

  it('classifies a slow server as a retryable timeout and a stopped one as a retryable network error', async () => {
    const obs = vbqObservation('1.2.3.106', { reference: 'Patient/p1' });
    fhir.setSlow(400);
    try {
      const slow = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 100 });
      const err = await writeError(slow.write(obs));
      expect(err.code).toBe('timeout');
      expect(err.retryable).toBe(true);
    } finally {
      fhir.setSlow(0);
    }
    await fhir.stop();
    try {
      const err = await writeError(writer().write(obs));
      expect(err.code).toBe('network');
      expect(err.retryable).toBe(true);
    } finally {
      await fhir.restart();
    }
    await writer().write(obs);
    expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
  });
});

describe('observation writer against injected upstream faults', () => {
  let fhir: GuardedFhirServer;
  beforeAll(async () => {
    fhir = await startGuardedFhirServer({ seed: [patientSeed([['p1', 'PAT-001']])] });
  });
  afterAll(async () => {
    await fhir.stop();
  });

  it('treats 503 and 429 as retryable and passes on Retry-After', async () => {
    const writer = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth() });
    const obs = vbqObservation('1.2.3.200', { reference: 'Patient/p1' });
    fhir.failNext(1, 503, { 'retry-after': '7' });
    const unavailable = await writeError(writer.write(obs));
    expect(unavailable).toMatchObject({
      code: 'server-error',
      retryable: true,
      status: 503,
      retryAfterMs: 7000,
    });
    fhir.failNext(1, 429);
    const limited = await writeError(writer.write(obs));
    expect(limited).toMatchObject({ code: 'rate-limited', retryable: true, status: 429 });
    expect(limited.retryAfterMs).toBeUndefined();
    fhir.failNext(1, 403);
    const forbidden = await writeError(writer.write(obs));
    expect(forbidden).toMatchObject({ code: 'rejected', retryable: false, status: 403 });
    const ok = await writer.write(obs);
    expect(ok.outcome).toBe('created');
  });

  it('a write whose response was lost is found, not duplicated, when retried', async () => {
    const writer = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth() });
    const obs = vbqObservation('1.2.3.201', { reference: 'Patient/p1' });
    fhir.dropResponseNext(1);
    const lost = await writeError(writer.write(obs));
    expect(lost).toMatchObject({ code: 'network', retryable: true });
    expect(fhir.served.filter((r) => r === 'POST /Observation').length).toBeGreaterThan(0);
    const again = await writer.write(obs);
    expect(again.outcome).toBe('exists');
    expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
  });
});

describe('writer helpers', () => {
  it('builds the If-None-Exist token query from the measurement identifier', () => {
    const obs = vbqObservation('1.2.3.300');
    const value = obs.identifier?.[0]?.value ?? '';
    expect(ifNoneExistFor(obs)).toBe(`identifier=${MEASUREMENT_SYSTEM}|${value}`);
    expect(tokenQuery({ system: 'urn:x', value: 'a|b c' })).toBe('urn:x|a%5C%7Cb%20c');
  });

  it('keeps issue codes and texts of an OperationOutcome but not diagnostics', () => {
    const text = outcomeText({
      resourceType: 'OperationOutcome',
      issue: [
        { severity: 'error', code: 'invalid', details: { text: 'bad status' }, diagnostics: 'echo: PAT-001' },
        { severity: 'error', code: 'required', expression: ['Observation.code'] },
      ],
    });
    expect(text).toBe('invalid bad status; required at Observation.code');
    expect(outcomeText({ resourceType: 'Patient' })).toBeUndefined();
  });
});
