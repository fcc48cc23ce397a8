/**
 * Writes the CDS Hooks 3.0 override-reason ValueSet and its ConceptMap to the non-adherence reason codes
 * into fhir-profiles/cds-hooks/ (separate from the SUSHI-generated resources, which scripts/build-profiles.ts
 * owns). Usage: tsx scripts/build-override-reasons.ts [--check]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { overrideReasonsConceptMap, overrideReasonsValueSet } from '../src/cds/override-reasons.js';
import { loadKnowledgeBase } from '../src/knowledge/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const CDS_HOOKS_PROFILES_DIR = join(ROOT, 'fhir-profiles', 'cds-hooks');

/** The files and their expected content (JSON, 2-space indent, trailing newline). */
export function overrideReasonFiles(): Record<string, string> {
  const kb = loadKnowledgeBase({ dir: join(ROOT, 'cds-services') });
  const text = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  return {
    [join(CDS_HOOKS_PROFILES_DIR, 'ValueSet-override-reasons-cds-hooks.json')]: text(
      overrideReasonsValueSet(kb),
    ),
    [join(CDS_HOOKS_PROFILES_DIR, 'ConceptMap-override-reasons-to-non-adherence.json')]: text(
      overrideReasonsConceptMap(kb),
    ),
  };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const check = process.argv.includes('--check');
  let stale = 0;
  for (const [path, content] of Object.entries(overrideReasonFiles())) {
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        /* missing counts as stale */
      }
      if (current !== content) {
        console.error(`stale: ${path}`);
        stale += 1;
      }
    } else writeFileSync(path, content);
  }
  process.exit(stale === 0 ? 0 : 1);
}
