/** Condition facts: problem-list and encounter diagnoses matched to the knowledge base's condition lists. */
import { findConceptEntry } from '../../knowledge/index.js';
import type { CodeListId } from '../../knowledge/schema.js';
import { conceptCodes } from '../read/primitives.js';
import type { ReadCondition } from '../read/resources.js';
import type { FactContext } from './common.js';

export const CONDITION_LISTS = [
  'osteoporosis',
  'osteopenia',
  'fragility-fracture',
  'hyperlipidemia',
  'diabetes',
  'ckd',
  'rheumatoid-arthritis',
  'hyperparathyroidism',
  'long-term-steroid-use',
] as const satisfies readonly CodeListId[];
export type ConditionListId = (typeof CONDITION_LISTS)[number];

export interface ConditionFact {
  list: CodeListId;
  code: string;
  display: string;
  source: string;
  date: string | undefined;
}

function conditionStatus(condition: ReadCondition): { active: boolean; refuted: boolean } {
  const clinical = conceptCodes(condition.clinicalStatus);
  const verification = conceptCodes(condition.verificationStatus);
  const refuted = verification.some((c) => c === 'refuted' || c === 'entered-in-error');
  const active =
    clinical.length === 0 || clinical.some((c) => c === 'active' || c === 'recurrence' || c === 'relapse');
  return { active, refuted };
}

export function extractConditions(
  ctx: FactContext,
  conditions: readonly ReadCondition[],
): Record<ConditionListId, ConditionFact[]> {
  const out = Object.fromEntries(CONDITION_LISTS.map((l) => [l, [] as ConditionFact[]])) as Record<
    ConditionListId,
    ConditionFact[]
  >;
  for (const condition of conditions) {
    const { active, refuted } = conditionStatus(condition);
    if (refuted) continue;
    for (const list of CONDITION_LISTS) {
      // A fracture stays part of the history after it heals; the other conditions count only while active.
      if (!active && list !== 'fragility-fracture') continue;
      const entry = findConceptEntry(ctx.kb, list, condition.code);
      if (entry === undefined) continue;
      out[list].push({
        list,
        code: entry.code,
        display: condition.code?.text ?? entry.display,
        source: condition.ref,
        date: condition.onset ?? condition.recordedDate,
      });
    }
  }
  for (const list of CONDITION_LISTS) out[list].sort((a, b) => a.source.localeCompare(b.source));
  return out;
}
