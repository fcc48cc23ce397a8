/**
 * The CapabilityStatement of the embedded server: what it really does, not everything medplum's router
 * has routes for (no GraphQL, no system search/history, no _include, no composite/special parameters).
 */
import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';
import { searchParametersOf } from './schema.js';

/** Search parameter types the embedded server evaluates (see search-fixes.ts). */
export const SUPPORTED_SEARCH_PARAM_TYPES: ReadonlySet<string> = new Set([
  'number',
  'date',
  'string',
  'token',
  'reference',
  'quantity',
  'uri',
]);

const TYPE_INTERACTIONS = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'create',
  'search-type',
] as const;

function resourceEntry(type: string): CapabilityStatementRestResource {
  const searchParam = Object.values(searchParametersOf(type))
    .filter((p) => p.code && p.type && SUPPORTED_SEARCH_PARAM_TYPES.has(p.type))
    .map((p) => ({
      name: p.code as string,
      type: p.type as NonNullable<CapabilityStatementRestResource['searchParam']>[number]['type'],
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    type: type as CapabilityStatementRestResource['type'],
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    conditionalDelete: 'single',
    searchParam,
  };
}

/**
 * Builds the CapabilityStatement (R4, `kind: instance`) for the given resource types and base URL.
 */
export function buildCapabilityStatement(
  resourceTypes: Iterable<string>,
  baseUrl: string,
  date: Date,
): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: date.toISOString(),
    publisher: 'spine-bone-health-cds',
    kind: 'instance',
    software: { name: 'spine-bone-health-cds embedded FHIR server (@medplum/fhir-router 4.5.2)' },
    implementation: {
      description: 'In-memory FHIR R4 server for demo mode and tests; data is lost on restart.',
      url: baseUrl,
    },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Searches page with _count/_offset and Bundle.link[next]; _sort works on every listed parameter. ' +
          'Unknown parameters, _include/_revinclude, chaining and unsupported modifiers answer 400. ' +
          'Quantities are compared in the stored unit (no UCUM conversion).',
        resource: [...resourceTypes].sort().map(resourceEntry),
        interaction: [{ code: 'transaction' }, { code: 'batch' }],
      },
    ],
  };
}
