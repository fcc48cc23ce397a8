/**
 * The search semantics medplum's in-memory matcher gets wrong or leaves out, fixed without replacing it:
 * - request checks: unknown parameters, chained/_has/_include and modifiers the matcher silently ignores
 *   answer 400 instead of a wrong (usually empty) result;
 * - `patient=<bare id>` / `subject=<bare id>` are expanded to `Patient/<id>` (the matcher compares strings);
 * - quantity and number parameters (the matcher returns "no match" for every one of them);
 * - `_sort` keys compared as instants / numbers instead of JSON strings.
 * Everything else (token, reference, string, uri, date matching) stays medplum's `matchesSearchRequest`.
 * Pure functions: no I/O, no state.
 */
import {
  badRequest,
  convertToSearchableDates,
  convertToSearchableNumbers,
  convertToSearchableQuantities,
  convertToSearchableReferences,
  convertToSearchableStrings,
  convertToSearchableTokens,
  evalFhirPathTyped,
  Operator,
  OperationOutcomeError,
  splitSearchOnComma,
  toTypedValue,
} from '@medplum/core';
import type { Filter, SearchRequest, SortRule } from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import { searchParametersOf } from './schema.js';

const ORDERED_OPERATORS: readonly string[] = [
  Operator.EQUALS,
  Operator.NOT_EQUALS,
  Operator.GREATER_THAN,
  Operator.LESS_THAN,
  Operator.GREATER_THAN_OR_EQUALS,
  Operator.LESS_THAN_OR_EQUALS,
  Operator.APPROXIMATELY,
];

/** Operators each parameter type supports here; anything else would be ignored by the matcher, so we refuse it. */
const SUPPORTED_OPERATORS: Record<string, readonly string[]> = {
  reference: [Operator.EQUALS, Operator.NOT],
  token: [Operator.EQUALS, Operator.NOT],
  string: [Operator.EQUALS, Operator.CONTAINS],
  uri: [Operator.EQUALS],
  date: [
    Operator.EQUALS,
    Operator.NOT_EQUALS,
    Operator.GREATER_THAN,
    Operator.LESS_THAN,
    Operator.GREATER_THAN_OR_EQUALS,
    Operator.LESS_THAN_OR_EQUALS,
    Operator.STARTS_AFTER,
    Operator.ENDS_BEFORE,
    Operator.APPROXIMATELY,
  ],
  quantity: ORDERED_OPERATORS,
  number: ORDERED_OPERATORS,
};

const PRESENCE_OPERATORS: readonly string[] = [Operator.MISSING, Operator.PRESENT];

function reject(message: string): never {
  throw new OperationOutcomeError(badRequest(message));
}

/**
 * The resource type a bare id in a reference parameter stands for: the only target, or Patient for
 * `patient`/`subject` (the CDS Hooks prefetch convention `patient={{context.patientId}}`).
 */
function bareIdTarget(code: string, param: SearchParameter): string | undefined {
  const targets = param.target ?? [];
  if (targets.length === 1) {
    return targets[0];
  }
  if ((code === 'patient' || code === 'subject') && targets.includes('Patient')) {
    return 'Patient';
  }
  return undefined;
}

function expandReferenceFilter(filter: Filter, param: SearchParameter): Filter {
  const values = splitSearchOnComma(filter.value).map((value) => {
    if (value === '' || value.includes('/') || value.includes(':')) {
      return value;
    }
    const target = bareIdTarget(filter.code, param);
    if (!target) {
      reject(
        `Search parameter '${filter.code}' refers to several resource types (${(param.target ?? []).join(', ')}); give the reference as Type/id`,
      );
    }
    return `${target}/${value}`;
  });
  return { ...filter, value: values.join(',') };
}

/**
 * Checks a parsed search request against what this server really supports and rewrites bare-id references.
 * Throws an OperationOutcomeError (400) for anything that would otherwise give a silently wrong result.
 */
