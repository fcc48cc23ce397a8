/**
 * Received resources read once into the typed shapes fact extraction uses. Only the elements the service
 * looks at are read; each is clean (see primitives.ts) or absent, and what was dropped is recorded.
 */
import {
  isRecord,
  readArray,
  readBoolean,
  readCodeableConcept,
  readCodeableConcepts,
  readDateElement,
  readDateTime,
  readIdentifier,
  readNumber,
  readPeriod,
  readQuantity,
  readReference,
  readReferences,
  readString,
  readStringElement,
  type CodeableConcept,
  type Identifier,
  type IssueLog,
  type JsonRecord,
  type Period,
  type Quantity,
  type ReadSite,
  type Reference,
} from './primitives.js';

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

interface Base {
  resourceType: string;
  id: string | undefined;
  /** `ResourceType/id`: how facts, cards and issues name the resource. */
  ref: string;
  /** `subject.reference` (or `patient.reference`), when present. */
  subject: string | undefined;
}

export interface ReadPatient extends Base {
  resourceType: 'Patient';
  birthDate: string | undefined;
  gender: 'male' | 'female' | 'other' | 'unknown';
}

export interface ReadComponent {
  code: CodeableConcept | undefined;
  valueQuantity: Quantity | undefined;
  valueString: string | undefined;
  valueBoolean: boolean | undefined;
  valueCodeableConcept: CodeableConcept | undefined;
}

export interface ReadObservation extends Base {
  resourceType: 'Observation';
  status: string | undefined;
  code: CodeableConcept | undefined;
  category: CodeableConcept[];
  /** effectiveDateTime, else effectivePeriod.start, else effectiveInstant, else issued. */
  date: string | undefined;
  valueQuantity: Quantity | undefined;
  valueCodeableConcept: CodeableConcept | undefined;
  components: ReadComponent[];
  derivedFrom: Reference[];
  hasMember: Reference[];
  bodySite: CodeableConcept | undefined;
  method: CodeableConcept | undefined;
}

export interface ReadDiagnosticReport extends Base {
  resourceType: 'DiagnosticReport';
  status: string | undefined;
  code: CodeableConcept | undefined;
  category: CodeableConcept[];
  date: string | undefined;
  result: Reference[];
  /** Observations carried inside the report (`contained`), resolvable by `#id`. */
  contained: ReadResource[];
}

export interface ReadCondition extends Base {
  resourceType: 'Condition';
  clinicalStatus: CodeableConcept | undefined;
  verificationStatus: CodeableConcept | undefined;
  category: CodeableConcept[];
  code: CodeableConcept | undefined;
  onset: string | undefined;
  recordedDate: string | undefined;
}

export interface ReadMedication extends Base {
  resourceType: 'Medication';
  code: CodeableConcept | undefined;
  /** `ingredient[].itemCodeableConcept` (an ingredient given as a reference is not followed). */
  ingredients: CodeableConcept[];
}

export interface ReadDosage {
  text: string | undefined;
  route: CodeableConcept | undefined;
  boundsPeriod: Period | undefined;
  doseQuantity: Quantity | undefined;
  frequency: number | undefined;
  period: number | undefined;
  periodUnit: string | undefined;
}

interface MedicationUse {
  status: string | undefined;
  medicationCodeableConcept: CodeableConcept | undefined;
  medicationReference: Reference | undefined;
  dosage: ReadDosage[];
  contained: ReadResource[];
}

export interface ReadMedicationRequest extends Base, MedicationUse {
  resourceType: 'MedicationRequest';
  intent: string | undefined;
  authoredOn: string | undefined;
  validityPeriod: Period | undefined;
  expectedSupplyDuration: Quantity | undefined;
  numberOfRepeatsAllowed: number | undefined;
}

export interface ReadMedicationStatement extends Base, MedicationUse {
  resourceType: 'MedicationStatement';
  effectivePeriod: Period | undefined;
  effectiveDateTime: string | undefined;
  dateAsserted: string | undefined;
}

/** Any request-like resource (ServiceRequest and the other draft-order types): what an order codes. */
export interface ReadRequest extends Base {
  resourceType: string;
  status: string | undefined;
  /** `code`, or `codeCodeableConcept` for request types that name it so. */
  code: CodeableConcept | undefined;
  reasonCode: CodeableConcept[];
  notes: string[];
  authoredOn: string | undefined;
  occurrence: string | undefined;
}

