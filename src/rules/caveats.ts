/**
 * The caveats that apply to a hook call, most relevant to this patient first: what weakens the deciding
 * datum (a confounder, its age, an unknown field strength, a lumbar-only T-score) comes before what holds
 * for every score (VBQ is supplementary; scanners differ). Cards show the first two; the care-team view
 * shows them all.
 */
import type { Facts } from '../fhir/facts/index.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { CaveatName } from '../knowledge/schema.js';
import type { ScoreAssessment } from './findings.js';

const RANK: readonly CaveatName[] = [
  'hyperlipidemia',
  'lumbarTScore',
  'stale',
  'fieldStrengthUnknown',
  'sex',
  'age',
  'supplementary',
  'fieldStrength',
  'frax',
];

export function caveatsFor(
  kb: KnowledgeBase,
  facts: Facts,
  scores: ScoreAssessment[],
  tScoresApply = true,
): CaveatName[] {
  const caveats = new Set<CaveatName>();
  const stale = kb.parameters.staleDataMonths;
  if (scores.length > 0) {
    caveats.add('supplementary');
    caveats.add('fieldStrength');
    if (scores.some((s) => s.score.fieldStrengthT === undefined)) caveats.add('fieldStrengthUnknown');
    if (facts.conditions.hyperlipidemia.length > 0) caveats.add('hyperlipidemia');
    if ((facts.patient.ageYears ?? 0) >= kb.parameters.vbqAgeCaveatYears) caveats.add('age');
    if (facts.patient.sex === 'male') caveats.add('sex');
  }
  if (
    scores.some((s) => s.score.ageMonths > stale) ||
    facts.dxa.stale ||
    (facts.ctHu !== undefined && facts.ctHu.ageMonths > stale)
  ) {
    caveats.add('stale');
  }
  // A lumbar-only T-score weakens only a classification by T-scores (not a Z-score under 50).
  if (facts.dxa.lumbarOnly && tScoresApply) caveats.add('lumbarTScore');
  caveats.add('frax');
  return RANK.filter((c) => caveats.has(c));
}
