/**
 * The demo patients: one synthetic FHIR collection Bundle per main scenario (fixed ids, e.g.
 * `demo-tlif-high-vbq`), documented in docs/demo-patients.md. Draft orders of the demo hook call are in
 * the same Bundle, tagged `scenario-role|draft-order`; everything else is what a FHIR server would hold.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, FhirResource } from 'fhir/r4.js';

/** Tag marking a Bundle entry as a draft order of the demo hook call (not stored on the FHIR server). */
export const DEMO_ROLE_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/scenario-role';

export interface DemoPatient {
  id: string;
  file: string;
  scenario: string;
  shows: string;
  cards: {
    indicator: 'info' | 'warning' | 'critical';
    topic: string;
    summary: string;
    suggestions: string[];
  }[];
}

// Read from the source tree: the JSON files are data, not compiled code.
const dir = new URL('./', import.meta.url);

/** The demo patients with what each shows and the cards expected (summary patterns are regexes). */
export function demoPatients(): DemoPatient[] {
  const index = JSON.parse(readFileSync(new URL('demo-patients.json', dir), 'utf8')) as {
    patients: DemoPatient[];
  };
  return index.patients;
}

/** One demo patient's Bundle, split into what the FHIR server stores and the hook call's draft orders. */
export function readDemoSeed(id: string): {
  stored: FhirResource[];
  draftOrders: FhirResource[];
  bundle: Bundle;
} {
  const patient = demoPatients().find((p) => p.id === id);
  if (patient === undefined) throw new Error(`unknown demo patient ${id}`);
  const bundle = JSON.parse(readFileSync(new URL(patient.file, dir), 'utf8')) as Bundle;
  const resources = (bundle.entry ?? [])
    .map((e) => e.resource)
    .filter((r): r is FhirResource => r !== undefined);
  const isDraft = (r: FhirResource): boolean =>
    r.meta?.tag?.some((t) => t.system === DEMO_ROLE_SYSTEM && t.code === 'draft-order') === true;
  return { bundle, stored: resources.filter((r) => !isDraft(r)), draftOrders: resources.filter(isDraft) };
}
