/**
 * Observations in the shared shape (as the imaging code writes them) and helpers to count what the FHIR
 * server holds, over HTTP.
 */
import { createHash } from 'node:crypto';
import type { Bundle, Observation, Reference } from 'fhir/r4.js';

export const BASE = 'https://spine-bone-health-cds.org/fhir';
export const MEASUREMENT_SYSTEM = `${BASE}/identifier/bone-quality-measurement`;
export const PATIENT_ID_SYSTEM = 'urn:dicom:patient-id';

/** A lumbar VBQ Observation for `study`; `subject` defaults to the placeholder for DICOM PatientID PAT-001. */
export function vbqObservation(study: string, subject?: Reference, value = 3.1): Observation {
  const cs = `${BASE}/CodeSystem/bone-quality`;
  const q = (v: number) => ({ value: v, unit: '1', system: 'http://unitsofmeasure.org', code: '1' });
  return {
    resourceType: 'Observation',
    meta: { profile: [`${BASE}/StructureDefinition/vbq-lumbar`] },
    identifier: [
      {
        system: MEASUREMENT_SYSTEM,
        value: createHash('sha256').update(`${study}|json:roi|vbq-l1-l4`).digest('hex'),
      },
    ],
    status: 'final',
    category: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging' }],
      },
    ],
    code: { coding: [{ system: cs, code: 'vbq-l1-l4', display: 'Vertebral bone quality score L1-L4' }] },
    subject: subject ?? { type: 'Patient', identifier: { system: PATIENT_ID_SYSTEM, value: 'PAT-001' } },
    effectiveDateTime: '2025-03-04',
    valueQuantity: q(value),
    derivedFrom: [
      { type: 'ImagingStudy', identifier: { system: 'urn:dicom:uid', value: `urn:oid:${study}` } },
    ],
    component: [
      { code: { coding: [{ system: cs, code: 'si-l1' }] }, valueQuantity: q(400) },
      { code: { coding: [{ system: cs, code: 'csf-si' }] }, valueQuantity: q(130) },
      { code: { coding: [{ system: cs, code: 'csf-level' }] }, valueString: 'L3' },
      { code: { coding: [{ system: cs, code: 'sequence' }] }, valueString: 'T1 SE' },
    ],
  };
}

/** A collection Bundle with Patients carrying DICOM PatientIDs (`[id, patientId]` pairs). */
export function patientSeed(patients: [string, string][]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: patients.map(([id, pid]) => ({
      resource: {
        resourceType: 'Patient',
        id,
        identifier: [{ system: PATIENT_ID_SYSTEM, value: pid }],
      },
    })),
  };
}

/** Observations on the server with the measurement identifier of `obs` (searched over HTTP). */
export async function observationsLike(
  baseUrl: string,
  obs: Observation,
  authorization?: string,
): Promise<Observation[]> {
  const id = obs.identifier?.[0];
  const res = await fetch(`${baseUrl}/Observation?identifier=${id?.system}|${id?.value}&_count=50`, {
    headers: { accept: 'application/fhir+json', ...(authorization ? { authorization } : {}) },
  });
  if (res.status !== 200) throw new Error(`search answered ${res.status}`);
  const bundle = (await res.json()) as Bundle;
  return (bundle.entry ?? []).map((e) => e.resource as Observation);
}
