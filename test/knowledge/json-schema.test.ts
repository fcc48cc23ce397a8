import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { knowledgeJsonSchemas } from '../../src/knowledge/json-schema.js';

describe('committed JSON Schemas', () => {
  it('match the zod schemas they are generated from', () => {
    for (const [name, schema] of Object.entries(knowledgeJsonSchemas())) {
      const file = path.resolve(import.meta.dirname, '../../cds-services/schema', name);
      expect(JSON.parse(readFileSync(file, 'utf8')), `${name} is out of date: regenerate it`).toEqual(schema);
    }
  });
});
