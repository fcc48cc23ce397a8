/** Site calibration of bone-quality cutoffs (vbq calibrate, POST /calibration, drift watch). */
export { calibrate, CALIBRATION_DEFAULTS, SCORE_COMPARATOR, publishedCutoffsFor } from './calibrate.js';
export type {
  CalibrationOptions,
  CalibrationResult,
  StratumResult,
  Refusal,
  RefusalCode,
} from './calibrate.js';
export { parseCohortCsv, CohortError, CSV_COLUMNS, COHORT_LIMITS } from './cohort.js';
export type { CohortRow } from './cohort.js';
export { loadCalibrationOutcomes, parseCalibrationOutcomes, CALIBRATION_OUTCOMES_FILE } from './outcomes.js';
export type { CalibrationOutcome, CalibrationOutcomesFile } from './outcomes.js';
export { buildOverrides, provenanceSchema, calibrationOverridesSchema } from './overrides.js';
export type { Provenance, CalibrationOverrides } from './overrides.js';
export { runCalibration } from './run.js';
export { renderReport } from './report.js';
export { createCalibrationRouter, CALIBRATION_REFUSAL_SYSTEM, CALIBRATION_API_LIMITS } from './api.js';
export type { CalibrationRouterDeps } from './api.js';
export {
  assessDrift,
  createDriftGauges,
  createDriftWatch,
  driftBaseline,
  driftBaselineSchema,
  DRIFT_DEFAULTS,
} from './drift.js';
export type { DriftBaseline, DriftResult, DriftWatch, RecentScore, RecentScoresSource } from './drift.js';
export { fetchCohortFromFhir, fhirRecentScores, FhirCohortError } from './fhir-input.js';
export {
  createDriftWatchRuntime,
  loadDriftBaseline,
  outboxRecentScores,
  DRIFT_WATCH_DEFAULTS,
} from './drift-watch.js';
export type { DriftSource, DriftStatus, DriftWatchRuntime, DriftWatchSettings } from './drift-watch.js';
