/**
 * The structural edge guard for FHIR JSON the service receives (draft orders, supplied prefetch, fetched
 * answers): the JSON types of the common FHIR datatype elements every reader relies on are checked once,
 * iteratively, before any reader sees the resource. It is deliberately not a profile validator: required
 * elements, cardinalities, bindings and unknown elements are left alone (real EHR data is messy and the
 * readers tolerate absence); only shapes that no valid FHIR JSON can have, and that would make readers
 * misread or crash, are refused: `coding` that is not an array of objects, a Coding whose `system` /
 * `code` is not a string, a `reference` that is not a string, a `code` that is neither a string nor a
 * CodeableConcept, a non-numeric Quantity `value`, a date that is not a FHIR date, a null property (FHIR
 * JSON has no nulls outside primitive-extension arrays).
 */

/** FHIR date / dateTime / instant (R4 regular expression, year 0001 to 9999). */
const FHIR_DATE_TIME =
  /^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{1,9})?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$/;

/** Elements whose value is a FHIR date, dateTime or instant wherever they appear. */
const DATE_ELEMENTS = new Set([
  'birthDate',
  'deceasedDateTime',
  'effectiveDateTime',
  'effectiveInstant',
  'issued',
  'authoredOn',
  'recordedDate',
  'onsetDateTime',
  'abatementDateTime',
  'dateAsserted',
  'started',
  'lastUpdated',
  'occurrenceDateTime',
  'start',
  'end',
]);

const STRING_ELEMENTS = new Set([
  'resourceType',
  'id',
  'status',
  'intent',
  'reference',
  'unit',
  'comparator',
  'url',
  'relation',
]);

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function problemOf(key: string, value: Json, parentKey: string | undefined): string | undefined {
  if (value === null) return 'must not be null';
  if (STRING_ELEMENTS.has(key) && typeof value !== 'string') return 'must be a string';
  if (DATE_ELEMENTS.has(key) && (typeof value !== 'string' || !FHIR_DATE_TIME.test(value))) {
    return 'must be a FHIR date or dateTime';
  }
  switch (key) {
    case 'coding':
    case 'extension':
    case 'modifierExtension':
    case 'component':
    case 'entry':
    case 'link':
    case 'tag':
    case 'profile':
      if (!Array.isArray(value)) return 'must be an array';
      if (key !== 'profile' && value.some((item) => !isObject(item))) return 'must hold objects only';
      break;
    case 'code':
      if (typeof value !== 'string' && !isObject(value)) return 'must be a string or a CodeableConcept';
      break;
    case 'system':
    case 'display':
    case 'version':
      if (typeof value !== 'string') return 'must be a string';
      break;
    case 'value':
      if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        return 'must be a primitive';
      }
      if (parentKey !== undefined && /Quantity$/.test(parentKey) && typeof value !== 'number') {
        return 'must be a number';
      }
      break;
    case 'valueQuantity':
    case 'meta':
    case 'subject':
    case 'patient':
    case 'valueCodeableConcept':
    case 'clinicalStatus':
    case 'verificationStatus':
    case 'medicationCodeableConcept':
    case 'effectivePeriod':
    case 'period':
    case 'resource':
      // Timing.repeat.period is a decimal (every `period` `periodUnit`), not a Period.
      if (key === 'period' && parentKey === 'repeat') {
        if (typeof value !== 'number') return 'must be a number';
        break;
      }
      if (!isObject(value)) return 'must be an object';
      break;
    case 'category':
    case 'bodySite':
    case 'identifier':
    case 'modality':
      // 0..1 in some resources, 0..* in others: an object or an array of objects.
      if (!isObject(value) && !(Array.isArray(value) && value.every(isObject))) {
        return 'must be an object or an array of objects';
      }
      break;
    default:
      break;
  }
  return undefined;
}

/**
 * The first structural problem of a FHIR resource (or Bundle, walked with its entries), as
 * `<path>: <problem>`, or undefined. `path` prefixes the reported path.
 */
export function fhirStructureProblem(resource: Json, path: string): string | undefined {
  if (!isObject(resource)) return `${path}: must be a FHIR resource (an object)`;
  if (typeof resource.resourceType !== 'string') return `${path}.resourceType: must be a string`;
  if (resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    for (let i = 0; i < resource.entry.length; i++) {
      const r: Json = isObject(resource.entry[i])
        ? (resource.entry[i] as { resource?: Json }).resource
        : undefined;
      if (r === undefined) continue;
      const p = fhirStructureProblem(r, `${path}.entry[${i}].resource`);
      if (p) return p;
    }
  }
  // Required (1..1) elements that every reader of these resources dereferences.
  if (resource.resourceType === 'Observation' && !isObject(resource.code)) {
    return `${path}.code: is required (a CodeableConcept)`;
  }
  if (Array.isArray(resource.component)) {
    const i = resource.component.findIndex((c) => isObject(c) && !isObject(c.code));
    if (i >= 0) return `${path}.component[${i}].code: is required (a CodeableConcept)`;
  }
  const stack: { value: Json; path: string; key: string | undefined }[] = [
    { value: resource, path, key: undefined },
  ];
  while (stack.length > 0) {
    const { value, path: at, key: ownKey } = stack.pop()!;
    if (Array.isArray(value)) {
      // Primitive-extension arrays (`_given`) may hold nulls; elsewhere an array item is never null.
      const allowNulls = ownKey?.startsWith('_') === true;
      for (let i = value.length - 1; i >= 0; i--) {
        const item = value[i];
        if (item === null && !allowNulls) return `${at}[${i}]: must not be null`;
        if (item !== null && typeof item === 'object')
          stack.push({ value: item, path: `${at}[${i}]`, key: ownKey });
      }
      continue;
    }
    if (!isObject(value)) continue;
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${at}.${key}`;
      if (key.startsWith('_')) {
        if (child !== null && typeof child === 'object') stack.push({ value: child, path: childPath, key });
        continue;
      }
      const problem = problemOf(key, child, ownKey);
      if (problem) return `${childPath}: ${problem}`;
      if (child !== null && typeof child === 'object') stack.push({ value: child, path: childPath, key });
    }
  }
  return undefined;
}
