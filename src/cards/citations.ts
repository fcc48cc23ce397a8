/** How cards cite the knowledge base's references: "Hu 2022" in text, a link per cited work. */
import type { CdsLink } from '../cds/types.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { referenceLink, type Reference } from '../knowledge/schema.js';
import { shortReference } from '../knowledge/text.js';

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
    links.push({ label: `${shortReference(ref)}: ${ref.title}`.slice(0, 140), url, type: 'absolute' });
  }
  return links;
}
