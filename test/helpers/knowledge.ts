/** The shipped knowledge base, loaded once per test file. */
import path from 'node:path';
import { loadKnowledgeBase, type KnowledgeBase } from '../../src/knowledge/index.js';
import { prefetchTemplates } from '../../src/services/prefetch-keys.js';

let cached: KnowledgeBase | undefined;

export function shippedKnowledgeBase(): KnowledgeBase {
  cached ??= loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
  return cached;
}

export function shippedPrefetchTemplates(): Record<string, string> {
  return prefetchTemplates(shippedKnowledgeBase());
}
