/** The clinical rules: pure functions from facts and the planned procedure to findings. */
export { assess } from './assess.js';
export type { Finding, ScoreAssessment, EvidenceItem, ActionState } from './assess.js';
export { describeProcedure } from './procedure.js';
export type { PlannedProcedure } from './procedure.js';