export function normalizeSearchRequest<T extends Resource>(request: SearchRequest<T>): SearchRequest<T> {
  const params = searchParametersOf(request.resourceType);
  if (request.include?.length || request.revInclude?.length) {
    reject('_include and _revinclude are not supported by this server');
  }
  if (request.cursor !== undefined) {
    reject('_cursor is not supported by this server; page with the Bundle next link');
  }
  if (request.count !== undefined && !(Number.isInteger(request.count) && request.count >= 0)) {
    reject('_count must be a non-negative integer');
  }
  if (request.offset !== undefined && !(Number.isInteger(request.offset) && request.offset >= 0)) {
    reject('_offset must be a non-negative integer');
  }
  const filters = (request.filters ?? []).map((filter) => {
    if (filter.code === '_has' || filter.code.includes('.')) {
      reject(`Chained and reverse-chained search ('${filter.code}') is not supported by this server`);
    }
    const param = params[filter.code];
    if (!param) {
      reject(`Unknown search parameter '${filter.code}' for ${request.resourceType}`);
    }
    if (PRESENCE_OPERATORS.includes(filter.operator)) {
      return filter;
    }
    const supported = SUPPORTED_OPERATORS[param.type ?? ''];
    if (!supported) {
      reject(`Search parameters of type ${param.type ?? 'unknown'} ('${filter.code}') are not supported`);
    }
    if (!supported.includes(filter.operator)) {
      reject(
        `Modifier or prefix '${filter.operator}' is not supported on ${param.type} parameter '${filter.code}'`,
      );
    }
    if (param.type === 'quantity' || param.type === 'number') {
      for (const value of splitSearchOnComma(filter.value)) {
        parseNumericValue(value, param.type);
      }
    }
    return param.type === 'reference' ? expandReferenceFilter(filter, param) : filter;
  });
  for (const rule of request.sortRules ?? []) {
    if (!params[rule.code]) {
      reject(`Unknown _sort parameter '${rule.code}' for ${request.resourceType}`);
    }
  }
  return { ...request, filters };
}

/** True when medplum's matcher cannot evaluate this filter and `matchesNumericFilter` must. */
export function isNumericFilter(resourceType: string, filter: Filter): boolean {
  const type = searchParametersOf(resourceType)[filter.code]?.type;
  return (type === 'quantity' || type === 'number') && !PRESENCE_OPERATORS.includes(filter.operator);
}

interface NumericValue {
  value: number;
  /** Implicit precision range of the written number (5.4 means [5.35, 5.45)). */
  lower: number;
  upper: number;
  system?: string;
  code?: string;
}

const NUMBER = /^[-+]?\d+(\.\d+)?$/;

function parseNumericValue(raw: string, type: string): NumericValue {
  const [num = '', system = '', code = ''] = raw.split('|');
  if (!NUMBER.test(num)) {
    reject(`Invalid ${type} search value '${raw}'`);
  }
  if (type === 'number' && raw.includes('|')) {
    reject(`Number search values take no unit: '${raw}'`);
  }
  const decimals = num.split('.')[1]?.length ?? 0;
  const value = Number(num);
  const half = 0.5 * 10 ** -decimals;
  return {
    value,
    lower: value - half,
    upper: value + half,
    ...(system ? { system } : {}),
    ...(code ? { code } : {}),
  };
}

/** [low, high] of each value the parameter finds in the resource; open ends are infinite. */
function resourceIntervals(
  resource: Resource,
  param: SearchParameter,
  query: NumericValue,
): [number, number][] {
  const typed = evalFhirPathTyped(param.expression ?? '', [toTypedValue(resource)]);
  if (param.type === 'number') {
    return convertToSearchableNumbers(typed).map(([lo, hi]) => [lo ?? -Infinity, hi ?? Infinity]);
  }
  const out: [number, number][] = [];
  for (const q of convertToSearchableQuantities(typed)) {
    if (typeof q.value !== 'number') {
      continue;
    }
    // No UCUM conversion: a unit in the query must be the stored unit.
    if (query.system && q.system !== query.system) {
      continue;
    }
    if (query.code && q.code !== query.code && !(query.system === undefined && q.unit === query.code)) {
      continue;
    }
    out.push([q.value, q.value]);
  }
  return out;
}

