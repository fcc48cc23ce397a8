/**
 * How the knowledge base's numbers and references are written in text, the same wherever they appear:
 * in the cutoffs' labels (src/rules/cutoffs.ts) and in the cards' wording (src/cards/).
 */
import type { KnowledgeBase } from './load.js';
import type { Reference } from './schema.js';

/**
 * Texts of numbers already written: a card writes the same few thresholds and values many times, and
 * toFixed + String was the largest self time of the wording. Bounded; a Map treats 0 and -0 as one key,
 * and both read "0".
 */
const written = new Map<number, string>();

/** A number as published: no trailing zeros, at most three decimals. */
export function num(value: number): string {
  let text = written.get(value);
  if (text === undefined) {
    text = String(Number(value.toFixed(3)));
    if (written.size >= 1024) written.clear();
    written.set(value, text);
  }
  return text;
}

/** Short names by reference (the knowledge base's references never change once loaded). */
const shortNames = new WeakMap<Reference, string>();

/** "Hu 2022": the reference's short name, else the first author's surname and the year. */
export function shortReference(ref: Reference): string {
  if (ref.short !== undefined) return ref.short;
  let short = shortNames.get(ref);
  if (short === undefined) {
    const name = ref.authors.split(/[ ,]/)[0] ?? ref.authors;
    short = `${name} ${ref.year}`;
    shortNames.set(ref, short);
  }
  return short;
}

/** The short name of a cited reference by id (the id itself when the knowledge base has none). */
export function shortCitation(kb: KnowledgeBase, refId: string): string {
  const ref = kb.references[refId];
  return ref === undefined ? refId : shortReference(ref);
}
