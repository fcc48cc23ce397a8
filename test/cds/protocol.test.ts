/**
 * CDS Hooks 2.0 checklist (../shared/knowledge/cds-hooks-checklist.md), protocol lines, over real HTTP.
 * Each test names the checklist line it checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OperationOutcome } from 'fhir/r4.js';
import type { CdsService } from '../../src/services/service.js';
import { standInServices } from '../helpers/services.js';
import type { CdsCard } from '../../src/cds/types.js';
import { orderSelectRequest, orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { storeBackends } from '../helpers/store.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const SELECT = '/cds-services/spine-surgery-bone-health-select';

function errorCode(body: OperationOutcome): string | undefined {
  return body.issue[0]?.details?.coding?.[0]?.code;
}

const fixedCard: CdsCard = {
  uuid: '6f1c2a54-0000-4000-8000-000000000001',
  summary: 'Test card',
  indicator: 'info',
  source: { label: 'test' },
};

/** Services whose evaluator returns one fixed card, and one that throws (for the error-path checks). */
function testServices(): CdsService[] {
  const [sign, select] = standInServices(() => [fixedCard]);
  const broken: CdsService = {
    ...sign!,
    definition: { ...sign!.definition, id: 'broken' },
    plan: () => () => {
      throw new Error('boom with secret patient detail');
    },
  };
  const silent: CdsService = {
    ...sign!,
    definition: { ...sign!.definition, id: 'silent' },
    plan: () => () => [],
  };
  return [sign!, select!, broken, silent];
}

