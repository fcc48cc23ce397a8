/**
 * Issue 10: every EHR-shaped scenario (`ehr-*`) is run twice through the real service over loopback HTTP:
 * once with the EHR's prefetch (each key answered from the stored records by the service's own template)
 * and once with no prefetch at all, the service fetching its own data from one embedded FHIR server that
 * holds every scenario's records. The two answers must be identical, card for card, and match the
 * scenario's expectation. One FHIR server and one service for the whole file.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsCard } from '../../src/cds/types.js';
import { createServices } from '../../src/services/index.js';
import { ORDER_HOOK_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { loadScenario, scenarioNames, toEvaluationInput, type Expectation } from './scenario-harness.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const kb = shippedKnowledgeBase();
const templates = prefetchTemplates(kb, ORDER_HOOK_KEYS);
const names = scenarioNames().filter((n) => n.startsWith('ehr-'));

/**
 * One server holds every scenario, so record ids are made unique per scenario (prefixed), references
 * between a scenario's own records follow, and both runs read the same prefixed records.
 */
function uniqueIds(bundle: Bundle, prefix: string): Bundle {
  const renamed = new Map<string, string>();
  for (const e of bundle.entry ?? []) {
    const r = e.resource;
    if (r?.id !== undefined && r.resourceType !== 'Patient')
      renamed.set(`${r.resourceType}/${r.id}`, `${r.resourceType}/${prefix}-${r.id}`);
  }
  const walk = (value: unknown, top: boolean): unknown => {
    if (Array.isArray(value)) return value.map((v) => walk(v, false));
    if (value === null || typeof value !== 'object') return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'reference' && typeof v === 'string' && renamed.has(v)) out[k] = renamed.get(v);
      else if (k === 'contained') out[k] = v;
      else out[k] = walk(v, false);
    }
    const r = out as { resourceType?: string; id?: string };
    if (top && r.id !== undefined && r.resourceType !== 'Patient') r.id = `${prefix}-${r.id}`;
    return out;
  };
  return {
    ...bundle,
    entry: (bundle.entry ?? []).map((e) => ({ resource: walk(e.resource, true) as FhirResource })),
  };
}

interface Case {
  name: string;
  bundle: Bundle;
  expected: Expectation;
}

const cases: Case[] = names.map((name, i) => {
  const { bundle, expected } = loadScenario(name);
  return { name, bundle: uniqueIds(bundle, `s${i}`), expected };
});

function isDraft(resource: FhirResource): boolean {
  return resource.meta?.tag?.some((t) => t.code === 'draft-order') === true;
}

describe('EHR-shaped scenarios: prefetch and self-fetch give identical cards', () => {
  let fhir: TestFhirServer;
  let svc: TestService;

  beforeAll(async () => {
    const stored = cases.flatMap((c) =>
      (c.bundle.entry ?? []).map((e) => e.resource as FhirResource).filter((r) => !isDraft(r)),
    );
    fhir = await startFhirServer({
      seed: [{ resourceType: 'Bundle', type: 'collection', entry: stored.map((resource) => ({ resource })) }],
    });
    const now = new Date(cases[0]!.expected.now);
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: createServices(kb),
      fhirServers: [fhir.baseUrl],
      now: () => now,
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await fhir.stop();
  });

  const cardsOf = async (body: unknown): Promise<CdsCard[]> => {
    const res = await svc.post(SIGN, body);
    expect(res.status).toBe(200);
    return ((await res.json()) as { cards: CdsCard[] }).cards;
  };

  it('covers at least 40 EHR-shaped scenarios', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const input = toEvaluationInput(c.bundle, c.expected, templates);
    const withPrefetch = await cardsOf({
      hook: input.hook,
      hookInstance: randomUUID(),
      context: input.context,
      prefetch: input.prefetch,
    });
    const selfFetched = await cardsOf({
      hook: input.hook,
      hookInstance: randomUUID(),
      context: input.context,
      fhirServer: fhir.baseUrl,
      fhirAuthorization: {
        access_token: 'ehr-issued-access-token',
        token_type: 'Bearer',
        expires_in: 300,
        scope: 'patient/*.read',
        subject: 'cds',
        patient: c.expected.patientId,
      },
    });
    // The service really fetched: every key of the order hooks was asked of the FHIR server.
    const pid = c.expected.patientId;
    const asked = fhir.requests.filter(
      (r) => r.url.includes(`patient=${pid}`) || r.url.startsWith(`/Patient/${pid}`),
    );
    expect(asked.length).toBeGreaterThanOrEqual(ORDER_HOOK_KEYS.length);
    expect(selfFetched).toEqual(withPrefetch);
    expect(withPrefetch.map((card) => card.summary)).toHaveLength(c.expected.cards.length);
    c.expected.cards.forEach((want, i) => {
      expect(withPrefetch[i]!.indicator).toBe(want.indicator);
      expect(withPrefetch[i]!.summary).toMatch(new RegExp(want.summary));
    });
  });
});
