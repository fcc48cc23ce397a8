/**
 * Turns a scenario fixture (a FHIR collection Bundle) into a hook call: draft orders (tagged) go to
 * context.draftOrders, and every prefetch key is answered by running the service's own prefetch
 * template against the stored resources (a small in-memory FHIR search), so the templates are tested too.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Bundle, Coding, FhirResource } from 'fhir/r4.js';
import type { HydratedPrefetch } from '../../src/cds/types.js';
import type { EvaluationInput } from '../../src/services/bone-health.js';
import { shippedPrefetchTemplates } from '../helpers/knowledge.js';

export const SCENARIO_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../fixtures/scenarios',
);
const ROLE_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/scenario-role';

export interface ExpectedCard {
  indicator: 'info' | 'warning' | 'critical';
  topic: string;
  summary: string;
  suggestions: string[];
  detailIncludes?: string[];
  detailExcludes?: string[];
}

export interface Expectation {
  description: string;
  hook: 'order-sign' | 'order-select' | 'patient-view';
  now: string;
  patientId: string;
  userId: string;
  cards: ExpectedCard[];
}

export function scenarioNames(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.expected.json'))
    .map((f) => f.replace(/\.expected\.json$/, ''))
    .sort();
}

export function loadScenario(name: string): { bundle: Bundle; expected: Expectation } {
  const bundle = JSON.parse(readFileSync(path.join(SCENARIO_DIR, `${name}.json`), 'utf8')) as Bundle;
  const expected = JSON.parse(
    readFileSync(path.join(SCENARIO_DIR, `${name}.expected.json`), 'utf8'),
  ) as Expectation;
  return { bundle, expected };
}

function hasRole(resource: FhirResource, role: string): boolean {
  return resource.meta?.tag?.some((t) => t.system === ROLE_SYSTEM && t.code === role) === true;
}

function codings(resource: FhirResource): Coding[] {
  const r = resource as unknown as { code?: { coding?: Coding[] } };
  return r.code?.coding ?? [];
}

/** Runs one prefetch template against stored resources (instance read or type search, token `=`). */
export function runTemplate(
  template: string,
  patientId: string,
  stored: FhirResource[],
): FhirResource | null {
  const query = template.replaceAll('{{context.patientId}}', patientId);
  const [typePart, paramPart] = query.split('?');
  if (paramPart === undefined) {
    const [type, id] = (typePart ?? '').split('/');
    return stored.find((r) => r.resourceType === type && r.id === id) ?? null;
  }
  let matches = stored.filter((r) => r.resourceType === typePart);
  for (const param of paramPart.split('&')) {
    const [name, value = ''] = param.split('=');
    if (name === 'patient') {
      matches = matches.filter((r) => {
        const subject = (r as { subject?: { reference?: string } }).subject?.reference;
        const participants = (r as { participant?: { actor?: { reference?: string } }[] }).participant ?? [];
        return (
          subject === `Patient/${value}` ||
          participants.some((p) => p.actor?.reference === `Patient/${value}`)
        );
      });
    } else if (name === 'status') {
      const wanted = value.split(',');
      matches = matches.filter((r) => wanted.includes(String((r as { status?: unknown }).status)));
    } else if (name === 'code') {
      const tokens = value.split(',');
      matches = matches.filter((r) => codings(r).some((c) => tokens.includes(`${c.system}|${c.code}`)));
    } else if (name === 'modality') {
      const tokens = value.split(',');
      matches = matches.filter((r) =>
        ((r as { modality?: Coding[] }).modality ?? []).some((c) => tokens.includes(`${c.system}|${c.code}`)),
      );
    } else if (name !== undefined && !name.startsWith('_')) {
      throw new Error(`search parameter ${name} not supported by the test harness`);
    }
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    entry: matches.map((resource) => ({ resource })),
  };
}

export function toEvaluationInput(
  bundle: Bundle,
  expected: Expectation,
  templates: Record<string, string>,
  hookInstance = '0f0c7e3a-1a2b-4c3d-8e9f-001122334455',
): EvaluationInput {
  const all = (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirResource => r !== undefined);
  const drafts = all.filter((r) => hasRole(r, 'draft-order'));
  const stored = all.filter((r) => !hasRole(r, 'draft-order'));
  const prefetch: HydratedPrefetch = {};
  for (const [key, template] of Object.entries(templates))
    prefetch[key] = runTemplate(template, expected.patientId, stored);
  const draftOrders: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    entry: drafts.map((resource) => ({ resource })),
  };
  const base = { userId: expected.userId, patientId: expected.patientId, draftOrders };
  const selections = drafts.filter((r) => hasRole(r, 'selected')).map((r) => `${r.resourceType}/${r.id}`);
  return {
    hook: expected.hook,
    hookInstance,
    context:
      expected.hook === 'order-select'
        ? { ...base, selections }
        : expected.hook === 'patient-view'
          ? { userId: expected.userId, patientId: expected.patientId }
          : base,
    prefetch,
    now: new Date(expected.now),
  };
}

/** A scenario as the JSON body an EHR would post (with its prefetch), and the clock of the scenario. */
export function scenarioHookBody(name: string): { body: unknown; now: Date } {
  const { bundle, expected } = loadScenario(name);
  const input = toEvaluationInput(bundle, expected, shippedPrefetchTemplates());
  const { hook, hookInstance, context, prefetch } = input;
  return {
    body: JSON.parse(JSON.stringify({ hook, hookInstance, context, prefetch })) as unknown,
    now: input.now,
  };
}
