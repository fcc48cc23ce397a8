import type { Bundle, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/server.js';
import type { TestFhirServer } from '../helpers/fhir-server.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { BQ, clientFor, collection, observation, patient, statusOf } from './fixtures.js';

const ID_SYSTEM = 'https://spine-bone-health-cds.org/fhir/identifier/bone-quality-measurement';
const PATIENT_URN = 'urn:uuid:5b1c0a3e-6a4f-4c57-9a57-5d2f3c9f1a01';

function measured(hash: string): Observation {
  return {
    ...observation('p1', BQ, 'vbq-l1-l4', '2024-03-01', 3.1),
    identifier: [{ system: ID_SYSTEM, value: hash }],
  };
}

function forPatient(obs: Observation, reference: string): Observation {
  return { ...obs, subject: { reference } };
}

async function post(
  server: TestFhirServer,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${server.baseUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as unknown };
}

describe('embedded FHIR server: transactions, batches and conditional create', () => {
  let server: TestFhirServer;

  beforeEach(async () => {
    server = await startFhirServer({ seed: [collection([{ resource: patient('p1') }])] });
  });
  afterEach(async () => {
    await server.stop();
  });

  it('commits a transaction and rewrites urn:uuid references to the new ids', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: PATIENT_URN, resource: patient('new'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: forPatient(observation('x', BQ, 'ebq', '2024-01-01', 3.3), PATIENT_URN),
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const result = await clientFor(server.baseUrl).transaction(bundle);
    expect(result.type).toBe('transaction-response');
    expect(result.entry?.map((e) => e.response?.status)).toEqual(['201', '201']);
    const newPatient = result.entry?.[0]?.resource as Patient;
    const obs = result.entry?.[1]?.resource as Observation;
    expect(obs.subject?.reference).toBe(`Patient/${newPatient.id}`);
    expect(result.entry?.[1]?.fullUrl).toBe(`${server.baseUrl}/Observation/${obs.id}`);
    const found = await clientFor(server.baseUrl).get(`Observation?patient=${newPatient.id}`);
    expect(found.total).toBe(1);
  });

  it('is all or nothing: an invalid entry stores nothing and leaves updated resources untouched', async () => {
    const before = { patients: server.repo.count('Patient'), observations: server.repo.count('Observation') };
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: PATIENT_URN, resource: patient('t'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: { ...patient('p1'), gender: 'male' } as Patient,
          request: { method: 'PUT', url: 'Patient/p1' },
        },
        {
          resource: forPatient(observation('p1', BQ, 'ebq', '2024-01-01', 3), PATIENT_URN),
          request: { method: 'POST', url: 'Observation' },
        },
        {
          resource: { ...observation('p1', BQ, 'ebq', '2024-13-45', 3) },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const res = await post(server, '', bundle);
    expect(res.status).toBe(400);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    expect(server.repo.count('Patient')).toBe(before.patients);
    expect(server.repo.count('Observation')).toBe(before.observations);
    const p1 = await clientFor(server.baseUrl).read<Patient>('Patient', 'p1');
    expect(p1.gender).toBe('female');
    expect(p1.meta?.versionId).toBe('1');
    const history = await clientFor(server.baseUrl).history('Patient', 'p1');
    expect(history.entry?.length).toBe(1);
  });

  it('rolls back when a later entry fails a precondition (If-Match)', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: measured('h-1'), request: { method: 'POST', url: 'Observation' } },
        { resource: patient('p1'), request: { method: 'PUT', url: 'Patient/p1', ifMatch: 'W/"9"' } },
      ],
    };
    const res = await post(server, '', bundle);
    expect(res.status).toBe(412);
    expect(server.repo.count('Observation')).toBe(0);
  });

  it('refuses a transaction entry without request.method/url (medplum would skip it silently)', async () => {
    const res = await post(server, '', {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { resource: patient('q'), request: { method: 'POST', url: 'Patient' } },
        { resource: patient('r') },
      ],
    });
    expect(res.status).toBe(400);
    expect(server.repo.count('Patient')).toBe(1);
  });

  it('processes a batch entry by entry: good entries stored, bad ones answered with their own error', async () => {
    const res = await post(server, '', {
      resourceType: 'Bundle',
      type: 'batch',
      entry: [
        { resource: measured('b-1'), request: { method: 'POST', url: 'Observation' } },
        {
          resource: { resourceType: 'Observation', status: 'bogus' },
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    });
    expect(res.status).toBe(200);
    const bundle = res.body as Bundle;
    expect(bundle.type).toBe('batch-response');
    expect(bundle.entry?.map((e) => e.response?.status)).toEqual(['201', '400']);
    expect(server.repo.count('Observation')).toBe(1);
  });

  it('conditional create with If-None-Exist: 201, then 200 with the same resource, 412 on multiple matches', async () => {
    const header = { 'If-None-Exist': `identifier=${ID_SYSTEM}|h-42` };
    const first = await post(server, '/Observation', measured('h-42'), header);
    expect(first.status).toBe(201);
    expect(first.headers.get('location')).toMatch(
      new RegExp(`/fhir/Observation/${(first.body as Observation).id}/`),
    );
    const second = await post(server, '/Observation', measured('h-42'), header);
    expect(second.status).toBe(200);
    expect((second.body as Observation).id).toBe((first.body as Observation).id);
    expect(server.repo.count('Observation')).toBe(1);

    // A second resource with the same identifier, written without the condition: now ambiguous.
    await post(server, '/Observation', measured('h-42'));
    const third = await post(server, '/Observation', measured('h-42'), header);
    expect(third.status).toBe(412);
    expect(server.repo.count('Observation')).toBe(2);
  });

  it('conditional update by identifier: creates (201) then updates the same resource (200, version 2)', async () => {
    const url = `${server.baseUrl}/Observation?identifier=${encodeURIComponent(`${ID_SYSTEM}|u-1`)}`;
    const put = (body: Observation) =>
      fetch(url, {
        method: 'PUT',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
    const first = await put(measured('u-1'));
    expect(first.status).toBe(201);
    const created = (await first.json()) as Observation;
    const second = await put({
      ...measured('u-1'),
      valueQuantity: { ...measured('u-1').valueQuantity, value: 3.3 },
    });
    expect(second.status).toBe(200);
    const updated = (await second.json()) as Observation;
    expect(updated.id).toBe(created.id);
    expect(updated.meta?.versionId).toBe('2');
    expect(server.repo.count('Observation')).toBe(1);
  });

  it('conditional create with a bare patient id in the condition', async () => {
    const header = { 'If-None-Exist': `patient=p1&code=${BQ}|vbq-l1-l4` };
    expect((await post(server, '/Observation', measured('c-1'), header)).status).toBe(201);
    expect((await post(server, '/Observation', measured('c-2'), header)).status).toBe(200);
    expect(server.repo.count('Observation')).toBe(1);
  });

  it('conditional create inside a transaction (ifNoneExist) does not duplicate', async () => {
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          resource: measured('t-1'),
          request: { method: 'POST', url: 'Observation', ifNoneExist: `identifier=${ID_SYSTEM}|t-1` },
        },
      ],
    };
    const client = clientFor(server.baseUrl);
    const first = await client.transaction(bundle);
    const second = await client.transaction(bundle);
    expect(first.entry?.[0]?.response?.status).toBe('201');
    expect(second.entry?.[0]?.response?.status).toBe('200');
    expect(server.repo.count('Observation')).toBe(1);
  });

  it('rejects a transaction through the injected validator and stores nothing', async () => {
    const strict = await startFhirServer({
      validate: (r) =>
        r.resourceType === 'Observation'
          ? [{ severity: 'error', code: 'required', diagnostics: 'no profile' }]
          : [],
    });
    try {
      const res = await statusOf(
        clientFor(strict.baseUrl).transaction({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            { resource: patient('v'), request: { method: 'POST', url: 'Patient' } },
            { resource: measured('v-1'), request: { method: 'POST', url: 'Observation' } },
          ],
        }),
      );
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.data)).toContain('no profile');
      expect(strict.repo.count()).toBe(0);
    } finally {
      await strict.stop();
    }
  });
});

