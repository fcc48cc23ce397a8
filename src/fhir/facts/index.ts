/**
 * Resource -> fact extraction: the hydrated prefetch and the call's draft orders are read once, tolerantly
 * (../read/), and each resource family turns its typed resources into facts carrying the id of the resource
 * they came from and its date. Malformed elements never throw: they are dropped and listed in `dataIssues`.
 * Pure: the clock is an argument and nothing here does I/O.
 */
import type { KnowledgeBase } from '../../knowledge/index.js';
import { readDraftOrders, readPrefetch } from '../read/bundle.js';
import { IssueLog, type DataIssue } from '../read/primitives.js';
import {
  isRequestOf,
  isType,
  type ReadDiagnosticReport,
  type ReadObservation,
  type ReadResource,
} from '../read/resources.js';
import { belongsToPatient, ownOfKey, type FactContext, type MeasurementFact } from './common.js';
import { extractConditions, type ConditionFact, type ConditionListId } from './conditions.js';
import { extractCtHu } from './ct-hu.js';
import { extractDxa, type DxaFacts } from './dxa.js';
import { extractMrWithoutScore, type MrStudyFact } from './imaging-studies.js';
import { extractEgfr, extractVitaminD } from './labs.js';
import { extractMedications, type GlucocorticoidFacts, type MedicationFact } from './medications.js';
import { extractOrders, type OrderFact } from './orders.js';
import { extractPatient, type PatientFact } from './patient.js';
import { extractScores, type BoneQualityScoreFact, type ExcludedScoreFact } from './scores.js';

export type { DataIssue } from '../read/primitives.js';
export type { MeasurementFact } from './common.js';
export { CONDITION_LISTS, type ConditionFact, type ConditionListId } from './conditions.js';
export type { DxaFacts, DxaKind, DxaSite, TScoreFact, ZScoreFact } from './dxa.js';
export type { MrStudyFact } from './imaging-studies.js';
export type { GlucocorticoidFacts, MedicationFact } from './medications.js';
export type { OrderFact } from './orders.js';
export type { PatientFact } from './patient.js';
export type { BoneQualityScoreFact, ExcludedScoreFact, ScoreRegion } from './scores.js';
export { spineProcedureOrder, spineProcedureOrders, type SpineProcedureOrder } from './procedure-orders.js';

export interface Facts {
  patient: PatientFact;
  scores: BoneQualityScoreFact[];
  excludedScores: ExcludedScoreFact[];
  /** Preliminary scores (latest per metric and region): to show as preliminary, never as results. */
  preliminaryScores: BoneQualityScoreFact[];
  dxa: DxaFacts;
  ctHu: MeasurementFact | undefined;
  vitaminD: MeasurementFact | undefined;
  /** The latest eGFR in mL/min/1.73 m2, of any age (the rules apply the knowledge base's window). */
  egfr: MeasurementFact | undefined;
  conditions: Record<ConditionListId, ConditionFact[]>;
  glucocorticoids: GlucocorticoidFacts;
  /** Current osteoporosis treatment, by each drug's dosing interval (clinical-data.json treatments). */
  treatments: MedicationFact[];
  /** Every osteoporosis-treatment record read, current or not (the rules look for an overdue denosumab). */
  treatmentHistory: MedicationFact[];
  /** Valid bone-quality scores older than the latest of their metric and region (history only). */
  earlierScores: BoneQualityScoreFact[];
  dxaOrders: OrderFact[];
  referrals: OrderFact[];
  vitaminDOrders: OrderFact[];
  mrWithoutScore: MrStudyFact[];
  /**
   * Elements of the received data that could not be read and were left out, each naming its resource and
   * element ("Observation/x: code is not a CodeableConcept"): a card can mention them where they matter.
   */
  dataIssues: DataIssue[];
}

export interface FactInput {
  patientId: string;
  /** The hydrated prefetch (`HydratedPrefetch`), or any received value: it is read tolerantly. */
  prefetch: unknown;
  /** `context.draftOrders` as received, or the result of `readDraftOrders`. */
  draftOrders: unknown;
  now: Date;
}

const isObservation = isType('Observation');
const isDiagnosticReport = isType('DiagnosticReport');
function isDxaRoot(r: ReadResource): r is ReadObservation | ReadDiagnosticReport {
  return isObservation(r) || isDiagnosticReport(r);
}

/** Every Observation of the patient in any prefetch key, once (labs may arrive under several keys). */
function allOwnObservations(ctx: FactContext): ReadObservation[] {
  const seen = new Set<ReadObservation>();
  // Resources of another patient are skipped without a record here: the family readers record them.
  for (const resources of ctx.prefetch.byKey.values()) {
    for (const r of resources)
      if (isObservation(r) && belongsToPatient(r.subject, ctx.patientId)) seen.add(r);
  }
  return [...seen];
}

/** Extracts every fact the rules use from the hydrated prefetch and the call's draft orders. */
export function extractFacts(kb: KnowledgeBase, input: FactInput): Facts {
  const log = new IssueLog();
  const ctx: FactContext = {
    kb,
    now: input.now,
    patientId: input.patientId,
    prefetch: readPrefetch(log, input.prefetch),
    log,
  };
  const drafts = readDraftOrders(input.draftOrders);
  for (const issue of drafts.issues.issues) log.add(issue.source, issue.reason);

  const boneQualityObs = ownOfKey(ctx, 'boneQuality', isType('Observation'));
  const { scores, excluded, preliminary, earlier } = extractScores(ctx, boneQualityObs);
  const conditions = extractConditions(ctx, ownOfKey(ctx, 'conditions', isType('Condition')));
  const { treatments, treatmentHistory, glucocorticoids } = extractMedications(
    ctx,
    ownOfKey(ctx, 'medicationRequests', isType('MedicationRequest')),
    ownOfKey(ctx, 'medicationStatements', isType('MedicationStatement')),
    conditions['long-term-steroid-use'],
  );
  const storedOrders = ownOfKey(ctx, 'serviceRequests', isRequestOf('ServiceRequest'));
  const params = kb.parameters;
  const orders = (list: Parameters<typeof extractOrders>[1], lookback: number): OrderFact[] =>
    extractOrders(ctx, list, storedOrders, drafts.orders, lookback);

  return {
    patient: extractPatient(ctx),
    scores,
    excludedScores: excluded,
    preliminaryScores: preliminary,
    dxa: extractDxa(ctx, [...ownOfKey(ctx, 'dxa', isDxaRoot), ...ownOfKey(ctx, 'dxaReports', isDxaRoot)]),
    ctHu: extractCtHu(ctx, ownOfKey(ctx, 'ctHu', isType('Observation'))),
    vitaminD: extractVitaminD(ctx, ownOfKey(ctx, 'vitaminD', isType('Observation'))),
    egfr: extractEgfr(ctx, allOwnObservations(ctx)),
    conditions,
    glucocorticoids,
    treatments,
    treatmentHistory,
    earlierScores: earlier,
    dxaOrders: orders('dxa-orders', params.dxaLookbackMonths),
    referrals: orders('bone-health-referrals', params.referralLookbackMonths),
    vitaminDOrders: orders('vitamin-d-25oh', params.vitaminDLookbackMonths),
    mrWithoutScore: extractMrWithoutScore(
      ctx,
      ownOfKey(ctx, 'imagingStudies', isType('ImagingStudy')),
      boneQualityObs,
    ),
    dataIssues: log.list(),
  };
}
