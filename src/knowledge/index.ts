export { loadKnowledgeBase, KnowledgeBaseError, KNOWLEDGE_FILES } from './load.js';
export type { KnowledgeBase, CodeList, LoadKnowledgeBaseOptions } from './load.js';
export * from './codes.js';
export * from './schema.js';
