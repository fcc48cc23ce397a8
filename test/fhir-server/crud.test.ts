import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Bundle, CapabilityStatement, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/server.js';
import type { TestFhirServer } from '../helpers/fhir-server.js';
import { startFhirServer } from '../helpers/fhir-server.js';
import { clientFor, observation, patient, statusOf, BQ } from './fixtures.js';

describe('embedded FHIR server: CRUD, metadata and errors over HTTP', () => {
  let server: TestFhirServer;

  beforeAll(async () => {
    server = await startFhirServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('creates with 201, an absolute Location, ETag and a server-assigned id', async () => {
    const res = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ ...patient('client-chosen'), id: 'client-chosen' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const body = (await res.json()) as Patient;
    expect(body.id).toBeTruthy();
    expect(body.id).not.toBe('client-chosen');
    expect(res.headers.get('location')).toBe(`${server.baseUrl}/Patient/${body.id}/_history/1`);
    expect(res.headers.get('etag')).toBe('W/"1"');
  });

  it('reads, updates (versions 1 -> 2), vreads, lists history newest first (twice) and patches', async () => {
    const client = clientFor(server.baseUrl);
    const created = await client.create(patient('x'));
    const id = created.id as string;
    const read = await client.read<Patient>('Patient', id);
    expect(read.name?.[0]?.family).toBe('Test-x');

    const updated = await client.update({ ...read, gender: 'male' });
    expect(updated.meta?.versionId).toBe('2');
    expect(updated.gender).toBe('male');

    const v1 = await client.vread<Patient>('Patient', id, '1');
    expect(v1.gender).toBe('female');

    for (let i = 0; i < 2; i++) {
      const history = await client.history('Patient', id);
      expect(history.entry?.map((e) => e.resource?.meta?.versionId)).toEqual(['2', '1']);
    }

    const patched = await client.patch<Patient>('Patient', id, [
      { op: 'replace', path: '/gender', value: 'other' },
    ]);
    expect(patched.gender).toBe('other');
    expect(patched.meta?.versionId).toBe('3');
  });

  it('honours If-Match on update (412 for a stale version)', async () => {
    const client = clientFor(server.baseUrl);
    const created = await client.create(patient('m'));
    const stale = await statusOf(client.update(created, { 'If-Match': 'W/"7"' }));
    expect(stale.status).toBe(412);
    const ok = await fetch(`${server.baseUrl}/Patient/${created.id}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json', 'if-match': 'W/"1"' },
      body: JSON.stringify(created),
    });
    expect(ok.status).toBe(200);
  });

  it('answers 201 for update-as-create with a client id', async () => {
    const res = await fetch(`${server.baseUrl}/Patient/upsert-1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify(patient('upsert-1')),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`${server.baseUrl}/Patient/upsert-1/_history/1`);
  });

  it('deletes: the resource is then not found', async () => {
    const client = clientFor(server.baseUrl);
    const created = await client.create(patient('d'));
    await client.delete('Patient', created.id as string);
    expect((await statusOf(client.read('Patient', created.id as string))).status).toBe(404);
  });

  it('answers 404 + OperationOutcome for an unknown resource type (read, search and create)', async () => {
    for (const [method, path] of [
      ['GET', '/Foo'],
      ['GET', '/Foo/1'],
      ['POST', '/Foo'],
    ] as const) {
      const res = await fetch(`${server.baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/fhir+json' },
        ...(method === 'POST' ? { body: JSON.stringify({ resourceType: 'Foo' }) } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(404);
      const body = (await res.json()) as OperationOutcome;
      expect(body.resourceType).toBe('OperationOutcome');
      expect(body.issue[0]?.code).toBe('not-found');
    }
  });

  it('answers 404 for an unknown id', async () => {
    const res = await fetch(`${server.baseUrl}/Patient/does-not-exist`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  it('rejects an invalid resource with 400 + OperationOutcome and stores nothing', async () => {
    const before = server.repo.count('Patient');
    const res = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', birthDate: 'not-a-date' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as OperationOutcome;
    expect(body.issue.some((i) => i.expression?.includes('Patient.birthDate'))).toBe(true);
    expect(server.repo.count('Patient')).toBe(before);
  });

  it('answers 415 for a non-JSON body and 400 for malformed JSON', async () => {
    const text = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    const form = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'resourceType=Patient',
    });
    expect(form.status).toBe(415);
    const broken = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: '{"resourceType":',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
  });

  it('accepts application/json as well as application/fhir+json', async () => {
    const res = await fetch(`${server.baseUrl}/Patient`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(patient('json')),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('serves an R4 CapabilityStatement listing the supported types, interactions and search params', async () => {
    const cs = (await clientFor(server.baseUrl).capabilityStatement()) as CapabilityStatement;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    expect(cs.kind).toBe('instance');
    const rest = cs.rest?.[0];
    expect(rest?.interaction?.map((i) => i.code).sort()).toEqual(['batch', 'transaction']);
    const types = rest?.resource?.map((r) => r.type) ?? [];
    for (const t of [
      'Patient',
      'Observation',
      'Condition',
      'MedicationRequest',
      'ServiceRequest',
      'ImagingStudy',
    ]) {
      expect(types).toContain(t);
    }
    expect(types).not.toContain('Foo');
    expect(types).not.toContain('SubscriptionStatus');
    const obs = rest?.resource?.find((r) => r.type === 'Observation');
    expect(obs?.interaction?.map((i) => i.code)).toEqual(
      expect.arrayContaining(['read', 'vread', 'create', 'update', 'patch', 'delete', 'search-type']),
    );
    const params = obs?.searchParam?.map((p) => `${p.name}:${p.type}`) ?? [];
    expect(params).toEqual(expect.arrayContaining(['patient:reference', 'code:token', 'date:date']));
    expect(params).toContain('value-quantity:quantity');
    // composite parameters are not evaluated, so they are not advertised
    expect(params).not.toContain('code-value-quantity:composite');
  });

  it('refuses system-level search and unknown methods with 405', async () => {
    expect((await fetch(`${server.baseUrl}/`)).status).toBe(405);
    expect((await fetch(`${server.baseUrl}/metadata`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('embedded FHIR server: injected validator', () => {
  it('runs the injected validator on create, update and patch; 400 and nothing stored on errors', async () => {
    const seen: string[] = [];
    const server = await startFhirServer({
      validate: (resource) => {
        seen.push(resource.resourceType);
        const obs = resource as { resourceType: string; meta?: { profile?: string[] } };
        return obs.resourceType === 'Observation' && !obs.meta?.profile?.length
          ? [
              {
                severity: 'error',
                code: 'required',
                diagnostics: 'meta.profile is required',
                expression: ['meta'],
              },
            ]
          : [{ severity: 'warning', code: 'informational', diagnostics: 'just a warning' }];
      },
    });
    try {
      const client = clientFor(server.baseUrl);
      const rejected = await statusOf(
        client.create({
          resourceType: 'Observation',
          body: observation('p1', BQ, 'vbq-l1-l4', '2024-01-01', 3),
        }),
      );
      expect(rejected.status).toBe(400);
      expect(JSON.stringify(rejected.data)).toContain('meta.profile is required');
      expect(server.repo.count('Observation')).toBe(0);

      const good = {
        ...observation('p1', BQ, 'vbq-l1-l4', '2024-01-01', 3),
        meta: { profile: ['https://spine-bone-health-cds.org/fhir/StructureDefinition/vbq-lumbar'] },
      };
      const created = (await client.create(good)) as Observation & { id: string };
      expect(server.repo.count('Observation')).toBe(1);

      const badUpdate = await statusOf(client.update({ ...good, id: created.id, meta: {} }));
      expect(badUpdate.status).toBe(400);
      const badPatch = await statusOf(
        client.patch('Observation', created.id, [{ op: 'remove', path: '/meta/profile' }]),
      );
      expect(badPatch.status).toBe(400);
      const current = await client.read<Observation>('Observation', created.id);
      expect(current.meta?.versionId).toBe('1');
      expect(seen.filter((t) => t === 'Observation').length).toBeGreaterThanOrEqual(4);
    } finally {
      await server.stop();
    }
  });

  it('accepts the project validator issue shape (message/path) and AppError from assertValid', async () => {
    const shaped = await startFhirServer({
      validate: () => [
        {
          severity: 'error',
          code: 'required',
          path: 'Observation.component',
          message: 'csf-si component missing',
          source: 'https://spine-bone-health-cds.org/fhir/StructureDefinition/vbq-lumbar',
        },
      ],
    });
    const throwing = await startFhirServer({
      validate: () => {
        throw new AppError('invalid-resource', 'profile check failed', ['Observation.code: wrong system']);
      },
    });
    try {
      const first = await statusOf(
        clientFor(shaped.baseUrl).create(observation('p1', BQ, 'ebq', '2024-01-01', 3)),
      );
      expect(first.status).toBe(400);
      const issues = (first.data as OperationOutcome).issue;
      expect(issues.some((i) => i.diagnostics === 'csf-si component missing')).toBe(true);
      expect(issues.some((i) => i.expression?.[0] === 'Observation.component')).toBe(true);
      const second = await statusOf(clientFor(throwing.baseUrl).create(patient('t')));
      expect(second.status).toBe(400);
      expect(JSON.stringify(second.data)).toContain('Observation.code: wrong system');
      expect(shaped.repo.count() + throwing.repo.count()).toBe(0);
    } finally {
      await shaped.stop();
      await throwing.stop();
    }
  });

  it('treats a validator that throws an OperationOutcome error as a validation failure', async () => {
    const server = await startFhirServer({
      validate: () => {
        throw Object.assign(new Error('invalid'), {
          outcome: {
            resourceType: 'OperationOutcome',
            issue: [{ severity: 'error', code: 'invariant', diagnostics: 'from a throwing validator' }],
          },
        });
      },
    });
    try {
      const res = await statusOf(clientFor(server.baseUrl).create(patient('t')));
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.data)).toContain('from a throwing validator');
    } finally {
      await server.stop();
    }
  });
});

describe('embedded FHIR server: body size limit', () => {
  it('answers 413 + OperationOutcome above maxBodyBytes and stores nothing', async () => {
    const server = await startFhirServer({ maxBodyBytes: 2048 });
    try {
      const res = await fetch(`${server.baseUrl}/Patient`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ ...patient('big'), name: [{ family: 'x'.repeat(4096) }] }),
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as OperationOutcome).resourceType).toBe('OperationOutcome');
      expect(server.repo.count()).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe('embedded FHIR server: mount path and host', () => {
  it('builds fullUrl, Location and links from the mount path and the Host header', async () => {
    const fhir = await createEmbeddedFhirServer({ seed: [] });
    const app = express();
    app.use('/demo-fhir', fhir.router);
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      const base = `http://127.0.0.1:${port}/demo-fhir`;
      const created = await fetch(`${base}/Patient`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(patient('mount')),
      });
      const id = ((await created.json()) as Patient).id as string;
      expect(created.headers.get('location')).toBe(`${base}/Patient/${id}/_history/1`);

      // Another Host (as behind a proxy that keeps the Host header): URLs follow it.
      const viaOtherHost = await new Promise<Bundle>((resolve, reject) => {
        http
          .get(
            {
              host: '127.0.0.1',
              port,
              path: '/demo-fhir/Patient?_count=1',
              headers: { host: 'ehr.example:8443' },
            },
            (res) => {
              let data = '';
              res.on('data', (c: Buffer) => (data += c.toString()));
              res.on('end', () => resolve(JSON.parse(data) as Bundle));
            },
          )
          .on('error', reject);
      });
      expect(viaOtherHost.entry?.[0]?.fullUrl).toBe(`http://ehr.example:8443/demo-fhir/Patient/${id}`);
      expect(viaOtherHost.link?.find((l) => l.relation === 'self')?.url).toMatch(
        /^http:\/\/ehr\.example:8443\/demo-fhir\/Patient\?/,
      );
    } finally {
      server.close();
      server.closeAllConnections();
    }
  });
});
