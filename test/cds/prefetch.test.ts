/**
 * Checklist "Prefetch": hydration against the embedded FHIR server over real HTTP (fhir-kit-client).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Bundle, Condition, FhirResource, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { renderTemplate } from '../../src/cds/prefetch.js';
import type { HydratedPrefetch } from '../../src/cds/types.js';
import { standInServices } from '../helpers/services.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { shippedPrefetchTemplates } from '../helpers/knowledge.js';
import { orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const TOKEN = 'ehr-issued-access-token';

function seed(): Bundle<FhirResource> {
  const conditions: Condition[] = Array.from({ length: 23 }, (_, i) => ({
    resourceType: 'Condition',
    id: `c${i}`,
    subject: { reference: 'Patient/p1' },
    code: { text: `condition ${i}` },
  }));
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      {
        resource: {
          resourceType: 'Patient',
          id: 'p1',
          gender: 'female',
          birthDate: '1950-02-03',
        } satisfies Patient,
      },
      ...conditions.map((resource) => ({ resource })),
      {
        resource: {
          resourceType: 'Observation',
          id: 'dxa1',
          status: 'final',
          subject: { reference: 'Patient/p1' },
          code: { coding: [{ system: 'http://loinc.org', code: '38267-1' }] },
          effectiveDateTime: '2025-01-01',
          valueQuantity: { value: -2.7 },
        } satisfies Observation,
      },
    ],
  };
}

function withAuth(req: Record<string, unknown>, fhirServer: string): Record<string, unknown> {
  return {
    ...req,
    fhirServer,
    fhirAuthorization: {
      access_token: TOKEN,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'patient/*.read',
      subject: 'cds',
      patient: 'p1',
    },
  };
}

function errorDetails(body: OperationOutcome): string[] {
  return body.issue.map((i) => i.diagnostics ?? '');
}

describe('prefetch hydration', () => {
  let fhir: TestFhirServer;
  let svc: TestService;
  let seen: HydratedPrefetch | undefined;

  beforeAll(async () => {
    fhir = await startFhirServer({ seed: [seed()], maxPageSize: 10 });
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: standInServices((input) => {
        seen = input.prefetch;
        return [];
      }),
      fhirTimeoutMs: 400,
      fhirServers: [fhir.baseUrl, 'http://127.0.0.1:9/fhir'],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await fhir.stop();
  });
  beforeEach(() => {
    seen = undefined;
    fhir.clearRequests();
    fhir.setSlow(0);
  });

  it('a missing key is fetched from fhirServer with the fhirAuthorization bearer token; supplied keys are not', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.dxa;
    delete prefetch.patient;
    const res = await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    expect(res.status).toBe(200);
    expect(seen?.patient).toMatchObject({ resourceType: 'Patient', id: 'p1' });
    expect((seen?.dxa as Bundle).entry?.map((e) => e.resource?.id)).toEqual(['dxa1']);
    const paths = fhir.requests.map((r) => r.url.split('?')[0]);
    expect(paths.sort()).toEqual(['/Observation', '/Patient/p1']);
    expect(fhir.requests.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('only missing keys are fetched (partial prefetch), all of them when none is supplied', async () => {
    const req = orderSignRequest('p1');
    delete (req as { prefetch?: unknown }).prefetch;
    const res = await svc.post(SIGN, withAuth(req, fhir.baseUrl));
    expect(res.status).toBe(200);
    expect(Object.keys(seen ?? {}).sort()).toEqual(Object.keys(shippedPrefetchTemplates()).sort());
    const firstPageRequests = fhir.requests.filter(
      (r) => !r.url.includes('_offset') && !r.url.includes('page'),
    );
    expect(firstPageRequests.length).toBeGreaterThanOrEqual(Object.keys(shippedPrefetchTemplates()).length);
  });

  it('results may be paged: Bundle.link[next] is followed until every entry is read', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.conditions;
    await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    const conditions = seen?.conditions as Bundle;
    expect(conditions.entry).toHaveLength(23);
    expect(new Set(conditions.entry?.map((e) => e.resource?.id)).size).toBe(23);
    expect(fhir.requests.length).toBe(3);
  });

  it('a supplied Bundle with a next link is completed from the FHIR server', async () => {
    const first = (await (await fetch(`${fhir.baseUrl}/Condition?patient=p1&_count=10`)).json()) as Bundle;
    expect(first.link?.some((l) => l.relation === 'next')).toBe(true);
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>), conditions: first };
    await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    expect((seen?.conditions as Bundle).entry).toHaveLength(23);
  });

  it('an OperationOutcome value means the client fetch failed: the service fetches the key itself', async () => {
    const req = orderSignRequest('p1');
    const prefetch = {
      ...(req.prefetch as Record<string, unknown>),
      dxa: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'timeout' }] },
    };
    await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    expect((seen?.dxa as Bundle).entry).toHaveLength(1);
    expect(fhir.requests).toHaveLength(1);
  });

  it('a null value means "no data": passed on as null and not fetched', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>), dxa: null };
    await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    expect(seen?.dxa).toBeNull();
    expect(fhir.requests).toHaveLength(0);
  });

  it('keys missing and no fhirServer -> 412 naming the keys', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.dxa;
    delete prefetch.conditions;
    const res = await svc.post(SIGN, { ...req, prefetch });
    expect(res.status).toBe(412);
    const body = (await res.json()) as OperationOutcome;
    expect(body.issue[0]?.details?.coding?.[0]?.code).toBe('prefetch-unavailable');
    expect(body.issue[0]?.diagnostics).toContain('conditions, dxa');
    expect(seen).toBeUndefined();
  });

  it('optional keys (vitaminD, imagingStudies) that cannot be had do not block the advice', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.vitaminD;
    delete prefetch.imagingStudies;
    const res = await svc.post(SIGN, { ...req, prefetch });
    expect(res.status).toBe(200);
    expect(seen).toBeDefined();
    expect(seen).not.toHaveProperty('vitaminD');
    expect(seen).not.toHaveProperty('imagingStudies');
  });

  it("the service's own fetch fails (FHIR server down) -> 412", async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.dxa;
    const res = await svc.post(SIGN, withAuth({ ...req, prefetch }, 'http://127.0.0.1:9/fhir'));
    expect(res.status).toBe(412);
    expect(errorDetails((await res.json()) as OperationOutcome).join(' ')).toContain(
      'dxa: FHIR server unreachable',
    );
  });

  it('a slow FHIR server is cut off at FHIR_TIMEOUT_MS -> 412 "timed out"', async () => {
    fhir.setSlow(1500);
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.dxa;
    const res = await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    expect(res.status).toBe(412);
    expect(errorDetails((await res.json()) as OperationOutcome).join(' ')).toContain('dxa: timed out');
  });

  it('the FHIR fetch latency is exported as a metric', async () => {
    const req = orderSignRequest('p1');
    const prefetch = { ...(req.prefetch as Record<string, unknown>) };
    delete prefetch.dxa;
    await svc.post(SIGN, withAuth({ ...req, prefetch }, fhir.baseUrl));
    const text = await (await fetch(`${svc.baseUrl}/metrics`)).text();
    expect(text).toMatch(/fhir_fetch_duration_seconds_count\{key="dxa",outcome="ok"\} [1-9]/);
  });
});

describe('prefetch template tokens', () => {
  const context = { patientId: 'p 1', userId: 'Practitioner/dr-9', draftOrders: { resourceType: 'Bundle' } };

  it('{{context.patientId}} is filled (URL-encoded)', () => {
    expect(renderTemplate('Patient/{{context.patientId}}', context)).toBe('Patient/p%201');
  });

  it('{{userPractitionerId}} is the id of a Practitioner userId', () => {
    expect(renderTemplate('Practitioner/{{userPractitionerId}}', context)).toBe('Practitioner/dr-9');
    expect(renderTemplate('PractitionerRole/{{userPractitionerRoleId}}', context)).toBeUndefined();
  });

  it('nested or non-primitive context paths cannot be filled', () => {
    expect(renderTemplate('X?y={{context.draftOrders}}', context)).toBeUndefined();
    expect(renderTemplate('X?y={{context.draftOrders.id}}', context)).toBeUndefined();
  });
});