function intervalMatches([lo, hi]: [number, number], operator: string, q: NumericValue): boolean {
  switch (operator) {
    case Operator.EQUALS:
    case Operator.NOT_EQUALS:
      return lo >= q.lower && hi < q.upper;
    case Operator.GREATER_THAN:
      return hi > q.value;
    case Operator.LESS_THAN:
      return lo < q.value;
    case Operator.GREATER_THAN_OR_EQUALS:
      return hi >= q.value;
    case Operator.LESS_THAN_OR_EQUALS:
      return lo <= q.value;
    case Operator.APPROXIMATELY: {
      // FHIR leaves "approximately" to the server; 10 % of the value, as the spec suggests.
      const d = Math.max(Math.abs(q.value) * 0.1, q.upper - q.value);
      return hi >= q.value - d && lo <= q.value + d;
    }
    default:
      return false;
  }
}

/** Quantity / number filter matching (values comma-separated = OR; `ne` is the negation of `eq`). */
export function matchesNumericFilter(resource: Resource, filter: Filter): boolean {
  const param = searchParametersOf(resource.resourceType)[filter.code];
  if (!param) {
    return false;
  }
  const type = param.type ?? '';
  const any = splitSearchOnComma(filter.value).some((raw) => {
    const q = parseNumericValue(raw, type);
    return resourceIntervals(resource, param, q).some((iv) => intervalMatches(iv, filter.operator, q));
  });
  return filter.operator === Operator.NOT_EQUALS ? !any : any;
}

export type SortKey = string | number | undefined;

function pick<K extends string | number>(values: K[], descending: boolean): K | undefined {
  if (values.length === 0) {
    return undefined;
  }
  return values.reduce((best, v) => (descending ? (v > best ? v : best) : v < best ? v : best));
}

/**
 * The value a resource sorts by for one `_sort` rule: dates as UTC instants (so offsets compare correctly),
 * numbers and quantities numerically, everything else as text. Ascending uses the earliest value,
 * descending the latest, as FHIR asks for repeating elements.
 */
export function sortKeyOf(resource: Resource, rule: SortRule): SortKey {
  const param = searchParametersOf(resource.resourceType)[rule.code];
  if (!param?.expression) {
    return undefined;
  }
  const typed = evalFhirPathTyped(param.expression, [toTypedValue(resource)]);
  const descending = Boolean(rule.descending);
  switch (param.type) {
    case 'date': {
      const instants = convertToSearchableDates(typed)
        .map((p) => (descending ? (p.end ?? p.start) : (p.start ?? p.end)))
        .filter((s): s is string => typeof s === 'string')
        .map((s) => Date.parse(s))
        .filter((n) => !Number.isNaN(n));
      return pick(instants, descending);
    }
    case 'number':
      return pick(
        convertToSearchableNumbers(typed)
          .map(([lo, hi]) => (descending ? (hi ?? lo) : (lo ?? hi)))
          .filter((n): n is number => typeof n === 'number'),
        descending,
      );
    case 'quantity':
      return pick(
        convertToSearchableQuantities(typed)
          .map((q) => q.value)
          .filter((n): n is number => typeof n === 'number'),
        descending,
      );
    case 'token':
      return pick(
        convertToSearchableTokens(typed)
          .map((t) => t.value)
          .filter((s): s is string => typeof s === 'string'),
        descending,
      );
    case 'reference':
      return pick(convertToSearchableReferences(typed), descending);
    default:
      return pick(convertToSearchableStrings(typed), descending);
  }
}

/** Compares two sort keys for one rule; resources without a value sort last in either direction. */
export function compareSortKeys(a: SortKey, b: SortKey, descending: boolean): number {
  if (a === undefined || b === undefined) {
    return a === b ? 0 : a === undefined ? 1 : -1;
  }
  const order = a < b ? -1 : a > b ? 1 : 0;
  return descending ? -order : order;
}