export interface ReadImagingStudy extends Base {
  resourceType: 'ImagingStudy';
  status: string | undefined;
  started: string | undefined;
  modalities: string[];
  /** Descriptions, procedure texts and displays, series body sites: what the study says it shows. */
  texts: string[];
  identifiers: Identifier[];
}

export type ReadResource =
  | ReadPatient
  | ReadObservation
  | ReadDiagnosticReport
  | ReadCondition
  | ReadMedication
  | ReadMedicationRequest
  | ReadMedicationStatement
  | ReadImagingStudy
  | ReadRequest;

// The readers below copy the base fields one by one rather than spreading `base` (and a medication use)
// into their literals: V8 copies such spreads on a slow generic path, and these readers run for every
// resource of every hook call. Key order is the spreads' order.
function readBase(
  log: IssueLog,
  raw: JsonRecord,
  resourceType: string,
  fallbackId: string | undefined,
): { base: Base; site: ReadSite } {
  let id: string | undefined;
  if (raw.id !== undefined && raw.id !== null) {
    if (typeof raw.id === 'string' && FHIR_ID.test(raw.id)) id = raw.id;
    else log.add(`${resourceType}/${fallbackId ?? 'unknown'}`, 'id is not a FHIR id');
  }
  const ref = `${resourceType}/${id ?? fallbackId ?? 'unknown'}`;
  const site: ReadSite = { log, source: ref };
  const subjectElement = raw.subject ?? raw.patient;
  const subject = readReference(site, subjectElement, raw.subject === undefined ? 'patient' : 'subject');
  return { base: { resourceType, id, ref, subject: subject?.reference }, site };
}

// Date element paths, tried in order (module constants: no array per resource read).
const EFFECTIVE_DATE_TIME: readonly string[] = ['effectiveDateTime'];
const EFFECTIVE_INSTANT_OR_ISSUED: readonly string[] = ['effectiveInstant', 'issued'];
const ISSUED: readonly string[] = ['issued'];
const ONSET_DATE_TIME: readonly string[] = ['onsetDateTime'];
const OCCURRENCE_DATE_TIME: readonly string[] = ['occurrenceDateTime'];

function firstDate(site: ReadSite, raw: JsonRecord, paths: readonly string[]): string | undefined {
  for (const path of paths) {
    const value = readDateElement(site, raw, path);
    if (value !== undefined) return value;
  }
  return undefined;
}

function readStatus(site: ReadSite, raw: JsonRecord): string | undefined {
  return readStringElement(site, raw, 'status');
}

function readContained(site: ReadSite, raw: JsonRecord): ReadResource[] {
  const out: ReadResource[] = [];
  readArray(site, raw.contained, 'contained').forEach((item, i) => {
    // Contained resources cannot contain others (FHIR R4 dom-2), so one level is read.
    const read = readResource(site.log, item, {
      fallbackId: undefined,
      where: `${site.source} contained[${i}]`,
    });
    if (read !== undefined) out.push(read);
  });
  return out;
}

function readPatient(base: Base, site: ReadSite, raw: JsonRecord): ReadPatient {
  const gender = readStringElement(site, raw, 'gender');
  return {
    resourceType: 'Patient',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    birthDate: readDateElement(site, raw, 'birthDate'),
    gender: gender === 'male' || gender === 'female' || gender === 'other' ? gender : 'unknown',
  };
}