for (const backend of storeBackends()) {
  describe(`CDS Hooks protocol (store: ${backend.name})`, () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startTestService({ store: await backend.open(), services: testServices() });
    });
    afterAll(async () => {
      await svc.close();
      await svc.store.close();
    });

    describe('Discovery', () => {
      it('GET {base}/cds-services -> 200 {"services":[...]}', async () => {
        const res = await svc.get('/cds-services');
        expect(res.status).toBe(200);
        const body = (await res.json()) as { services: Record<string, unknown>[] };
        expect(body.services.map((s) => s.id)).toEqual(
          expect.arrayContaining(['spine-surgery-bone-health', 'spine-surgery-bone-health-select']),
        );
      });

      it('Each service: hook, id, description required; title recommended; prefetch key -> template', async () => {
        const { services } = (await (await svc.get('/cds-services')).json()) as {
          services: Record<string, unknown>[];
        };
        const sign = services.find((s) => s.id === 'spine-surgery-bone-health');
        const select = services.find((s) => s.id === 'spine-surgery-bone-health-select');
        expect(sign).toMatchObject({
          hook: 'order-sign',
          title: expect.any(String),
          description: expect.any(String),
        });
        expect(select).toMatchObject({
          hook: 'order-select',
          title: expect.any(String),
          description: expect.any(String),
        });
        for (const s of services) {
          for (const [key, value] of Object.entries(s)) {
            expect(value, `${String(s.id)}.${key}`).not.toBeNull();
            expect(value, `${String(s.id)}.${key}`).not.toEqual('');
          }
        }
      });

      it('Prefetch tokens: only {{context.<top-level primitive>}} and the user tokens; recommended query subset', async () => {
        const { services } = (await (await svc.get('/cds-services')).json()) as {
          services: { prefetch: Record<string, string> }[];
        };
        const allowedTokens =
          /^(context\.(patientId|userId|encounterId)|userPractitionerId|userPractitionerRoleId|userPatientId|userRelatedPersonId)$/;
        const allowedParams =
          /^(patient|subject|code|category|status|clinical-status|modality|date|authored|_count|_sort|_id)$/;
        for (const service of services) {
          for (const [key, template] of Object.entries(service.prefetch)) {
            for (const [, token] of template.matchAll(/\{\{\s*([^}]+?)\s*\}\}/g)) {
              expect(token, `${key}: ${template}`).toMatch(allowedTokens);
            }
            const [path, query] = template.split('?');
            expect(path, key).toMatch(/^[A-Z][A-Za-z]+(\/\{\{context\.patientId\}\})?$/);
            for (const pair of (query ?? '').split('&').filter(Boolean)) {
              const [name, value] = pair.split('=');
              expect(name, `${key}: ${pair}`).toMatch(allowedParams);
              if (name === 'date' || name === 'authored') expect(value).toMatch(/^(eq|lt|gt|ge|le)/);
              if (name === '_sort') expect(value).toMatch(/^-?[a-z-]+$/);
            }
          }
        }
      });

      it('Security: Authorization Bearer JWT is required on discovery', async () => {
        const res = await svc.get('/cds-services', { token: null });
        expect(res.status).toBe(401);
      });
    });

    describe('Request', () => {
      it('POST {base}/cds-services/{id} with hook, hookInstance, context -> 200 {"cards":[...]}', async () => {
        const res = await svc.post(SIGN, orderSignRequest());
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ cards: [fixedCard] });
      });

      it('Unknown fields and extension in a request are tolerated, not rejected', async () => {
        const req = orderSignRequest();
        const res = await svc.post(SIGN, {
          ...req,
          extension: { 'com.example.flag': true },
          somethingNew: [1, 2],
          context: { ...(req.context as object), extension: { x: 1 }, unknownContextField: 'y' },
        });
        expect(res.status).toBe(200);
      });

      it.each([
        ['hook missing', (r: Record<string, unknown>) => ({ ...r, hook: undefined })],
        ['hookInstance missing', (r: Record<string, unknown>) => ({ ...r, hookInstance: undefined })],
        ['hookInstance not a UUID', (r: Record<string, unknown>) => ({ ...r, hookInstance: 'abc' })],
        ['context missing', (r: Record<string, unknown>) => ({ ...r, context: undefined })],
        [
          'draftOrders not a Bundle',
          (r: Record<string, unknown>) => ({
            ...r,
            context: { ...(r.context as object), draftOrders: { resourceType: 'Patient' } },
          }),
        ],
        [
          'userId not Practitioner/x or PractitionerRole/x',
          (r: Record<string, unknown>) => ({
            ...r,
            context: { ...(r.context as object), userId: 'Patient/1' },
          }),
        ],
        [
          'fhirServer is required when fhirAuthorization is present',
          (r: Record<string, unknown>) => ({
            ...r,
            fhirAuthorization: {
              access_token: 'x',
              token_type: 'Bearer',
              expires_in: 300,
              scope: 'patient/*.read',
              subject: 'cds',
              patient: 'p1',
            },
          }),
        ],
        [
          'fhirAuthorization: patient required when scopes are patient/',
          (r: Record<string, unknown>) => ({
            ...r,
            fhirServer: 'http://127.0.0.1:9/fhir',
            fhirAuthorization: {
              access_token: 'x',
              token_type: 'Bearer',
              expires_in: 300,
              scope: 'launch patient/Observation.read',
              subject: 'cds',
            },
          }),
        ],
        [
          'fhirAuthorization: access_token, token_type, expires_in, scope, subject required',
          (r: Record<string, unknown>) => ({
            ...r,
            fhirServer: 'http://127.0.0.1:9/fhir',
            fhirAuthorization: { access_token: 'x', token_type: 'Bearer' },
          }),
        ],
        ['hook does not match the service', (r: Record<string, unknown>) => ({ ...r, hook: 'patient-view' })],
        [
          'prefetch value not a resource',
          (r: Record<string, unknown>) => ({ ...r, prefetch: { patient: 'Patient/1' } }),
        ],
      ])('invalid body (%s) -> 400 OperationOutcome invalid-request', async (_name, mutate) => {
        const res = await svc.post(SIGN, mutate(orderSignRequest()));
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
        const body = (await res.json()) as OperationOutcome;
        expect(body.resourceType).toBe('OperationOutcome');
        expect(errorCode(body)).toBe('invalid-request');
        expect(JSON.stringify(body)).not.toMatch(/at .*\.ts:\d+/);
      });

      it('order-select context adds selections (required)', async () => {
        const ok = await svc.post(SELECT, orderSelectRequest());
        expect(ok.status).toBe(200);
        const req = orderSelectRequest();
        const { selections: _s, ...context } = req.context as Record<string, unknown>;
        const bad = await svc.post(SELECT, { ...req, context });
        expect(bad.status).toBe(400);
      });

      it('unknown service id -> 404 OperationOutcome', async () => {
        const res = await svc.post('/cds-services/no-such-service', orderSignRequest());
        expect(res.status).toBe(404);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('unknown-service');
      });

      it('non-JSON body -> 415', async () => {
        const res = await svc.post(SIGN, 'hook=order-sign', { headers: { 'content-type': 'text/plain' } });
        expect(res.status).toBe(415);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('unsupported-media-type');
      });

      it('malformed JSON -> 400 invalid-json', async () => {
        const res = await svc.post(SIGN, '{"hook": "order-sign",');
        expect(res.status).toBe(400);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('invalid-json');
      });

      it('body above the documented size limit -> 413', async () => {
        const big = orderSignRequest();
        (big as Record<string, unknown>).padding = 'x'.repeat(6 * 1024 * 1024);
        const res = await svc.post(SIGN, big);
        expect(res.status).toBe(413);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('payload-too-large');
      });

      it('wrong method on a service -> 405 OperationOutcome', async () => {
        const res = await svc.get(SIGN);
        expect(res.status).toBe(405);
      });

      it('Non-2xx answers carry an OperationOutcome body, never a stack trace (evaluator failure -> 500)', async () => {
        const res = await svc.post('/cds-services/broken', orderSignRequest());
        expect(res.status).toBe(500);
        const text = await res.text();
        expect(JSON.parse(text)).toMatchObject({ resourceType: 'OperationOutcome' });
        expect(text).not.toMatch(/boom|secret|\.ts:|at /);
      });
    });

    describe('Response', () => {
      it('no advice is exactly {"cards":[]} (no empty systemActions or other members)', async () => {
        const res = await svc.post('/cds-services/silent', orderSignRequest());
        expect(res.status).toBe(200);
        expect(await res.text()).toBe('{"cards":[]}');
      });

      it('the same card is not shown twice between order-select and order-sign of one hookInstance', async () => {
        const select = orderSelectRequest();
        const first = (await (await svc.post(SELECT, select)).json()) as { cards: CdsCard[] };
        expect(first.cards).toHaveLength(1);
        const sign = { ...orderSignRequest(), hookInstance: select.hookInstance };
        const second = (await (await svc.post(SIGN, sign)).json()) as { cards: CdsCard[] };
        expect(second.cards).toEqual([]);
        // A retry of order-select itself still gets its card.
        const retry = (await (await svc.post(SELECT, select)).json()) as { cards: CdsCard[] };
        expect(retry.cards).toHaveLength(1);
      });
    });

    describe('Feedback', () => {
      const entry = {
        card: fixedCard.uuid,
        outcome: 'overridden',
        overrideReason: {
          reason: {
            system: 'https://spine-bone-health-cds.org/fhir/CodeSystem/override-reason',
            code: 'patient-declined',
            display: 'Patient declined',
          },
          userComment: 'discussed',
        },
        outcomeTimestamp: '2026-11-21T10:00:00Z',
      };

      it('POST {base}/cds-services/{id}/feedback persists every entry; batches and duplicates answer 200', async () => {
        const accepted = {
          card: 'a7e1b2c3-0000-4000-8000-000000000009',
          outcome: 'accepted',
          acceptedSuggestions: [{ id: 'sugg-dxa' }],
          outcomeTimestamp: '2026-11-21T10:05:00+01:00',
        };
        const res = await svc.post(`${SIGN}/feedback`, { feedback: [entry, entry, accepted] });
        expect(res.status).toBe(200);
        const again = await svc.post(`${SIGN}/feedback`, { feedback: [entry] });
        expect(again.status).toBe(200);
        const rows = await svc.store.listFeedback(fixedCard.uuid);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          outcome: 'overridden',
          client_iss: svc.client.iss,
          service_id: 'spine-surgery-bone-health',
        });
        expect(rows[0]?.override_reason).toMatchObject({ reason: { code: 'patient-declined' } });
        const acc = await svc.store.listFeedback(accepted.card);
        expect(acc[0]).toMatchObject({ accepted_suggestions: ['sugg-dxa'] });
        expect(new Date(acc[0]?.outcome_timestamp as string).toISOString()).toBe('2026-11-21T09:05:00.000Z');
      });

      it.each([
        [
          'acceptedSuggestions required when accepted',
          { ...entry, outcome: 'accepted', overrideReason: undefined },
        ],
        ['outcome must be accepted|overridden', { ...entry, outcome: 'ignored' }],
        ['outcomeTimestamp must be a date-time', { ...entry, outcomeTimestamp: 'yesterday' }],
        ['card required', { ...entry, card: undefined }],
      ])('invalid feedback (%s) -> 400 invalid-feedback, nothing stored', async (_n, bad) => {
        const before = (await svc.store.listFeedback()).length;
        const res = await svc.post(`${SIGN}/feedback`, { feedback: [bad] });
        expect(res.status).toBe(400);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('invalid-feedback');
        expect(await svc.store.listFeedback()).toHaveLength(before);
      });

      it('feedback for an unknown service -> 404', async () => {
        const res = await svc.post('/cds-services/nope/feedback', { feedback: [entry] });
        expect(res.status).toBe(404);
      });

      it('feedback needs a JWT too', async () => {
        const res = await svc.post(`${SIGN}/feedback`, { feedback: [entry] }, { token: null });
        expect(res.status).toBe(401);
      });
    });

    describe('CORS', () => {
      it('Browser-based clients send a preflight: answer OPTIONS, allow Authorization and Content-Type', async () => {
        const res = await fetch(svc.baseUrl + SIGN, {
          method: 'OPTIONS',
          headers: {
            origin: 'https://ehr.example.org',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization, content-type',
          },
        });
        expect(res.status).toBe(204);
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
        expect(allowed).toContain('authorization');
        expect(allowed).toContain('content-type');
        expect(res.headers.get('access-control-allow-methods')).toContain('POST');
      });

      it('actual responses carry Access-Control-Allow-Origin', async () => {
        const res = await svc.get('/cds-services');
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
      });
    });

    describe('Operations', () => {
      it('GET /healthz -> 200; GET /readyz reports the store', async () => {
        expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
        const ready = await fetch(`${svc.baseUrl}/readyz`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toMatchObject({ status: 'ready', checks: { store: true } });
      });

      it('each hook call leaves an audit row (service, hookInstance, client iss, patient, outcome, cards, duration)', async () => {
        const req = orderSignRequest('audit-patient');
        await svc.post(SIGN, req);
        await svc.flushAudit();
        const rows = await svc.store.listAudit(req.hookInstance as string);
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({
          service_id: 'spine-surgery-bone-health',
          client_iss: svc.client.iss,
          patient_id: 'audit-patient',
          outcome: 'cards',
          card_ids: [fixedCard.uuid],
        });
        expect(typeof rows[0]?.duration_ms).toBe('number');
      });

      it('each hook call is one log line: request id, route, status, service, hookInstance, client, outcome, cards, durations', async () => {
        const req = orderSignRequest('one-line-patient');
        const res = await svc.post(SIGN, req);
        const requestId = res.headers.get('x-request-id');
        const bad = { ...orderSignRequest('one-line-patient'), context: { patientId: 'x' } };
        const refused = await svc.post(SIGN, bad);
        expect(refused.status).toBe(400);
        const lines = (id: string | null) =>
          svc.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.requestId === id);
        await expect.poll(() => lines(requestId).length).toBe(1);
        expect(lines(requestId)[0]).toMatchObject({
          msg: 'hook call',
          app: 'spine-bone-health-cds',
          route: '/cds-services/:id',
          status: 200,
          cdsService: 'spine-surgery-bone-health',
          hookInstance: req.hookInstance,
          client: svc.client.iss,
          outcome: 'cards',
          cards: 1,
        });
        expect(typeof lines(requestId)[0]?.durationMs).toBe('number');
        expect(typeof lines(requestId)[0]?.evaluationMs).toBe('number');
        // A refused call is one line too, at info, with its stable error code.
        const refusedLines = lines(refused.headers.get('x-request-id'));
        expect(refusedLines).toHaveLength(1);
        expect(refusedLines[0]).toMatchObject({ status: 400, code: 'invalid-request', level: 30 });
        expect(svc.logs.join('\n')).not.toContain('one-line-patient');
      });

      it('GET /metrics: request counts and latency per route template and status', async () => {
        await svc.post(SIGN, orderSignRequest());
        const text = await (await fetch(`${svc.baseUrl}/metrics`)).text();
        expect(text).toMatch(
          /http_requests_total\{method="POST",route="\/cds-services\/:id",status="200"\} \d+/,
        );
        expect(text).toMatch(
          /http_request_duration_seconds_bucket\{le="0.5",method="POST",route="\/cds-services\/:id",status="200"\}/,
        );
        expect(text).toContain('fhir_fetch_duration_seconds');
        expect(text).not.toContain('audit-patient');
      });

      it('unknown path -> 404 OperationOutcome', async () => {
        const res = await fetch(`${svc.baseUrl}/nothing-here`);
        expect(res.status).toBe(404);
        expect(errorCode((await res.json()) as OperationOutcome)).toBe('not-found');
      });

      it('Never log a JWT, an access token or patient data', async () => {
        const token = await svc.token(SIGN);
        const req = {
          ...orderSignRequest('log-probe-patient'),
          fhirServer: 'http://127.0.0.1:9/fhir',
          fhirAuthorization: {
            access_token: 'secret-access-token-xyz',
            token_type: 'Bearer',
            expires_in: 300,
            scope: 'patient/*.read',
            subject: 'cds',
            patient: 'log-probe-patient',
          },
        };
        await svc.post(SIGN, req, { token });
        await svc.post(SIGN, { ...req, hookInstance: 'bad' }, { token: await svc.token(SIGN) });
        const all = svc.logs.join('\n');
        expect(all.length).toBeGreaterThan(0);
        expect(all).not.toContain(token);
        expect(all).not.toContain(token.split('.')[2]!);
        expect(all).not.toContain('secret-access-token-xyz');
        expect(all).not.toContain('log-probe-patient');
        for (const line of svc.logs) expect(() => JSON.parse(line)).not.toThrow();
        expect(svc.logs.some((l) => /"requestId":"[0-9a-f-]{36}"/.test(l))).toBe(true);
      });
    });
  });
}
