/**
 * JSON Schemas of the knowledge-base files, generated from the zod schemas (the single source), for
 * editors and for hospitals writing an overrides file. Cross-file rules (references exist, one primary
 * cutoff per role) are checked only by `loadKnowledgeBase`.
 */
import { z } from 'zod';
import {
  clinicalDataFileSchema,
  codeListsFileSchema,
  cutoffsFileSchema,
  decisionPointsFileSchema,
  overridesFileSchema,
  referencesFileSchema,
} from './schema.js';

/** File name -> JSON Schema, as committed under `cds-services/schema/`. */
export function knowledgeJsonSchemas(): Record<string, unknown> {
  const schema = (s: z.ZodType, id: string, title: string): unknown => ({
    ...z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }),
    $id: `https://spine-bone-health-cds.org/schema/${id}`,
    title,
  });
  return {
    'clinical-data.schema.json': schema(
      clinicalDataFileSchema,
      'clinical-data.schema.json',
      'Clinical data: Z-score rule, glucocorticoid exposure, treatment intervals, renal limits, VBQ norms',
    ),
    'code-lists.schema.json': schema(
      codeListsFileSchema,
      'code-lists.schema.json',
      'Code lists (value sets)',
    ),
    'cutoffs.schema.json': schema(cutoffsFileSchema, 'cutoffs.schema.json', 'Published bone-quality cutoffs'),
    'decision-points.schema.json': schema(
      decisionPointsFileSchema,
      'decision-points.schema.json',
      'Decision points, parameters, caveats',
    ),
    'references.schema.json': schema(referencesFileSchema, 'references.schema.json', 'Literature references'),
    'overrides.schema.json': schema(
      overridesFileSchema,
      'overrides.schema.json',
      'Hospital overrides (KNOWLEDGE_OVERRIDES_FILE)',
    ),
  };
}