describe('embedded FHIR server: seeding and reset', () => {
  it('loads collection and transaction seeds, and reset() brings the seed state back', async () => {
    const seedTx: Bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        { fullUrl: PATIENT_URN, resource: patient('tx'), request: { method: 'POST', url: 'Patient' } },
        {
          resource: forPatient(observation('x', BQ, 'ebq', '2024-01-01', 3.3), PATIENT_URN),
          request: { method: 'POST', url: 'Observation' },
        },
      ],
    };
    const server = await startFhirServer({
      seed: [collection([{ resource: patient('s1') }, { resource: measured('s-1') }]), seedTx],
    });
    try {
      expect(server.repo.count('Patient')).toBe(2);
      expect(server.repo.count('Observation')).toBe(2);
      const client = clientFor(server.baseUrl);
      expect((await client.read('Patient', 's1')).id).toBe('s1');
      await client.delete('Patient', 's1');
      await client.create(patient('extra'));
      await server.reset();
      expect(server.repo.count('Patient')).toBe(2);
      expect((await client.read('Patient', 's1')).meta?.versionId).toBe('1');
    } finally {
      await server.stop();
    }
  });

  it('refuses to start with an invalid seed and says which bundle', async () => {
    await expect(
      createEmbeddedFhirServer({
        seed: [
          collection([
            { resource: { resourceType: 'Patient', id: 'bad', birthDate: 'yesterday' } as Patient },
          ]),
        ],
      }),
    ).rejects.toThrow(/Seed bundle 0 \(collection\).*birthDate/);
  });
});
