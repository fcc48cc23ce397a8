/** Synthetic resources for the embedded FHIR server tests (no real patient data). */
import { Client } from 'fhir-kit-client';
import type { FhirResource, OpPatch } from 'fhir-kit-client';
import type { Bundle, ImagingStudy, Observation, Patient, Resource, ServiceRequest } from 'fhir/r4.js';

export const BQ = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality';
export const LOINC = 'http://loinc.org';
export const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const UCUM = 'http://unitsofmeasure.org';

export function patient(id: string): Patient {
  return {
    resourceType: 'Patient',
    id,
    name: [{ family: `Test-${id}`, given: ['Synthetic'] }],
    gender: 'female',
  };
}

export function observation(
  patientId: string,
  system: string,
  code: string,
  effectiveDateTime: string,
  value: number,
  unit = '1',
): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system, code }] },
    subject: { reference: `Patient/${patientId}` },
    effectiveDateTime,
    valueQuantity: { value, unit, system: UCUM, code: unit },
  };
}

export function imagingStudy(patientId: string, modality: string, started: string): ImagingStudy {
  return {
    resourceType: 'ImagingStudy',
    status: 'available',
    subject: { reference: `Patient/${patientId}` },
    started,
    modality: [{ system: DCM, code: modality }],
    // The R4 `modality` search parameter reads ImagingStudy.series.modality, not ImagingStudy.modality.
    series: [{ uid: '1.2.3.4', modality: { system: DCM, code: modality } }],
  };
}

export function serviceRequest(patientId: string, authoredOn: string): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    status: 'active',
    intent: 'order',
    code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '77080' }] },
    subject: { reference: `Patient/${patientId}` },
    authoredOn,
  };
}

export function collection(resources: Bundle['entry']): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: resources };
}

/**
 * fhir-kit-client (the client the service uses) with FHIR R4 types: its own FhirResource type has an index
 * signature the `fhir/r4.js` types lack, so the casts live here once instead of in every test.
 */
export interface TypedClient {
  raw: Client;
  create<T extends Resource>(resource: T, headers?: Record<string, string>): Promise<T>;
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<T>;
  vread<T extends Resource>(resourceType: T['resourceType'], id: string, version: string): Promise<T>;
  update<T extends Resource>(resource: T, headers?: Record<string, string>): Promise<T>;
  patch<T extends Resource>(resourceType: T['resourceType'], id: string, ops: OpPatch[]): Promise<T>;
  delete(resourceType: string, id: string): Promise<unknown>;
  history(resourceType: string, id: string): Promise<Bundle>;
  transaction(bundle: Bundle): Promise<Bundle>;
  /** GET a relative query or an absolute URL. */
  get<T extends Resource = Bundle>(query: string): Promise<T>;
  search(resourceType: string, searchParams: Record<string, string | number>): Promise<Bundle>;
  nextPage(bundle: Bundle): Promise<Bundle> | undefined;
  capabilityStatement(): Promise<Resource>;
}

function wire(resource: Resource | Bundle): FhirResource {
  return resource as unknown as FhirResource;
}

/** A typed fhir-kit-client for the given base, as the service uses it. */
export function clientFor(baseUrl: string): TypedClient {
  const raw = new Client({ baseUrl });
  const typed = <T>(p: Promise<FhirResource>): Promise<T> => p as unknown as Promise<T>;
  return {
    raw,
    create: (resource, headers) =>
      typed(
        raw.create({
          resourceType: resource.resourceType,
          body: wire(resource),
          options: { headers: headers ?? {} },
        }),
      ),
    read: (resourceType, id) => typed(raw.read({ resourceType, id })),
    vread: (resourceType, id, version) => typed(raw.vread({ resourceType, id, version })),
    update: (resource, headers) =>
      typed(
        raw.update({
          resourceType: resource.resourceType,
          id: resource.id as string,
          body: wire(resource),
          options: { headers: headers ?? {} },
        }),
      ),
    patch: (resourceType, id, jsonPatch) => typed(raw.patch({ resourceType, id, jsonPatch })),
    delete: (resourceType, id) => raw.delete({ resourceType, id }),
    history: (resourceType, id) => typed(raw.history({ resourceType, id })),
    transaction: (bundle) => typed(raw.transaction({ body: wire(bundle) })),
    get: (query) => typed(raw.request(query)),
    search: (resourceType, searchParams) => typed(raw.search({ resourceType, searchParams })),
    nextPage: (bundle) => {
      const next = raw.nextPage({ bundle: bundle as unknown as Parameters<Client['nextPage']>[0]['bundle'] });
      return next ? typed(next) : undefined;
    },
    capabilityStatement: () => typed(raw.capabilityStatement()),
  };
}

/** The HTTP status carried by a fhir-kit-client error. */
export async function statusOf(promise: Promise<unknown>): Promise<{ status: number; data: unknown }> {
  try {
    await promise;
  } catch (err) {
    const response = (err as { response?: { status: number; data: unknown } }).response;
    if (response) {
      return response;
    }
    throw err;
  }
  throw new Error('expected the request to fail');
}
