/**
 * medplum's MemoryRepository with the gaps a real FHIR server must not have filled in a thin subclass:
 * validated writes, sequential version ids from an injected clock, atomic transactions (snapshot and
 * roll back), a non-mutating history, and search with the fixes from search-fixes.ts plus paging limits.
 * Matching itself stays medplum's `matchesSearchRequest`.
 */
import { randomUUID } from 'node:crypto';
import type { CreateResourceOptions, UpdateResourceOptions } from '@medplum/fhir-router';
import { MemoryRepository } from '@medplum/fhir-router';
import type { SearchRequest, WithId } from '@medplum/core';
import {
  badRequest,
  deepClone,
  isOperationOutcome,
  matchesSearchRequest,
  notFound,
  OperationOutcomeError,
  preconditionFailed,
  validateResource,
} from '@medplum/core';
import type { Bundle, OperationOutcome, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { Resource as R4Resource } from 'fhir/r4.js';
import { AppError, operationOutcome } from '../../errors.js';
import {
  compareSortKeys,
  isNumericFilter,
  matchesNumericFilter,
  normalizeSearchRequest,
  sortKeyOf,
} from './search-fixes.js';
import { ensureFhirSchemaLoaded } from './schema.js';

/**
 * One finding of a write validator. Both OperationOutcome-issue style (`diagnostics`, `expression`) and
 * the project validator's style (`message`, `path`, see src/demo/profile-validator/validator.ts) are accepted. Only
 * fatal/error findings reject the write.
 */
export interface ValidationIssue {
  severity: 'fatal' | 'error' | 'warning' | 'information';
  code?: string;
  diagnostics?: string;
  message?: string;
  details?: { text?: string };
  expression?: string[];
  path?: string;
}

/**
 * Checks a resource before it is stored (create, update, patch, conditional writes, transaction entries).
 * Return issues, or throw: an error carrying an `outcome` OperationOutcome (as medplum's validator does) or an
 * AppError('invalid-resource') (as the project validator's `assertValid` does) counts as a rejection.
 */
export type WriteValidator = (
  resource: R4Resource,
) => readonly ValidationIssue[] | Promise<readonly ValidationIssue[]>;

export interface EmbeddedRepositoryOptions {
  /** Extra validation (e.g. project profiles) after the base R4 structural check. */
  validate?: WriteValidator;
  /** Structural validation against the R4 base definitions with medplum's validator (default true). */
  baseValidation?: boolean;
  /** Page size when a search gives no `_count` (default 50). */
  defaultPageSize?: number;
  /** Largest page a search returns, whatever `_count` asks for (default 500). */
  maxPageSize?: number;
  now?: () => Date;
  generateId?: () => string;
}

/** MemoryRepository keeps its store in private fields; the subclass reads them through this one view. */
interface MemoryStore {
  readonly resources: Map<string, Map<string, Resource>>;
  readonly history: Map<string, Map<string, Resource[]>>;
}

function toOutcomeIssue(issue: ValidationIssue): OperationOutcomeIssue {
  const text = issue.diagnostics ?? issue.message ?? issue.details?.text;
  const expression = issue.expression ?? (issue.path ? [issue.path] : undefined);
  return {
    severity: issue.severity,
    code: (issue.code ?? 'invalid') as OperationOutcomeIssue['code'],
    ...(text ? { diagnostics: text, details: { text } } : {}),
    ...(expression ? { expression } : {}),
  };
}

/** The issues a throwing validator meant, or undefined when the error is not a validation result. */
function issuesOf(err: unknown): ValidationIssue[] | undefined {
  if (err instanceof OperationOutcomeError) {
    return err.outcome.issue as ValidationIssue[];
  }
  if (err instanceof AppError && err.code === 'invalid-resource') {
    const lines = err.details.length > 0 ? err.details : [err.message];
    return lines.map((diagnostics) => ({ severity: 'error', code: 'invalid', diagnostics }));
  }
  const outcome = (err as { outcome?: unknown } | null)?.outcome;
  return isOperationOutcome(outcome) ? (outcome.issue as ValidationIssue[]) : undefined;
}

export class EmbeddedFhirRepository extends MemoryRepository {
  readonly resourceTypes: ReadonlySet<string>;
  private readonly opts: Required<Omit<EmbeddedRepositoryOptions, 'validate'>> &
    Pick<EmbeddedRepositoryOptions, 'validate'>;

  constructor(options: EmbeddedRepositoryOptions = {}) {
    super();
    this.resourceTypes = ensureFhirSchemaLoaded();
    this.opts = {
      baseValidation: options.baseValidation ?? true,
      defaultPageSize: options.defaultPageSize ?? 50,
      maxPageSize: options.maxPageSize ?? 500,
      now: options.now ?? (() => new Date()),
      generateId: options.generateId ?? randomUUID,
      ...(options.validate ? { validate: options.validate } : {}),
    };
    if (this.opts.defaultPageSize > this.opts.maxPageSize) {
      this.opts.defaultPageSize = this.opts.maxPageSize;
    }
  }

  private get store(): MemoryStore {
    return this as unknown as MemoryStore;
  }

  /** The page size a search with this `_count` gets. */
  pageSize(count: number | undefined): number {
    return Math.min(count ?? this.opts.defaultPageSize, this.opts.maxPageSize);
  }

  override generateId(): string {
    return this.opts.generateId();
  }

  private assertKnownType(resourceType: string | undefined): void {
    if (!resourceType || !this.resourceTypes.has(resourceType)) {
      throw new OperationOutcomeError(badRequest(`Unknown resource type '${resourceType ?? ''}'`));
    }
  }

  /** Sets id, the next sequential versionId and lastUpdated, then validates. */
  private async prepare<T extends Resource>(resource: T, id: string): Promise<T> {
    const versions = this.store.history.get(resource.resourceType)?.get(id)?.length ?? 0;
    // resourceType and id first, as FHIR servers conventionally return them.
    const { resourceType, ...rest } = deepClone(resource);
    const prepared = { resourceType, id, ...rest } as T;
    prepared.id = id;
    prepared.meta = {
      ...resource.meta,
      versionId: String(versions + 1),
      lastUpdated: this.opts.now().toISOString(),
    };
    await this.check(prepared);
    return prepared;
  }

  private async check(resource: Resource): Promise<void> {
    const issues: ValidationIssue[] = [];
    const collect = async (run: () => readonly ValidationIssue[] | Promise<readonly ValidationIssue[]>) => {
      try {
        issues.push(...(await run()));
      } catch (err) {
        const found = issuesOf(err);
        if (!found) {
          throw err;
        }
        issues.push(...found);
      }
    };
    if (this.opts.baseValidation) {
      await collect(() => validateResource(resource) as ValidationIssue[]);
    }
    const validate = this.opts.validate;
    if (validate) {
      await collect(() => validate(resource as R4Resource));
    }
    const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal').map(toOutcomeIssue);
    if (errors.length > 0) {
      const head = operationOutcome('invalid-resource', `${resource.resourceType} failed validation`);
      throw new OperationOutcomeError({
        ...(head as OperationOutcome),
        issue: [...(head as OperationOutcome).issue, ...errors],
      });
    }
  }

  /** Create: the server assigns the id unless the batch processor already did (`assignedId`). */
  override async createResource<T extends Resource>(
    resource: T,
    options?: CreateResourceOptions,
  ): Promise<WithId<T>> {
    this.assertKnownType(resource.resourceType);
    const id = options?.assignedId && resource.id ? resource.id : this.generateId();
    return super.createResource(await this.prepare(resource, id));
  }

  /** Update, or create with the client's id when it does not exist yet (FHIR update-as-create). */
  override async updateResource<T extends Resource>(
    resource: T,
    options?: UpdateResourceOptions,
  ): Promise<WithId<T>> {
    this.assertKnownType(resource.resourceType);
    if (!resource.id) {
      throw new OperationOutcomeError(badRequest('Missing id'));
    }
    if (options?.ifMatch) {
      const existing = this.store.resources.get(resource.resourceType)?.get(resource.id);
      if (!existing) {
        throw new OperationOutcomeError(notFound);
      }
      if (existing.meta?.versionId !== options.ifMatch) {
        throw new OperationOutcomeError(preconditionFailed);
      }
    }
    return super.createResource(await this.prepare(resource, resource.id));
  }

  /** Newest version first; medplum's version reverses its stored array in place on every call. */
  override async readHistory<T extends Resource>(resourceType: string, id: string): Promise<Bundle<T>> {
    await this.readResource(resourceType, id);
    const versions = [...(this.store.history.get(resourceType)?.get(id) ?? [])].reverse();
    return {
      resourceType: 'Bundle',
      type: 'history',
      ...(versions.length ? { entry: versions.map((v) => ({ resource: deepClone(v) as T })) } : {}),
    };
  }

  override async search<T extends Resource>(searchRequest: SearchRequest<T>): Promise<Bundle<WithId<T>>> {
    const { resourceType } = searchRequest;
    if (!this.resourceTypes.has(resourceType)) {
      throw new OperationOutcomeError(notFound);
    }
    const request = normalizeSearchRequest(searchRequest);
    const numeric = (request.filters ?? []).filter((f) => isNumericFilter(resourceType, f));
    const delegated: SearchRequest = {
      resourceType,
      filters: (request.filters ?? []).filter((f) => !isNumericFilter(resourceType, f)),
    };

    let matches: Resource[] = [];
    for (const resource of this.store.resources.get(resourceType)?.values() ?? []) {
      if (
        matchesSearchRequest(resource, delegated) &&
        numeric.every((f) => matchesNumericFilter(resource, f))
      ) {
        matches.push(resource);
      }
    }

    const rules = request.sortRules ?? [];
    if (rules.length > 0) {
      // Keys computed once per resource; Array.prototype.sort is stable, so ties keep insertion order.
      const keyed = matches.map((resource) => ({
        resource,
        keys: rules.map((rule) => sortKeyOf(resource, rule)),
      }));
      keyed.sort((a, b) => {
        for (let i = 0; i < rules.length; i++) {
          const c = compareSortKeys(a.keys[i], b.keys[i], Boolean(rules[i]?.descending));
          if (c !== 0) {
            return c;
          }
        }
        return 0;
      });
      matches = keyed.map((k) => k.resource);
    }

    const offset = request.offset ?? 0;
    const page = matches.slice(offset, offset + this.pageSize(request.count));
    return {
      resourceType: 'Bundle',
      type: 'searchset',
      total: matches.length,
      ...(page.length
        ? { entry: page.map((resource) => ({ resource: deepClone(resource) as WithId<T> })) }
        : {}),
    };
  }

  /**
   * All-or-nothing: the store is snapshotted and restored if the callback throws. Stored resources are
   * never mutated in place (MemoryRepository stores a parsed copy and hands out clones), so copying the maps
   * is enough. Nested calls (conditional create inside a transaction) act as savepoints.
   */
  override async withTransaction<TResult>(
    callback: (client: undefined) => Promise<TResult>,
  ): Promise<TResult> {
    const { resources, history } = this.store;
    const savedResources = new Map([...resources].map(([type, byId]) => [type, new Map(byId)]));
    const savedHistory = new Map(
      [...history].map(([type, byId]) => [
        type,
        new Map([...byId].map(([id, versions]) => [id, [...versions]])),
      ]),
    );
    try {
      return await callback(undefined);
    } catch (err) {
      resources.clear();
      history.clear();
      for (const [type, byId] of savedResources) {
        resources.set(type, byId);
      }
      for (const [type, byId] of savedHistory) {
        history.set(type, byId);
      }
      throw err;
    }
  }

  /** Number of current (not deleted) resources, for tests and health output. */
  count(resourceType?: string): number {
    const { resources } = this.store;
    if (resourceType) {
      return resources.get(resourceType)?.size ?? 0;
    }
    let n = 0;
    for (const byId of resources.values()) {
      n += byId.size;
    }
    return n;
  }
}
