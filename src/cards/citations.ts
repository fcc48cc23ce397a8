/** How cards cite the knowledge base's references: "Hu 2022" in text, a link per cited work. */
import type { CdsLink } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { referenceLink, type Reference } from '../knowledge/schema.js';

/** "Hu 2022": the reference's short name, else the first author's surname and the year. */
export function shortCitation(kb: KnowledgeBase, refId: string): string {
  const ref = kb.references[refId];
  if (ref === undefined) return refId;
  return shortOf(ref);
}

/** Short names by reference (the knowledge base's references never change once loaded). */
const shortNames = new WeakMap<Reference, string>();

function shortOf(ref: Reference): string {
  if (ref.short !== undefined) return ref.short;
  let short = shortNames.get(ref);
  if (short === undefined) {
    const name = ref.authors.split(/[ ,]/)[0] ?? ref.authors;
    short = `${name} ${ref.year}`;
    shortNames.set(ref, short);
  }
  return short;
}

/** Where a reader can open the work: DOI, else PubMed, else the publisher's page. */
export function referenceUrl(ref: Reference): string | undefined {
  return referenceLink(ref);
}

/** One `absolute` link per cited work that has an address, in citation order. */
export function citationLinks(kb: KnowledgeBase, refIds: Iterable<string>): CdsLink[] {
  const links: CdsLink[] = [];
  for (const id of new Set(refIds)) {
    const ref = kb.references[id];
    const url = ref === undefined ? undefined : referenceUrl(ref);
    if (ref === undefined || url === undefined) continue;
    links.push({ label: `${shortOf(ref)}: ${ref.title}`.slice(0, 140), url, type: 'absolute' });
  }
  return links;
}
