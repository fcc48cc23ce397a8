/**
 * patient-view over real HTTP with the real pipeline and store: silent and fetch-free when no spine
 * surgery is planned, the same assessment as order-sign when one is, and no nagging: a card shown to a
 * chart is not repeated within the window unless its data changed (the store is shared by replicas).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FhirResource } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import type { CdsCard } from '../../src/cds/types.js';
import { createServices, PATIENT_VIEW_SERVICE_ID } from '../../src/services/index.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { appointment, CPT, patient, score, serviceRequest } from '../fixtures/scenarios/builders.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { storeBackends } from '../helpers/store.js';
import { runTemplate } from '../rules/scenario-harness.js';

const PATH = `/cds-services/${PATIENT_VIEW_SERVICE_ID}`;
const NOW = new Date('2026-11-21T12:00:00Z');
const kb = shippedKnowledgeBase();

function prefetchFor(resources: FhirResource[], pid: string, keys: readonly string[] = PATIENT_VIEW_KEYS) {
  const templates = prefetchTemplates(kb, PATIENT_VIEW_KEYS);
  return Object.fromEntries(keys.map((k) => [k, runTemplate(templates[k]!, pid, resources)]));
}

function request(pid: string, prefetch: Record<string, FhirResource | null>) {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/dr-spine', patientId: pid },
    prefetch,
  };
}

const planned = (pid: string, vbqValue: number): FhirResource[] => [
  patient(pid, '1966-03-15', 'female'),
  serviceRequest(
    'sr-tlif',
    pid,
    CPT,
    '22630',
    'Lumbar posterior interbody arthrodesis (TLIF)',
    'active',
    '2026-11-01',
  ),
  score('vbq-1', pid, 'vbq-l1-l4', vbqValue, '2026-06-01T10:00:00Z'),
];

for (const backend of storeBackends()) {
  describe(`patient-view (store: ${backend.name})`, () => {
    let svc: TestService;
    beforeAll(async () => {
      svc = await startTestService({
        store: await backend.open(),
        services: createServices(kb, { patientViewRepeatHours: 24 }),
        now: () => NOW,
      });
    });
    afterAll(async () => {
      await svc.close();
      await svc.store.close();
    });

    const cardsOf = async (body: unknown): Promise<CdsCard[]> => {
      const res = await svc.post(PATH, body);
      expect(res.status).toBe(200);
      return ((await res.json()) as { cards: CdsCard[] }).cards;
    };

    it('is listed in discovery with the planned-surgery keys', async () => {
      const res = await svc.get('/cds-services');
      const services = ((await res.json()) as { services: { id: string; hook: string; prefetch: object }[] })
        .services;
      const pv = services.find((s) => s.id === PATIENT_VIEW_SERVICE_ID);
      expect(pv?.hook).toBe('patient-view');
      expect(Object.keys(pv?.prefetch ?? {})).toEqual(expect.arrayContaining(['appointments', 'procedures']));
    });

    it('answers no cards without any other data when no spine surgery is planned (no fhirServer needed)', async () => {
      const pid = `pv-none-${backend.name}`;
      const resources = [
        patient(pid, '1966-03-15', 'female'),
        appointment('ap-1', pid, 'booked', '2026-12-14T08:00:00Z'),
      ];
      // Only the three planned-surgery keys: had the service needed the rest it would answer 412.
      const body = request(
        pid,
        prefetchFor(resources, pid, ['serviceRequests', 'appointments', 'procedures']),
      );
      expect(await cardsOf(body)).toEqual([]);
    });

    it('needs the rest (412) once a surgery is planned and the data cannot be had', async () => {
      const pid = `pv-412-${backend.name}`;
      const body = request(
        pid,
        prefetchFor(planned(pid, 3.42), pid, ['serviceRequests', 'appointments', 'procedures']),
      );
      const res = await svc.post(PATH, body);
      expect(res.status).toBe(412);
    });

    it('shows the order-sign assessment once, stays quiet on the next views, and speaks again when the data change', async () => {
      const pid = `pv-repeat-${backend.name}`;
      const first = await cardsOf(request(pid, prefetchFor(planned(pid, 3.42), pid)));
      expect(first).toHaveLength(1);
      expect(first[0]!.summary).toMatch(/^VBQ 3\.42 above the 3\.28 TLIF cage subsidence cutoff/);
      expect(await cardsOf(request(pid, prefetchFor(planned(pid, 3.42), pid)))).toEqual([]);
      expect(await cardsOf(request(pid, prefetchFor(planned(pid, 3.42), pid)))).toEqual([]);
      const changed = await cardsOf(request(pid, prefetchFor(planned(pid, 3.6), pid)));
      expect(changed).toHaveLength(1);
      expect(changed[0]!.uuid).not.toBe(first[0]!.uuid);
      await svc.flushAudit();
      const audit = (await svc.store.listAudit()).filter((r) => r.patient_id === pid).map((r) => r.outcome);
      expect(audit).toEqual(['cards', 'no-cards', 'no-cards', 'cards']);
    });

    it('refuses an order-hook context (no patient-view shape) with 400', async () => {
      const res = await svc.post(PATH, { ...request('p1', {}), context: { patientId: 'p1' } });
      expect(res.status).toBe(400);
    });
  });
}
