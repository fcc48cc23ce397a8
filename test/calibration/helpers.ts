/** Shared pieces of the calibration tests: the shipped knowledge base and outcomes, synthetic cohorts. */
import path from 'node:path';
import { loadCalibrationOutcomes, type CalibrationOutcomesFile } from '../../src/calibration/outcomes.js';
import type { CohortRow } from '../../src/calibration/cohort.js';
import { syntheticCohort, type SyntheticStratum } from '../../src/calibration/synthetic.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';

export const KNOWLEDGE_DIR = path.resolve(import.meta.dirname, '../../cds-services');

let outcomes: CalibrationOutcomesFile | undefined;
export function shippedOutcomes(): CalibrationOutcomesFile {
  outcomes ??= loadCalibrationOutcomes(KNOWLEDGE_DIR, shippedKnowledgeBase());
  return outcomes;
}

/** A binormal stratum: VBQ of non-events ~ N(mu0, s), events ~ N(mu0 + delta, s). */
export function stratum(overrides: Partial<SyntheticStratum> = {}): SyntheticStratum {
  return {
    fieldStrengthT: 3,
    scanner: null,
    events: 60,
    nonEvents: 140,
    mu0: 2.6,
    s0: 0.45,
    mu1: 3.2,
    s1: 0.45,
    ...overrides,
  };
}

export function cohort(
  seed: number,
  strata: SyntheticStratum[],
  extra: { maxGapDays?: number } = {},
): CohortRow[] {
  return syntheticCohort({
    seed,
    metric: 'vbq-l1-l4',
    outcome: 'osteoporosis-dxa',
    start: '2024-01-01',
    strata,
    ...extra,
  });
}
