/**
 * Writes cds-services/schema/*.schema.json from the zod schemas. Run after changing src/knowledge/schema.ts:
 * `npx tsx test/knowledge/generate-json-schemas.ts && npx prettier --write cds-services/schema`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { knowledgeJsonSchemas } from '../../src/knowledge/json-schema.js';

const dir = path.resolve(import.meta.dirname, '../../cds-services/schema');
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(knowledgeJsonSchemas())) {
  writeFileSync(path.join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
}
console.log(`wrote ${Object.keys(knowledgeJsonSchemas()).length} schemas to ${dir}`);
