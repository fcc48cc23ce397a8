/**
 * Requests shaped like each EHR's, over real HTTP to the real app (real JWT verification against a JWKS
 * served on loopback, real store): Epic's RS384 JWT with its claims and its patient-view trigger
 * extension, Oracle Health's patient-view with its iss/jku, and CDS Hooks 3.0 fhirAuthorization with SMART
 * v2 scopes. The cards that come back must meet that EHR's rules; the same call from a generic client
 * shows what the shaping changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ehrProfile, EPIC_TOPIC_CODE, profileProblems } from '../../src/cds/ehr-profiles.js';
import type { CdsCard } from '../../src/cds/types.js';
import {
  CDS_HOOKS_VERSION,
  createServices,
  ORDER_SELECT_SERVICE_ID,
  ORDER_SIGN_SERVICE_ID,
  PATIENT_VIEW_SERVICE_ID,
} from '../../src/services/index.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { startJwksServer, type JwksServer } from '../helpers/jwks-server.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { storeBackends } from '../helpers/store.js';
import {
  EPIC_CLIENT_ID,
  EPIC_FHIR_BASE,
  EPIC_TRIGGER_EXTENSION,
  epicToken,
  ORACLE_ISS,
  oracleToken,
  scenarioRequest,
} from './ehr-requests.js';

const kb = shippedKnowledgeBase();
const PUBLIC_BASE = 'https://cds.hospital.example';
const CRITICAL = 'lumbar-ct-hu-low-and-vbq-above-critical';
const PV = `/cds-services/${PATIENT_VIEW_SERVICE_ID}`;
const SIGN = `/cds-services/${ORDER_SIGN_SERVICE_ID}`;
const SELECT = `/cds-services/${ORDER_SELECT_SERVICE_ID}`;
const backend = storeBackends()[0]!;

async function cardsOf(res: Response): Promise<CdsCard[]> {
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return (JSON.parse(text) as { cards: CdsCard[] }).cards;
}

describe('Epic', () => {
  const settings = { ehr: 'epic' as const };
  const profile = ehrProfile(settings);
  let epic: TestClient;
  let jwks: JwksServer;
  let svc: TestService;
  beforeAll(async () => {
    epic = await createTestClient({ alg: 'RS384', iss: EPIC_FHIR_BASE });
    jwks = await startJwksServer(epic.jwks);
    svc = await startTestService({
      store: await backend.open(),
      services: createServices(kb, { careTeamBaseUrl: PUBLIC_BASE }),
      clients: [{ iss: EPIC_FHIR_BASE, jku: [jwks.url], label: 'Epic', ...settings }],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await jwks.close();
  });

  const post = async (path: string, body: unknown, jku = jwks.url) =>
    svc.post(path, body, { token: await epicToken(epic, jku, svc.baseUrl + path) });

  it('order-sign with Epic RS384 JWT: cards meet Epic rules (topic code, one action per suggestion, any)', async () => {
    const { body } = scenarioRequest(CRITICAL);
    const cards = await cardsOf(await post(SIGN, body));
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) {
      expect(profileProblems(card, profile)).toEqual([]);
      expect(card.source.topic?.code).toMatch(EPIC_TOPIC_CODE);
      for (const s of card.suggestions ?? []) expect(s.actions).toHaveLength(1);
    }
    // The same call from a generic client keeps the spec's hyphenated topic codes: the shaping is per client.
    const generic = await cardsOf(await svc.post(SIGN, { ...body, hookInstance: crypto.randomUUID() }));
    expect(generic[0]!.source.topic?.code).toMatch(/-/);
    expect(cards[0]!.source.topic?.code).not.toBe(generic[0]!.source.topic?.code);
  });

  it('order-select with the Epic JWT', async () => {
    const { body } = scenarioRequest('order-select-spine-order-selected-warning');
    const cards = await cardsOf(await post(SELECT, body));
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) expect(profileProblems(card, profile)).toEqual([]);
  });

  it('patient-view with the bpa-trigger-action extension (open chart) and Epic fhirAuthorization', async () => {
    const { body, patientId } = scenarioRequest('patient-view-planned-by-service-request');
    const cards = await cardsOf(
      await post(PV, {
        ...body,
        extension: { [EPIC_TRIGGER_EXTENSION]: '60' },
        context: { ...(body.context as object), extension: { [EPIC_TRIGGER_EXTENSION]: '60' } },
        fhirServer: EPIC_FHIR_BASE,
        fhirAuthorization: {
          access_token: 'opaque-access-token',
          token_type: 'Bearer',
          expires_in: 300,
          scope: 'patient/Patient.read patient/Observation.read patient/ServiceRequest.read',
          subject: EPIC_CLIENT_ID,
          patient: patientId,
        },
      }),
    );
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) expect(profileProblems(card, profile)).toEqual([]);
    // Not registered with Epic: the care-team SMART link is not sent.
    expect(cards.flatMap((c) => c.links ?? []).some((l) => l.type === 'smart')).toBe(false);
  });

  it('feedback in a batch, as Epic sends it, on an Epic-shaped card', async () => {
    const cards = await cardsOf(await post(SIGN, scenarioRequest(CRITICAL).body));
    const card = cards[0]!;
    const at = new Date().toISOString();
    const res = await post(`${SIGN}/feedback`, {
      feedback: [
        {
          card: card.uuid,
          outcome: 'accepted',
          acceptedSuggestions: [{ id: card.suggestions![0]!.uuid }],
          outcomeTimestamp: at,
        },
        {
          card: card.uuid,
          outcome: 'overridden',
          overrideReason: { reason: card.overrideReasons?.[0] },
          outcomeTimestamp: at,
        },
      ],
    });
    expect(res.status).toBe(200);
  });

  it('refuses an Epic token whose jku is not on the allow-list', async () => {
    const res = await post(SIGN, scenarioRequest(CRITICAL).body, 'https://evil.example.org/jwks');
    expect(res.status).toBe(401);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });

  it('discovery (which Epic does not read) is valid 2.0 with the 3.0 version fields', async () => {
    const res = await svc.get('/cds-services', {
      token: await epicToken(epic, jwks.url, `${svc.baseUrl}/cds-services`),
    });
    expect(res.status).toBe(200);
    const { services } = (await res.json()) as {
      services: {
        hook: string;
        id: string;
        description: string;
        prefetch: Record<string, string>;
        version: string;
        hookVersion: string;
      }[];
    };
    expect(services.map((s) => s.hook).sort()).toEqual(['order-select', 'order-sign', 'patient-view']);
    for (const s of services) {
      expect(typeof s.id).toBe('string');
      expect(s.description.length).toBeGreaterThan(0);
      for (const q of Object.values(s.prefetch)) expect(typeof q).toBe('string');
      expect(s.version).toBe(CDS_HOOKS_VERSION);
      expect(s.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(s.hookVersion).toBe('1.0');
    }
  });
});

describe('Oracle Health', () => {
  const settings = { ehr: 'oracle' as const, smartLinks: true, allowedLinks: [`${PUBLIC_BASE}/`] };
  const profile = ehrProfile(settings);
  let oracle: TestClient;
  let jwks: JwksServer;
  let svc: TestService;
  beforeAll(async () => {
    oracle = await createTestClient({ alg: 'RS384', iss: ORACLE_ISS });
    jwks = await startJwksServer(oracle.jwks);
    svc = await startTestService({
      store: await backend.open(),
      services: createServices(kb, { careTeamBaseUrl: PUBLIC_BASE }),
      clients: [{ iss: ORACLE_ISS, jku: [jwks.url], label: 'Oracle Health', ...settings }],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    await jwks.close();
  });

  it('patient-view with its iss/jku: no critical pop-up, no appContext, allowed links only', async () => {
    // A draft spine-surgery order on the chart whose findings are critical for the spec's default.
    const { body } = scenarioRequest(CRITICAL, 'patient-view');
    const token = await oracleToken(oracle, jwks.url, svc.baseUrl + PV);
    const cards = await cardsOf(await svc.post(PV, body, { token }));
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) {
      expect(profileProblems(card, profile)).toEqual([]);
      expect(card.indicator).not.toBe('critical');
      for (const l of card.links ?? []) expect(l.appContext).toBeUndefined();
    }
    expect(cards.flatMap((c) => c.links ?? []).some((l) => l.type === 'smart')).toBe(true);
    // The generic client sees the critical card (order-sign here: patient-view would not repeat it).
    const generic = await cardsOf(await svc.post(SIGN, scenarioRequest(CRITICAL).body));
    expect(generic.some((c) => c.indicator === 'critical')).toBe(true);
    expect(generic.flatMap((c) => c.links ?? []).some((l) => l.appContext !== undefined)).toBe(true);
  });
});

describe('CDS Hooks 3.0: fhirAuthorization with SMART v2 scopes, pinned version', () => {
  let v3: TestClient;
  let svc: TestService;
  beforeAll(async () => {
    v3 = await createTestClient({ alg: 'ES384' });
    svc = await startTestService({
      store: await backend.open(),
      services: createServices(kb, { careTeamBaseUrl: PUBLIC_BASE }),
      clients: [{ iss: v3.iss, jwks: v3.jwks, cdsHooksVersion: '3.0', actionSelectionBehavior: true }],
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
  });

  const withAuth = (scope: string, patient?: string) => {
    const { body, patientId } = scenarioRequest(CRITICAL);
    return {
      ...body,
      fhirServer: 'https://fhir.hospital.example/r4',
      fhirAuthorization: {
        access_token: 'opaque-access-token',
        token_type: 'Bearer',
        expires_in: 300,
        scope,
        subject: 'cds-service',
        ...(patient === undefined ? {} : { patient: patient === '' ? patientId : patient }),
      },
    };
  };
  const asV3 = async (body: unknown) =>
    svc.post(SIGN, body, { token: await v3.sign({ aud: svc.baseUrl + SIGN }) });

  it.each([
    ['SMART v2 patient scopes', 'patient/*.rs patient/Observation.rs'],
    [
      'SMART v2 scope with a query',
      'patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory launch/patient',
    ],
    ['SMART v1 patient scopes', 'patient/*.read patient/Observation.read'],
  ])('%s with patient: accepted, cards back', async (_label, scope) => {
    const cards = await cardsOf(await asV3(withAuth(scope, '')));
    expect(cards.length).toBeGreaterThan(0);
    // The 3.0 client declared support for actionSelectionBehavior.
    for (const card of cards)
      for (const s of card.suggestions ?? []) expect(s.actionSelectionBehavior).toBe('all');
  });

  it('user-level v2 scopes need no patient', async () => {
    expect((await asV3(withAuth('user/Observation.rs user/Patient.r'))).status).toBe(200);
  });

  it.each([['patient/*.rs'], ['openid fhirUser patient/Observation.rs']])(
    'v2 patient scopes "%s" without patient: 400 OperationOutcome',
    async (scope) => {
      const res = await asV3(withAuth(scope));
      expect(res.status).toBe(400);
      const outcome = (await res.json()) as {
        resourceType: string;
        issue: { details?: { coding?: { code: string }[] } }[];
      };
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(JSON.stringify(outcome)).toMatch(/patient/);
    },
  );

  it('feedback with a CDS Hooks 3.0 non-adherence reason code is accepted', async () => {
    const path = `${SIGN}/feedback`;
    const res = await svc.post(
      path,
      {
        feedback: [
          {
            card: crypto.randomUUID(),
            outcome: 'overridden',
            overrideReason: {
              reason: {
                system: 'http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes',
                code: 'patient-refuses',
                display: 'Patient refuses/declines',
              },
              userComment: 'declined',
            },
            outcomeTimestamp: new Date().toISOString(),
          },
        ],
      },
      { token: await v3.sign({ aud: svc.baseUrl + path }) },
    );
    expect(res.status).toBe(200);
  });

  it('a 2.0 client gets no actionSelectionBehavior', async () => {
    const cards = await cardsOf(await svc.post(SIGN, withAuth('patient/*.rs', '')));
    for (const card of cards)
      for (const s of card.suggestions ?? []) expect(s.actionSelectionBehavior).toBeUndefined();
  });
});
