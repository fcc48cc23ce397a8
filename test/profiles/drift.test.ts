import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildProfiles,
  GENERATED_CODESYSTEMS_FSH,
  GENERATED_VALUESETS_FSH,
  generateCodeSystemFsh,
  generateValueSetFsh,
  prefixRegex,
  PROFILES_DIR,
  readCodeLists,
  readDecisionPointTerms,
} from '../../scripts/build-profiles.js';

const RESOURCES = join(PROFILES_DIR, 'fsh-generated', 'resources');
const BASE = 'https://spine-bone-health-cds.org/fhir';

interface ValueSetJson {
  url: string;
  compose: {
    include: {
      system?: string;
      concept?: { code: string; display?: string }[];
      filter?: { property: string; op: string; value: string }[];
    }[];
  };
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

describe('ValueSets cannot drift from cds-services/code-lists.json', () => {
  const lists = readCodeLists();

  it('the committed generated-valuesets.fsh equals a regeneration from the code lists', () => {
    expect(readFileSync(GENERATED_VALUESETS_FSH, 'utf8')).toBe(generateValueSetFsh(lists));
  });

  it('every committed ValueSet JSON holds exactly the codes of its list', () => {
    for (const [listId, list] of Object.entries(lists.codeLists)) {
      const vs = readJson<ValueSetJson>(join(RESOURCES, `ValueSet-${listId}.json`));
      expect(vs.url).toBe(`${BASE}/ValueSet/${listId}`);
      const actual = vs.compose.include
        .flatMap((inc) => [
          ...(inc.concept ?? []).map((c) => `${inc.system ?? ''}|exact|${c.code}|${c.display ?? ''}`),
          ...(inc.filter ?? []).map((f) => `${inc.system ?? ''}|${f.property} ${f.op}|${f.value}`),
        ])
        .sort();
      const expected = list.codes
        .map((c) =>
          c.match === 'prefix'
            ? `${c.system}|code regex|${prefixRegex(c.code)}`
            : `${c.system}|exact|${c.code}|${c.display}`,
        )
        .sort();
      expect(actual, listId).toEqual(expected);
    }
  });

  it('no ValueSet is left over from a removed list', () => {
    const generated = readFileSync(GENERATED_VALUESETS_FSH, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('Id: '))
      .map((l) => l.slice(4));
    expect(generated.sort()).toEqual(Object.keys(lists.codeLists).sort());
  });
});

describe('card topics and override reasons cannot drift from cds-services/decision-points.json', () => {
  const terms = readDecisionPointTerms();

  it('the committed generated-codesystems.fsh equals a regeneration', () => {
    expect(readFileSync(GENERATED_CODESYSTEMS_FSH, 'utf8')).toBe(generateCodeSystemFsh(terms));
  });

  it('the committed CodeSystem JSON holds exactly the listed codes and displays', () => {
    const pairs: [string, { code: string; display: string }[]][] = [
      ['card-topic', terms.cardTopics],
      ['override-reason', terms.overrideReasons],
    ];
    for (const [id, concepts] of pairs) {
      const cs = readJson<{ url: string; concept: { code: string; display: string }[] }>(
        join(RESOURCES, `CodeSystem-${id}.json`),
      );
      expect(cs.url).toBe(`${BASE}/CodeSystem/${id}`);
      expect(cs.concept.map((c) => [c.code, c.display])).toEqual(concepts.map((c) => [c.code, c.display]));
    }
  });
});

describe('committed SUSHI output equals a fresh build', () => {
  const work = mkdtempSync(join(tmpdir(), 'profiles-drift-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it(
    'rebuilds core package, ValueSets and SUSHI output in a temp dir and compares',
    { timeout: 120_000 },
    async () => {
      const project = join(work, 'project');
      cpSync(join(PROFILES_DIR, 'sushi-config.yaml'), join(project, 'sushi-config.yaml'));
      cpSync(join(PROFILES_DIR, 'input'), join(project, 'input'), { recursive: true });
      const cacheDir = join(work, 'home', '.fhir', 'packages');
      const lines: string[] = [];
      const { resourcesDir } = await buildProfiles({
        projectDir: project,
        cacheDir,
        log: (l) => lines.push(l),
      });

      expect(
        existsSync(
          join(cacheDir, 'hl7.fhir.r4.core#4.0.1', 'package', 'StructureDefinition-Observation.json'),
        ),
      ).toBe(true);
      expect(lines.join('\n')).toMatch(/0 Errors/);
      const fresh = readdirSync(resourcesDir).sort();
      const committed = readdirSync(RESOURCES).sort();
      expect(fresh).toEqual(committed);
      for (const file of fresh) {
        expect(readJson(join(resourcesDir, file)), `${file} differs: run npm run profiles`).toEqual(
          readJson(join(RESOURCES, file)),
        );
      }
      for (const file of fresh.filter((f) => f.startsWith('StructureDefinition-'))) {
        const sd = readJson<{ snapshot?: { element?: unknown[] } }>(join(RESOURCES, file));
        expect(sd.snapshot?.element?.length ?? 0, `${file} has no snapshot`).toBeGreaterThan(0);
      }
    },
  );
});