function readComponent(site: ReadSite, value: unknown, path: string): ReadComponent | undefined {
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not an Observation component`);
    return undefined;
  }
  return {
    code: readCodeableConcept(site, value.code, `${path}.code`),
    valueQuantity: readQuantity(site, value.valueQuantity, `${path}.valueQuantity`),
    valueString: readString(value.valueString),
    valueBoolean: readBoolean(value.valueBoolean),
    valueCodeableConcept: readCodeableConcept(
      site,
      value.valueCodeableConcept,
      `${path}.valueCodeableConcept`,
    ),
  };
}

function readObservation(base: Base, site: ReadSite, raw: JsonRecord): ReadObservation {
  const components: ReadComponent[] = [];
  const rawComponents = readArray(site, raw.component, 'component');
  for (let i = 0; i < rawComponents.length; i++) {
    const read = readComponent(site, rawComponents[i], `component[${i}]`);
    if (read !== undefined) components.push(read);
  }
  return {
    resourceType: 'Observation',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: readStatus(site, raw),
    code: readCodeableConcept(site, raw.code, 'code'),
    category: readCodeableConcepts(site, raw.category, 'category'),
    date:
      firstDate(site, raw, EFFECTIVE_DATE_TIME) ??
      readPeriod(site, raw.effectivePeriod, 'effectivePeriod')?.start ??
      firstDate(site, raw, EFFECTIVE_INSTANT_OR_ISSUED),
    valueQuantity: readQuantity(site, raw.valueQuantity, 'valueQuantity'),
    valueCodeableConcept: readCodeableConcept(site, raw.valueCodeableConcept, 'valueCodeableConcept'),
    components,
    derivedFrom: readReferences(site, raw.derivedFrom, 'derivedFrom'),
    hasMember: readReferences(site, raw.hasMember, 'hasMember'),
    bodySite: readCodeableConcept(site, raw.bodySite, 'bodySite'),
    method: readCodeableConcept(site, raw.method, 'method'),
  };
}

function readDiagnosticReport(base: Base, site: ReadSite, raw: JsonRecord): ReadDiagnosticReport {
  return {
    resourceType: 'DiagnosticReport',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: readStatus(site, raw),
    code: readCodeableConcept(site, raw.code, 'code'),
    category: readCodeableConcepts(site, raw.category, 'category'),
    date:
      firstDate(site, raw, EFFECTIVE_DATE_TIME) ??
      readPeriod(site, raw.effectivePeriod, 'effectivePeriod')?.start ??
      firstDate(site, raw, ISSUED),
    result: readReferences(site, raw.result, 'result'),
    contained: readContained(site, raw),
  };
}

function readCondition(base: Base, site: ReadSite, raw: JsonRecord): ReadCondition {
  return {
    resourceType: 'Condition',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    clinicalStatus: readCodeableConcept(site, raw.clinicalStatus, 'clinicalStatus'),
    verificationStatus: readCodeableConcept(site, raw.verificationStatus, 'verificationStatus'),
    category: readCodeableConcepts(site, raw.category, 'category'),
    code: readCodeableConcept(site, raw.code, 'code'),
    onset: firstDate(site, raw, ONSET_DATE_TIME) ?? readPeriod(site, raw.onsetPeriod, 'onsetPeriod')?.start,
    recordedDate: readDateElement(site, raw, 'recordedDate'),
  };
}

function readMedication(base: Base, site: ReadSite, raw: JsonRecord): ReadMedication {
  const ingredients: CodeableConcept[] = [];
  readArray(site, raw.ingredient, 'ingredient').forEach((item, i) => {
    if (!isRecord(item)) {
      site.log.add(site.source, `ingredient[${i}] is not a Medication ingredient`);
      return;
    }
    const concept = readCodeableConcept(
      site,
      item.itemCodeableConcept,
      `ingredient[${i}].itemCodeableConcept`,
    );
    if (concept !== undefined) ingredients.push(concept);
  });
  return {
    resourceType: 'Medication',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    code: readCodeableConcept(site, raw.code, 'code'),
    ingredients,
  };
}

function readDosage(site: ReadSite, value: unknown, path: string): ReadDosage | undefined {
  if (!isRecord(value)) {
    site.log.add(site.source, `${path} is not a Dosage`);
    return undefined;
  }
  const timing = isRecord(value.timing) ? value.timing : undefined;
  const repeat = timing !== undefined && isRecord(timing.repeat) ? timing.repeat : undefined;
  let doseQuantity: Quantity | undefined;
  readArray(site, value.doseAndRate, `${path}.doseAndRate`).forEach((d, i) => {
    if (doseQuantity === undefined && isRecord(d)) {
      doseQuantity = readQuantity(site, d.doseQuantity, `${path}.doseAndRate[${i}].doseQuantity`);
    }
  });
  return {
    text: readString(value.text),
    route: readCodeableConcept(site, value.route, `${path}.route`),
    boundsPeriod:
      repeat === undefined
        ? undefined
        : readPeriod(site, repeat.boundsPeriod, `${path}.timing.repeat.boundsPeriod`),
    doseQuantity,
    frequency: repeat === undefined ? undefined : readNumber(repeat.frequency),
    period: repeat === undefined ? undefined : readNumber(repeat.period),
    periodUnit: repeat === undefined ? undefined : readString(repeat.periodUnit),
  };
}

function readMedicationUse(site: ReadSite, raw: JsonRecord, dosagePath: string): MedicationUse {
  const dosage: ReadDosage[] = [];
  readArray(site, raw[dosagePath], dosagePath).forEach((d, i) => {
    const read = readDosage(site, d, `${dosagePath}[${i}]`);
    if (read !== undefined) dosage.push(read);
  });
  return {
    status: readStatus(site, raw),
    medicationCodeableConcept: readCodeableConcept(
      site,
      raw.medicationCodeableConcept,
      'medicationCodeableConcept',
    ),
    medicationReference: readReference(site, raw.medicationReference, 'medicationReference'),
    dosage,
    contained: readContained(site, raw),
  };
}

function readMedicationRequest(base: Base, site: ReadSite, raw: JsonRecord): ReadMedicationRequest {
  const dispense = raw.dispenseRequest;
  if (dispense !== undefined && !isRecord(dispense))
    site.log.add(site.source, 'dispenseRequest is not an object');
  const d = isRecord(dispense) ? dispense : {};
  const use = readMedicationUse(site, raw, 'dosageInstruction');
  return {
    resourceType: 'MedicationRequest',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: use.status,
    medicationCodeableConcept: use.medicationCodeableConcept,
    medicationReference: use.medicationReference,
    dosage: use.dosage,
    contained: use.contained,
    intent: readStringElement(site, raw, 'intent'),
    authoredOn: readDateElement(site, raw, 'authoredOn'),
    validityPeriod: readPeriod(site, d.validityPeriod, 'dispenseRequest.validityPeriod'),
    expectedSupplyDuration: readQuantity(
      site,
      d.expectedSupplyDuration,
      'dispenseRequest.expectedSupplyDuration',
    ),
    numberOfRepeatsAllowed: readNumber(d.numberOfRepeatsAllowed),
  };
}

function readMedicationStatement(base: Base, site: ReadSite, raw: JsonRecord): ReadMedicationStatement {
  const use = readMedicationUse(site, raw, 'dosage');
  return {
    resourceType: 'MedicationStatement',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: use.status,
    medicationCodeableConcept: use.medicationCodeableConcept,
    medicationReference: use.medicationReference,
    dosage: use.dosage,
    contained: use.contained,
    effectivePeriod: readPeriod(site, raw.effectivePeriod, 'effectivePeriod'),
    effectiveDateTime: readDateElement(site, raw, 'effectiveDateTime'),
    dateAsserted: readDateElement(site, raw, 'dateAsserted'),
  };
}

function readNotes(site: ReadSite, value: unknown): string[] {
  return readArray(site, value, 'note').flatMap((n) => {
    const text = isRecord(n) ? readString(n.text) : undefined;
    return text === undefined ? [] : [text];
  });
}

/** The request shape: used for ServiceRequest and for every resource type without a reader of its own. */
export function readRequestFields(base: Base, site: ReadSite, raw: JsonRecord): ReadRequest {
  const codeElement = raw.code !== undefined ? 'code' : 'codeCodeableConcept';
  return {
    resourceType: base.resourceType,
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: readStatus(site, raw),
    code: readCodeableConcept(site, raw[codeElement], codeElement),
    reasonCode: readCodeableConcepts(site, raw.reasonCode, 'reasonCode'),
    notes: readNotes(site, raw.note),
    authoredOn: readDateElement(site, raw, 'authoredOn'),
    occurrence:
      firstDate(site, raw, OCCURRENCE_DATE_TIME) ??
      readPeriod(site, raw.occurrencePeriod, 'occurrencePeriod')?.start ??
      timingStart(site, raw.occurrenceTiming),
  };
}

/** When an occurrenceTiming starts: its earliest event, else the start of its repeat bounds. */
function timingStart(site: ReadSite, value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  const events = readArray(site, value.event, 'occurrenceTiming.event')
    .map((e) => readDateTime(e))
    .filter((e): e is string => e !== undefined)
    .sort((a, b) => Date.parse(a) - Date.parse(b));
  if (events[0] !== undefined) return events[0];
  const repeat = isRecord(value.repeat) ? value.repeat : undefined;
  return repeat === undefined
    ? undefined
    : readPeriod(site, repeat.boundsPeriod, 'occurrenceTiming.repeat.boundsPeriod')?.start;
}

function readImagingStudy(base: Base, site: ReadSite, raw: JsonRecord): ReadImagingStudy {
  const texts: string[] = [];
  const modalities: string[] = [];
  const addText = (v: unknown): void => {
    const t = readString(v);
    if (t !== undefined) texts.push(t);
  };
  const addModality = (v: unknown): void => {
    const code = isRecord(v) ? readString(v.code) : undefined;
    if (code !== undefined) modalities.push(code);
  };
  addText(raw.description);
  readArray(site, raw.modality, 'modality').forEach(addModality);
  for (const p of readCodeableConcepts(site, raw.procedureCode, 'procedureCode')) {
    addText(p.text);
    p.coding.forEach((c) => addText(c.display));
  }
  readArray(site, raw.series, 'series').forEach((s, i) => {
    if (!isRecord(s)) {
      site.log.add(site.source, `series[${i}] is not an ImagingStudy series`);
      return;
    }
    addText(s.description);
    addModality(s.modality);
    if (isRecord(s.bodySite)) {
      addText(s.bodySite.display);
      addText(s.bodySite.code);
    }
  });
  return {
    resourceType: 'ImagingStudy',
    id: base.id,
    ref: base.ref,
    subject: base.subject,
    status: readStatus(site, raw),
    started: readDateElement(site, raw, 'started'),
    modalities,
    texts,
    identifiers: readArray(site, raw.identifier, 'identifier').flatMap((i) => {
      const id = readIdentifier(i);
      return id === undefined ? [] : [id];
    }),
  };
}

export interface ReadOptions {
  /** Id used in `ref` when the resource has none (draft orders use `#<index>`). */
  fallbackId: string | undefined;
  /** Where the value sits, for issues about values that are not resources at all. */
  where: string;
  /**
   * The value is `entry[entryIndex].resource` of the Bundle at `where`: the full path is written only
   * when an issue needs it (building it for every entry read was a measurable share of readPrefetch).
   */
  entryIndex?: number;
  /** Read every resource as a request (draft orders). */
  asRequest?: boolean;
}

