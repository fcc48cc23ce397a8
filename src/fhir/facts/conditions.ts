/** Condition facts: problem-list and encounter diagnoses matched to the knowledge base's condition lists. */
import { findConceptEntry } from '../../knowledge/index.js';
import { CONDITION_CODE_LIST_IDS, type CodeListId } from '../../knowledge/schema.js';
import { conceptCodes } from '../read/primitives.js';
import type { ReadCondition } from '../read/resources.js';
import type { FactContext } from './common.js';

export const CONDITION_LISTS = CONDITION_CODE_LIST_IDS;
export type ConditionListId = (typeof CONDITION_LISTS)[number];

export interface ConditionFact {
  list: CodeListId;
  code: string;
  display: string;
  source: string;
  date: string | undefined;
  /** The Condition's clinicalStatus code (active, recurrence, relapse, inactive, remission, resolved). */
  clinicalStatus?: string;
  /** Fragility-fracture list: what the code records (osteoporotic, vertebral-collapse, history, fragility-site). */
  fractureKind?: string;
  /** CKD list: the stage the code states (3, 3a, 3b, 4, 5, 5D). */
  ckdStage?: string;
}

const ACTIVE = new Set(['active', 'recurrence', 'relapse']);
// A diagnosis of osteoporosis stays one when the problem is inactive or in remission (a drug holiday).
const STILL_OSTEOPOROSIS = new Set(['inactive', 'remission']);

function countsFor(list: ConditionListId, clinical: string[]): boolean {
  if (clinical.length === 0 || clinical.some((c) => ACTIVE.has(c))) return true;
  // A fracture stays part of the history whatever its clinicalStatus (healed, resolved, inactive).
  if (list === 'fragility-fracture') return true;
  return list === 'osteoporosis' && clinical.some((c) => STILL_OSTEOPOROSIS.has(c));
}

/** A list-specific field of a code entry, read by name: the knowledge base adds these over time. */
function entryField(entry: object, field: 'fractureKind' | 'ckdStage'): string | undefined {
  const value = (entry as Record<string, unknown>)[field];
  return typeof value === 'string' ? value : undefined;
}

export function extractConditions(
  ctx: FactContext,
  conditions: readonly ReadCondition[],
): Record<ConditionListId, ConditionFact[]> {
  // Filled key by key (Object.fromEntries of a mapped array cost more than the matching itself).
  const out = {} as Record<ConditionListId, ConditionFact[]>;
  for (const list of CONDITION_LISTS) out[list] = [];
  for (const condition of conditions) {
    const verification = conceptCodes(condition.verificationStatus);
    if (verification.some((c) => c === 'refuted' || c === 'entered-in-error')) continue;
    const clinical = conceptCodes(condition.clinicalStatus);
    for (const list of CONDITION_LISTS) {
      if (!countsFor(list, clinical)) continue;
      const entry = findConceptEntry(ctx.kb, list, condition.code);
      if (entry === undefined) continue;
      const fact: ConditionFact = {
        list,
        code: entry.code,
        display: condition.code?.text ?? entry.display,
        source: condition.ref,
        date: condition.onset ?? condition.recordedDate,
      };
      if (clinical[0] !== undefined) fact.clinicalStatus = clinical[0];
      const fractureKind = entryField(entry, 'fractureKind');
      const ckdStage = entryField(entry, 'ckdStage');
      if (fractureKind !== undefined) fact.fractureKind = fractureKind;
      if (ckdStage !== undefined) fact.ckdStage = ckdStage;
      out[list].push(fact);
    }
  }
  for (const list of CONDITION_LISTS) out[list].sort((a, b) => a.source.localeCompare(b.source));
  return out;
}
