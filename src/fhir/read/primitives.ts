/**
 * Tolerant reading of FHIR datatypes. Everything the service receives is `unknown` until read here: each
 * reader returns a clean typed value or nothing, and records why an element it was asked to read was
 * dropped. Nothing downstream (fact extraction, code matching, card wording) ever sees raw JSON.
 */

/** Why an element of a received resource was not used. */
export interface DataIssue {
  /** `ResourceType/id` of the resource (or the prefetch key / request path when there is none). */
  source: string;
  /** What was wrong, naming the element: "code is not a CodeableConcept". */
  reason: string;
}

/** Upper bound on recorded issues: a hostile bundle must not grow the facts without limit. */
export const MAX_DATA_ISSUES = 100;

/** Collects data issues for one call; keeps the first MAX_DATA_ISSUES and counts the rest. */
export class IssueLog {
  readonly issues: DataIssue[] = [];
  dropped = 0;

  add(source: string, reason: string): void {
    if (this.issues.length < MAX_DATA_ISSUES) this.issues.push({ source, reason });
    else this.dropped += 1;
  }

  /** The issues as facts carry them, with one summary line when some were left out. */
  list(): DataIssue[] {
    return this.dropped === 0
      ? [...this.issues]
      : [...this.issues, { source: 'data', reason: `${this.dropped} further data issue(s) not listed` }];
  }
}

/** Where in a resource an element sits, for issue messages. */
export interface ReadSite {
  log: IssueLog;
  source: string;
}

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Longest string accepted from received FHIR: longer is not a plausible code, date or display. */
export const MAX_STRING_LENGTH = 4096;

/** A non-blank string of plausible length, or nothing. */
export function readString(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_STRING_LENGTH) return undefined;
  return value.trim() === '' ? undefined : value;
}

/** A string element that, when present, must be a string: anything else is recorded. */
export function readStringElement(site: ReadSite, record: JsonRecord, path: string): string | undefined {
  const value = record[path];
  if (value === undefined || value === null) return undefined;
  const read = readString(value);
  if (read === undefined) site.log.add(site.source, `${path} is not a usable string`);
  return read;
}

export function readNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function readBoolean(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

// FHIR date / dateTime / instant (https://hl7.org/fhir/R4/datatypes.html#dateTime): year 0001-9999,
// optional month, day, time with a zone. Year 0000 and impossible dates are refused.
const FHIR_DATE_TIME =
  /^([0-9]{4})(-(0[1-9]|1[0-2])(-(0[1-9]|[12][0-9]|3[01])(T([01][0-9]|2[0-3]):[0-5][0-9](:([0-5][0-9]|60)(\.[0-9]{1,9})?)?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))?)?)?)?$/;

/** A FHIR date/dateTime/instant that also parses to a real point in time, or nothing. */
export function readDateTime(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 40) return undefined;
  // test() and fixed positions rather than exec()'s capture array: once the pattern matched, the year
  // is characters 0-3, the month 5-6 and, when the value is at least a full date, the day 8-9.
  if (!FHIR_DATE_TIME.test(value) || value.startsWith('0000')) return undefined;
  if (value.length >= 10) {
    // Date.parse rolls 2026-02-30 over to March: a day the month does not have is refused here.
    const year = Number(value.slice(0, 4));
    const month = Number(value.slice(5, 7));
    const dayOfMonth = Number(value.slice(8, 10));
    if (dayOfMonth > daysInMonth(year, month)) return undefined;
  }
  return Number.isNaN(Date.parse(value)) ? undefined : value;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days of a month of the proleptic Gregorian calendar (year 1-9999, month 1-12). */
function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS_IN_MONTH[month - 1]!;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return leap ? 29 : 28;
}

/** A date element that, when present, must be a valid FHIR date/dateTime: anything else is recorded. */
export function readDateElement(site: ReadSite, record: JsonRecord, path: string): string | undefined {
  const value = record[path];
  if (value === undefined || value === null) return undefined;
  const read = readDateTime(value);
  if (read === undefined) site.log.add(site.source, `${path} is not a valid FHIR date`);
  return read;
}

/** An array element: missing is empty; anything but an array is recorded and read as empty. */
export function readArray(site: ReadSite, value: unknown, path: string): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  site.log.add(site.source, `${path} is not an array`);
  return [];
}

/** A clean Coding: only string fields survive. */
export interface Coding {
  system?: string;
  code?: string;
  display?: string;
}

/** A clean CodeableConcept: `coding` is always an array of clean Codings. */
export interface CodeableConcept {
  coding: Coding[];
  text?: string;
}

export function readCoding(value: unknown): Coding | undefined {
  if (!isRecord(value)) return undefined;
  const coding: Coding = {};
  const system = readString(value.system);
  const code = readString(value.code);
  const display = readString(value.display);
  if (system !== undefined) coding.system = system;
  if (code !== undefined) coding.code = code;
  if (display !== undefined) coding.display = display;
  return coding;
}