/**
 * One received resource in its typed shape, or nothing (recorded) when it is not a resource at all.
 * OperationOutcome and Bundle values yield nothing here: bundles are read by `readBundle`.
 */
export function readResource(log: IssueLog, value: unknown, options: ReadOptions): ReadResource | undefined {
  if (!isRecord(value)) {
    log.add(whereOf(options), 'is not a FHIR resource');
    return undefined;
  }
  const type = value.resourceType;
  if (typeof type !== 'string' || !RESOURCE_TYPE.test(type)) {
    log.add(whereOf(options), 'has no valid resourceType');
    return undefined;
  }
  if (type === 'OperationOutcome' || type === 'Bundle') return undefined;
  const { base, site } = readBase(log, value, type, options.fallbackId);
  if (options.asRequest === true) return readRequestFields(base, site, value);
  return (READERS[type] ?? readRequestFields)(base, site, value);
}

function whereOf(options: ReadOptions): string {
  return options.entryIndex === undefined
    ? options.where
    : `${options.where} entry[${options.entryIndex}].resource`;
}

type Reader = (base: Base, site: ReadSite, raw: JsonRecord) => ReadResource;

/** The reader of each resource type the rules use; any other type is read for its request fields. */
const READERS: Partial<Record<string, Reader>> = {
  Patient: readPatient,
  Observation: readObservation,
  DiagnosticReport: readDiagnosticReport,
  Condition: readCondition,
  Medication: readMedication,
  MedicationRequest: readMedicationRequest,
  MedicationStatement: readMedicationStatement,
  ImagingStudy: readImagingStudy,
};

export function isType<T extends ReadResource['resourceType']>(
  type: T,
): (r: ReadResource) => r is Extract<ReadResource, { resourceType: T }> {
  return (r): r is Extract<ReadResource, { resourceType: T }> => r.resourceType === type;
}

/** Guard for request-shaped resources of one type (ServiceRequest...), read by the request reader. */
export function isRequestOf(type: string): (r: ReadResource) => r is ReadRequest {
  return (r): r is ReadRequest => r.resourceType === type && 'reasonCode' in r;
}
