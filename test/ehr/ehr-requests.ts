/**
 * Hook requests shaped like each EHR's, built from the scenario fixtures (so the cards are real ones),
 * and the EHRs' client entries and signed tokens. Epic: RS384, iss = its FHIR base, sub = the client id,
 * jku = its PublicKeys URL (checked against our allow-list), nbf 5 minutes before iat. Oracle Health:
 * iss https://cds-hooks.cerner.com with its jku (here a loopback JWKS server stands in for
 * authorization.cerner.com/jwk, which a test cannot reach).
 */
import { randomUUID } from 'node:crypto';
import type { Bundle } from 'fhir/r4.js';
import { PATIENT_VIEW_KEYS, prefetchTemplates } from '../../src/services/prefetch-keys.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import type { TestClient } from '../helpers/jwt.js';
import { loadScenario, toEvaluationInput, type Expectation } from '../rules/scenario-harness.js';

const ROLE_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/scenario-role';
export const EPIC_FHIR_BASE = 'https://fhir.hospital.example/interconnect-fhir-oauth/api/FHIR/R4';
export const EPIC_CLIENT_ID = 'd5a2e6b1-3c4f-4a8e-9b7d-1f2e3c4d5e6f';
export const EPIC_TRIGGER_EXTENSION = 'com.epic.cdshooks.request.bpa-trigger-action';
export const ORACLE_ISS = 'https://cds-hooks.cerner.com';

/**
 * A hook call built from a scenario fixture. `hook` may turn an order scenario into a patient-view call:
 * the draft spine-surgery order is then part of the chart (a draft ServiceRequest) instead of the context.
 */
export function scenarioRequest(
  name: string,
  hook?: Expectation['hook'],
): { body: Record<string, unknown>; patientId: string } {
  const { bundle, expected } = loadScenario(name);
  const asHook = hook ?? expected.hook;
  let source: Bundle = bundle;
  if (asHook === 'patient-view' && expected.hook !== 'patient-view') {
    source = {
      ...bundle,
      entry: (bundle.entry ?? []).map((e) => {
        if (e.resource === undefined) return e;
        const tag = e.resource.meta?.tag?.filter((t) => t.system !== ROLE_SYSTEM);
        return { ...e, resource: { ...e.resource, meta: { ...e.resource.meta, tag } } };
      }),
    } as Bundle;
  }
  const kb = shippedKnowledgeBase();
  const input = toEvaluationInput(
    source,
    { ...expected, hook: asHook },
    prefetchTemplates(kb, PATIENT_VIEW_KEYS),
  );
  return {
    patientId: expected.patientId,
    body: { hook: asHook, hookInstance: randomUUID(), context: input.context, prefetch: input.prefetch },
  };
}

/** Epic's JWT: RS384 with its jku, sub = the client id, nbf 5 minutes before iat, 5-minute lifetime. */
export function epicToken(client: TestClient, jku: string, aud: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return client.sign({ aud, sub: EPIC_CLIENT_ID, iat, nbf: iat - 300, exp: iat + 300 }, { header: { jku } });
}

/** Oracle Health's JWT: its iss, its jku. */
export function oracleToken(client: TestClient, jku: string, aud: string): Promise<string> {
  return client.sign({ aud }, { header: { jku } });
}