/**
 * A CodeableConcept element: clean codings or nothing. A value that is not an object, a `coding` that is not
 * an array and codings that are not objects are dropped and recorded under `path`.
 */
export function readCodeableConcept(
  site: ReadSite,
  value: unknown,
  path: string,
): CodeableConcept | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not a CodeableConcept`);
    return undefined;
  }
  const coding: Coding[] = [];
  // readArray's checks inlined: its path argument would be built for every concept read, and it is
  // needed only when `coding` is not an array (received JSON has no sparse arrays, so a plain loop
  // visits what forEach did).
  const codings = value.coding;
  if (Array.isArray(codings)) {
    for (let i = 0; i < codings.length; i++) {
      const read = readCoding(codings[i]);
      if (read === undefined) site.log.add(site.source, `${path}.coding[${i}] is not a Coding`);
      else coding.push(read);
    }
  } else if (codings !== undefined && codings !== null) {
    site.log.add(site.source, `${path}.coding is not an array`);
  }
  const concept: CodeableConcept = { coding };
  const text = readString(value.text);
  if (text !== undefined) concept.text = text;
  return concept;
}

/** A list of CodeableConcepts (category, reasonCode...): unreadable items dropped and recorded. */
export function readCodeableConcepts(site: ReadSite, value: unknown, path: string): CodeableConcept[] {
  const out: CodeableConcept[] = [];
  const items = readArray(site, value, path);
  for (let i = 0; i < items.length; i++) {
    const read = readCodeableConcept(site, items[i], `${path}[${i}]`);
    if (read !== undefined) out.push(read);
  }
  return out;
}

/** The codes of a status-like CodeableConcept (clinicalStatus, verificationStatus). */
export function conceptCodes(concept: CodeableConcept | undefined): string[] {
  return (concept?.coding ?? []).flatMap((c) => (c.code === undefined ? [] : [c.code]));
}

/** Every human-readable text of a concept: its text and its codings' displays. */
export function conceptTexts(concept: CodeableConcept | undefined): string[] {
  if (concept === undefined) return [];
  const displays = concept.coding.flatMap((c) => (c.display === undefined ? [] : [c.display]));
  return concept.text === undefined ? displays : [concept.text, ...displays];
}

export interface Quantity {
  value?: number;
  unit?: string;
  system?: string;
  code?: string;
}

export function readQuantity(site: ReadSite, value: unknown, path: string): Quantity | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not a Quantity`);
    return undefined;
  }
  const quantity: Quantity = {};
  const number = readNumber(value.value);
  if (value.value !== undefined && number === undefined) {
    site.log.add(site.source, `${path}.value is not a number`);
  }
  if (number !== undefined) quantity.value = number;
  const unit = readString(value.unit);
  if (unit !== undefined) quantity.unit = unit;
  const system = readString(value.system);
  if (system !== undefined) quantity.system = system;
  const code = readString(value.code);
  if (code !== undefined) quantity.code = code;
  return quantity;
}

export interface Period {
  start?: string;
  end?: string;
}

export function readPeriod(site: ReadSite, value: unknown, path: string): Period | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not a Period`);
    return undefined;
  }
  const period: Period = {};
  const start = readDateElement(site, value, 'start');
  const end = readDateElement(site, value, 'end');
  if (start !== undefined) period.start = start;
  if (end !== undefined) period.end = end;
  return period;
}

export interface Identifier {
  system?: string;
  value?: string;
}

export function readIdentifier(value: unknown): Identifier | undefined {
  if (!isRecord(value)) return undefined;
  const identifier: Identifier = {};
  const system = readString(value.system);
  const text = readString(value.value);
  if (system !== undefined) identifier.system = system;
  if (text !== undefined) identifier.value = text;
  return identifier;
}

export interface Reference {
  reference?: string;
  display?: string;
  identifier?: Identifier;
}

export function readReference(site: ReadSite, value: unknown, path: string): Reference | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not a Reference`);
    return undefined;
  }
  const out: Reference = {};
  const reference = readString(value.reference);
  const display = readString(value.display);
  const identifier = readIdentifier(value.identifier);
  if (reference !== undefined) out.reference = reference;
  if (display !== undefined) out.display = display;
  if (identifier !== undefined) out.identifier = identifier;
  return out;
}

export function readReferences(site: ReadSite, value: unknown, path: string): Reference[] {
  const out: Reference[] = [];
  const items = readArray(site, value, path);
  for (let i = 0; i < items.length; i++) {
    const read = readReference(site, items[i], `${path}[${i}]`);
    if (read !== undefined) out.push(read);
  }
  return out;
}
