/** The clinical rules: pure functions from facts and the planned procedure to findings (no wording). */
export { assess, CONCURRENT_RULES, DECISION_RULES, GAP_RULES, type DecisionRule } from './decision-table.js';
export type {
  ActionState,
  Advice,
  EvidenceItem,
  Finding,
  FindingContext,
  GapReason,
  ScoreAssessment,
} from './findings.js';
export { describeProcedure, familyLabel } from './procedure.js';
export type { PlannedProcedure } from './procedure.js';
