/**
 * Code-list membership: the one place that decides whether a FHIR Coding belongs to a knowledge-base
 * list (exact or prefix match, as the list entry says).
 */
import type { CodeableConcept, Coding } from 'fhir/r4.js';
import type { KnowledgeBase } from './load.js';
import type { CodeEntry, CodeListId } from './schema.js';

/** Our own CodeSystem for bone-quality measurements and their components. */
export const BONE_QUALITY_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/bone-quality';
export const CANONICAL_BASE = 'https://spine-bone-health-cds.org/fhir';
export const CARD_TOPIC_SYSTEM = `${CANONICAL_BASE}/CodeSystem/card-topic`;
export const OVERRIDE_REASON_SYSTEM = `${CANONICAL_BASE}/CodeSystem/override-reason`;
export const SYSTEMS = {
  cpt: 'http://www.ama-assn.org/go/cpt',
  snomed: 'http://snomed.info/sct',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  loinc: 'http://loinc.org',
  rxnorm: 'http://www.nlm.nih.gov/research/umls/rxnorm',
  ucum: 'http://unitsofmeasure.org',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
} as const;

function normalise(code: string): string {
  return code.trim().toUpperCase();
}

interface ListIndex {
  /**
   * system -> CODE -> position of the first exact entry (two levels, so a lookup builds no
   * `system|CODE` key string: each coding is looked up in several lists per call).
   */
  exact: Map<string, Map<string, number>>;
  /** Per system, the prefix entries (normalised code, position), in list order. */
  prefixes: Map<string, { code: string; at: number }[]>;
  orderEntry: CodeEntry | undefined;
  /** Entries with an ingredient name, longest name first (stable sort: list order among equals). */
  ingredients: { entry: CodeEntry; word: string }[];
}

/**
 * Code lists are indexed once per knowledge base (on first use), not scanned per coding: a hook call
 * matches hundreds of codings against lists of up to a few hundred entries.
 */
const indexes = new WeakMap<KnowledgeBase, Map<CodeListId, ListIndex>>();

function listIndex(kb: KnowledgeBase, listId: CodeListId): ListIndex {
  let byList = indexes.get(kb);
  if (byList === undefined) indexes.set(kb, (byList = new Map()));
  let index = byList.get(listId);
  if (index !== undefined) return index;
  const codes = kb.codeLists[listId].codes;
  index = {
    exact: new Map(),
    prefixes: new Map(),
    orderEntry: codes.find((c) => c.role === 'order'),
    ingredients: codes
      .filter((entry) => entry.ingredient !== undefined)
      .sort((a, b) => b.ingredient!.length - a.ingredient!.length)
      .map((entry) => ({ entry, word: entry.ingredient!.toLowerCase() })),
  };
  codes.forEach((entry, at) => {
    if (entry.matchByCode === false) return;
    const code = normalise(entry.code);
    if (entry.match === 'prefix') {
      const list = index.prefixes.get(entry.system) ?? [];
      list.push({ code, at });
      index.prefixes.set(entry.system, list);
    } else {
      let byCode = index.exact.get(entry.system);
      if (byCode === undefined) index.exact.set(entry.system, (byCode = new Map()));
      if (!byCode.has(code)) byCode.set(code, at);
    }
  });
  byList.set(listId, index);
  return index;
}

/** The list entry a Coding matches, if any (the first in list order). Entries with `matchByCode: false` only match by name. */
export function findCodeEntry(
  kb: KnowledgeBase,
  listId: CodeListId,
  coding: Coding | undefined,
): CodeEntry | undefined {
  if (typeof coding?.system !== 'string' || typeof coding.code !== 'string') return undefined;
  const code = normalise(coding.code);
  const index = listIndex(kb, listId);
  let at = index.exact.get(coding.system)?.get(code) ?? Number.POSITIVE_INFINITY;
  for (const prefix of index.prefixes.get(coding.system) ?? []) {
    if (prefix.at >= at) break;
    if (code.startsWith(prefix.code)) at = prefix.at;
  }
  return Number.isFinite(at) ? kb.codeLists[listId].codes[at] : undefined;
}

/** The first list entry any coding of the concept matches. */
export function findConceptEntry(
  kb: KnowledgeBase,
  listId: CodeListId,
  concept: CodeableConcept | undefined,
): CodeEntry | undefined {
  for (const coding of concept?.coding ?? []) {
    const entry = findCodeEntry(kb, listId, coding);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

/** The list entry whose `ingredient` name occurs in the concept's text or displays (medications). */
export function findIngredientEntry(
  kb: KnowledgeBase,
  listId: CodeListId,
  concept: CodeableConcept | undefined,
): CodeEntry | undefined {
  const texts = [concept?.text, ...(concept?.coding ?? []).map((c) => c.display)]
    .filter((t): t is string => typeof t === 'string')
    .map((t) => t.toLowerCase());
  if (texts.length === 0) return undefined;
  // Whole words only, longest ingredient first: "methylprednisolone 4 mg" is methylprednisolone, never
  // prednisolone, and "zoledronic acid" is not matched by a text that merely contains "zoledron".
  // (The candidates are sorted once per list, in the list index.)
  return listIndex(kb, listId).ingredients.find((c) => texts.some((t) => containsWord(t, c.word)))?.entry;
}

const LETTER = /\p{L}/u;

/** Whether `text` contains `word` delimited by non-letters (or the text's ends). */
export function containsWord(text: string, word: string): boolean {
  let from = 0;
  for (;;) {
    const at = text.indexOf(word, from);
    if (at < 0) return false;
    const before = at === 0 ? '' : text[at - 1]!;
    const after = text[at + word.length] ?? '';
    if (!LETTER.test(before) && !LETTER.test(after)) return true;
    from = at + 1;
  }
}

/** The entry of a list marked `role: order` for a system: the code a suggested order uses. */
export function orderCode(kb: KnowledgeBase, listId: CodeListId): CodeEntry {
  const entry = listIndex(kb, listId).orderEntry;
  if (entry === undefined) throw new Error(`code list ${listId} has no entry with role order`);
  return entry;
}
