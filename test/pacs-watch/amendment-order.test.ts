/**
 * A retried amendment never overwrites a newer one (issue 17): against the embedded FHIR server (real HTTP,
 * versioned resources, If-Match), the writer's amend compares the server's Observation `issued` (the
 * content date/time of the report it came from) with the incoming one and skips older ones; the update names
 * the version it read, so a change in between is a retryable conflict, never a silent overwrite. The watcher
 * writes `issued` from the SR's ContentDate/ContentTime.
 */
import type { Bundle, Observation, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportIssued } from '../../src/pacs-watch/watcher.js';
import { noFhirAuth } from '../../src/writeback/fhir-auth.js';
import { createObservationWriter, WriteError } from '../../src/writeback/observation-writer.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';

const PID_SYSTEM = 'urn:dicom:patient-id';
const MEASUREMENT_SYSTEM = 'urn:spine-bone-health-cds:test-measurement';

function observation(value: number, issued: string, status: 'final' | 'amended'): Observation {
  return {
    resourceType: 'Observation',
    identifier: [{ system: MEASUREMENT_SYSTEM, value: 'study-1-vbq' }],
    status,
    code: { coding: [{ system: 'http://loinc.org', code: '99999-9' }], text: 'VBQ' },
    subject: { type: 'Patient', identifier: { system: PID_SYSTEM, value: 'MRN-1' } },
    effectiveDateTime: '2026-11-01',
    issued,
    valueQuantity: { value },
  };
}

describe('amendments are applied in report order, whatever the outbox order', () => {
  let fhir: TestFhirServer;

  beforeAll(async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'p1',
      identifier: [{ system: PID_SYSTEM, value: 'MRN-1' }],
    };
    fhir = await startFhirServer({
      seed: [{ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] }],
    });
  });
  afterAll(async () => {
    await fhir?.stop();
  });

  async function current(): Promise<Observation[]> {
    const res = await fetch(
      `${fhir.baseUrl}/Observation?identifier=${encodeURIComponent(`${MEASUREMENT_SYSTEM}|study-1-vbq`)}`,
    );
    const bundle = (await res.json()) as Bundle<Observation>;
    return (bundle.entry ?? []).map((e) => e.resource!);
  }

  it('skips an amendment from an older report and applies a newer one with If-Match', async () => {
    const writer = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 2000 });
    // The first report (09:00), then its correction (11:00) applied.
    expect((await writer.write(observation(2.9, '2026-11-02T09:00:00Z', 'final'))).outcome).toBe('created');
    expect((await writer.amend!(observation(3.4, '2026-11-02T11:00:00Z', 'amended'))).outcome).toBe(
      'amended',
    );
    // A retried outbox item of an earlier correction (10:00) comes last: skipped, the 11:00 value stands.
    fhir.clearRequests();
    const late = await writer.amend!(observation(3.1, '2026-11-02T10:00:00Z', 'amended'));
    expect(late.outcome).toBe('superseded');
    expect(fhir.requests.map((r) => r.method)).toEqual(['GET', 'GET']); // Patient, then the Observation
    let [obs] = await current();
    expect(obs!.valueQuantity?.value).toBe(3.4);
    expect(Date.parse(obs!.issued!)).toBe(Date.parse('2026-11-02T11:00:00Z'));
    const version = obs!.meta?.versionId;

    // The same correction again (an outbox retry after a lost answer): applied again, same value.
    expect((await writer.amend!(observation(3.4, '2026-11-02T11:00:00Z', 'amended'))).outcome).toBe(
      'amended',
    );
    // A newer correction (12:00, another time zone) replaces it, naming the version it read.
    fhir.clearRequests();
    expect((await writer.amend!(observation(3.6, '2026-11-02T13:00:00+01:00', 'amended'))).outcome).toBe(
      'amended',
    );
    expect(fhir.requests.filter((r) => r.method === 'PUT').map((r) => r.url)).toEqual([
      `/Observation/${obs!.id}`,
    ]);
    [obs] = await current();
    expect(obs!.valueQuantity?.value).toBe(3.6);
    expect(Number(obs!.meta?.versionId)).toBeGreaterThan(Number(version));
    expect((await current()).length).toBe(1);
  });

  it('a change between its read and its update is a retryable conflict, not an overwrite', async () => {
    const [before] = await current();
    // Another writer replaces the Observation right after this writer read it (between GET and PUT).
    const racing: typeof fetch = async (input, init) => {
      if (init?.method === 'PUT') {
        const newer = { ...before!, issued: '2026-11-02T15:00:00Z', valueQuantity: { value: 4.2 } };
        const res = await fetch(`${fhir.baseUrl}/Observation/${before!.id}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify(newer),
        });
        expect(res.status).toBe(200);
      }
      return fetch(input, init);
    };
    const writer = createObservationWriter({
      baseUrl: fhir.baseUrl,
      auth: noFhirAuth(),
      timeoutMs: 2000,
      fetch: racing,
    });
    const err = await writer.amend!(observation(3.9, '2026-11-02T14:00:00Z', 'amended')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WriteError);
    expect(err).toMatchObject({ code: 'version-conflict', retryable: true, status: 412 });
    const [obs] = await current();
    expect(obs!.valueQuantity?.value).toBe(4.2);
    // Its retry reads again and finds the newer (15:00) report: skipped.
    const plain = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 2000 });
    expect((await plain.amend!(observation(3.9, '2026-11-02T14:00:00Z', 'amended'))).outcome).toBe(
      'superseded',
    );
    expect((await current())[0]!.valueQuantity?.value).toBe(4.2);
  });

  it('the watcher takes issued from the report content date/time', () => {
    expect(reportIssued({ ContentDate: '20261102', ContentTime: '101530.25' })).toBe(
      '2026-11-02T10:15:30.250Z',
    );
    expect(
      reportIssued({ ContentDate: '20261102', ContentTime: '1015', TimezoneOffsetFromUTC: '+0100' }),
    ).toBe('2026-11-02T10:15:00+01:00');
    expect(reportIssued({ ContentDate: '20261102' }, '-05:00')).toBe('2026-11-02T00:00:00-05:00');
    expect(reportIssued({ ContentDate: 'yesterday' })).toBeUndefined();
    expect(reportIssued({})).toBeUndefined();
  });
});
