import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CODE_LIST_IDS,
  KnowledgeBaseError,
  loadKnowledgeBase,
  type KnowledgeBase,
} from '../../src/knowledge/index.js';

const DIR = path.resolve(import.meta.dirname, '../../cds-services');
const temps: string[] = [];

function copyKb(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kb-'));
  temps.push(dir);
  cpSync(DIR, dir, { recursive: true });
  return dir;
}

function edit(dir: string, file: string, change: (data: Record<string, unknown>) => void): void {
  const p = path.join(dir, file);
  const data = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
  change(data);
  writeFileSync(p, JSON.stringify(data));
}

function loadError(options: Parameters<typeof loadKnowledgeBase>[0]): KnowledgeBaseError {
  try {
    loadKnowledgeBase(options);
  } catch (err) {
    expect(err).toBeInstanceOf(KnowledgeBaseError);
    return err as KnowledgeBaseError;
  }
  throw new Error('expected loadKnowledgeBase to throw');
}

afterEach(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('loadKnowledgeBase', () => {
  const kb: KnowledgeBase = loadKnowledgeBase({ dir: DIR });

  it('loads every code list, cutoff and decision point of the shipped knowledge base', () => {
    expect(Object.keys(kb.codeLists).sort()).toEqual([...CODE_LIST_IDS].sort());
    expect(kb.cutoffs.length).toBeGreaterThanOrEqual(24);
    expect(kb.decisionPoints.map((d) => d.id)).toContain('osteoporosis-long-construct');
    expect(kb.version).toMatch(/code-lists \d+\.\d+\.\d+; cutoffs \d+\.\d+\.\d+/);
  });

  it('keeps every published cutoff with its citation and performance', () => {
    const hu = kb.cutoffs.find((c) => c.id === 'vbq-tlif-subsidence-hu-2022');
    expect(hu).toMatchObject({
      threshold: 3.28,
      sensitivity: 0.856,
      specificity: 0.786,
      auc: 0.856,
      region: 'lumbar',
    });
    expect(kb.references[hu!.reference]?.year).toBe(2022);
    const wu = kb.cutoffs.find((c) => c.reference === 'wu-2025');
    expect(kb.references['wu-2025']?.doi).toBe('10.1097/BR9.0000000000000019');
    expect(wu?.npv).toBe(0.91);
    const thresholds = kb.cutoffs.map((c) => `${c.metric}:${c.threshold}`);
    for (const t of [
      'vbq-l1-l4:2.9',
      'vbq-l1-l4:2.95',
      'vbq-l1-l4:3.05',
      'vbq-l1-l4:3.5',
      'ebq:4.7',
      'vbq-l1-l4:3.3',
      'vbq-l1-l4:3.435',
      'ebq:2.318',
      'ebq:5.1',
      'vbq-l1-l4:3.055',
      'vbq-s1:3.175',
      'vbq-l1-l4:2.85',
      'vbq-s1:3.205',
      'vbq-l1-l4:2.91',
      'vbq-l1-l4:3',
      'vbq-l1-l4:3.22',
      'vbq-s1:3.4',
      'c-vbq:2.68',
      'c-vbq:2.92',
      'ebq:2.12',
      'c-vbq:3.445',
      'c-vbq:2.66',
      'c-vbq:2.905',
      'ct-hu-l1:110',
      'ct-hu-l1:160',
      'ct-hu-l1:200',
    ]) {
      expect(thresholds).toContain(t);
    }
  });

  it('keeps codes not checked against a primary source as verified:false, and names source and date of verified ones', () => {
    const code = (list: (typeof CODE_LIST_IDS)[number], c: string) =>
      kb.codeLists[list].codes.find((e) => e.code === c);
    expect(code('spine-surgery-procedures', '22600')?.verified).toBe(false);
    expect(code('spine-surgery-procedures', '55705006')?.verified).toBe(false);
    // A generic SNOMED CT "spinal fusion" does not say the region: it must not select lumbar cutoffs.
    expect(code('spine-surgery-procedures', '55705006')?.matchByCode).toBe(false);
    expect(code('glucocorticoids', '8640')?.verified).toBe(false);
    expect(code('osteoporosis-treatment', '77655')?.verified).toBe(false);
    expect(code('dxa-t-score', '38263-0')).toMatchObject({ verified: true, site: 'femur', kind: 't-score' });
    for (const list of Object.values(kb.codeLists)) {
      for (const entry of list.codes) {
        if (entry.verified) {
          expect(entry.verifiedBy).toBeTruthy();
          expect(entry.checkedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        }
        // A project note is never a source.
        expect(entry.verifiedBy ?? '').not.toMatch(/brief/i);
      }
    }
    for (const entry of kb.codeLists['spine-surgery-procedures'].codes) {
      expect(entry.region).toBeDefined();
      expect(entry.family).toBeDefined();
    }
  });

  it('names the file and the entry when a cutoff is invalid', () => {
    const dir = copyKb();
    edit(dir, 'cutoffs.json', (d) => {
      (d.cutoffs as Record<string, unknown>[])[5]!.threshold = 'high';
    });
    const err = loadError({ dir });
    expect(err.file).toBe(path.join(dir, 'cutoffs.json'));
    expect(err.message).toContain('cutoffs.json');
    expect(err.message).toContain('cutoffs[5] (vbq-tlif-subsidence-hu-2022).threshold');
  });

  it('names the cutoff whose reference is unknown', () => {
    const dir = copyKb();
    edit(dir, 'cutoffs.json', (d) => {
      (d.cutoffs as Record<string, unknown>[])[0]!.reference = 'nobody-1999';
    });
    expect(loadError({ dir }).message).toMatch(
      /cutoffs\.json entry cutoff vbq-osteoporosis-chen-2023: unknown reference "nobody-1999"/,
    );
  });

  it('rejects a second primary cutoff for the same family and metric', () => {
    const dir = copyKb();
    edit(dir, 'cutoffs.json', (d) => {
      const c = (d.cutoffs as Record<string, unknown>[]).find((x) => x.id === 'vbq-tlif-subsidence-ai-2023')!;
      c.primaryFor = ['posterior-interbody'];
    });
    expect(loadError({ dir }).message).toContain('second primary cutoff');
  });

  it('names a code-list entry without a verified source', () => {
    const dir = copyKb();
    edit(dir, 'code-lists.json', (d) => {
      const lists = d.codeLists as Record<string, { codes: Record<string, unknown>[] }>;
      delete lists['dxa-t-score']!.codes[1]!.verifiedBy;
    });
    const err = loadError({ dir });
    expect(err.message).toContain('code-lists.json');
    expect(err.message).toContain('codeLists.dxa-t-score.codes[1] (24966-4).verifiedBy');
  });

  it('names a missing file and a file that is not JSON', () => {
    const dir = copyKb();
    rmSync(path.join(dir, 'references.json'));
    expect(loadError({ dir }).message).toMatch(/references\.json: cannot be read/);
    const dir2 = copyKb();
    writeFileSync(path.join(dir2, 'decision-points.json'), '{ not json');
    expect(loadError({ dir: dir2 }).message).toMatch(/decision-points\.json: is not valid JSON/);
  });

  it('applies a hospital overrides file: replaces a cutoff by id and adds a calibrated one', () => {
    const dir = copyKb();
    const overridesFile = path.join(dir, 'hospital-overrides.json');
    const base = kb.cutoffs.find((c) => c.id === 'vbq-tlif-subsidence-hu-2022')!;
    writeFileSync(
      overridesFile,
      JSON.stringify({
        version: '2026.1.0',
        cutoffs: [
          { ...base, threshold: 3.6, notes: 'local re-derivation' },
          {
            ...base,
            id: 'local-tlif-15t',
            fieldStrengthT: 1.5,
            threshold: 3.9,
            reference: 'local-2026',
            population: 'Our 1.5 T scanners',
          },
        ],
        references: {
          'local-2026': {
            authors: 'Hospital QA team',
            year: 2026,
            title: 'Local VBQ calibration',
            journal: 'internal report',
          },
        },
      }),
    );
    const local = loadKnowledgeBase({ dir, overridesFile });
    expect(local.cutoffs.find((c) => c.id === 'vbq-tlif-subsidence-hu-2022')?.threshold).toBe(3.6);
    expect(local.cutoffs.find((c) => c.id === 'local-tlif-15t')?.fieldStrengthT).toBe(1.5);
    expect(local.overriddenCutoffs.sort()).toEqual(['local-tlif-15t', 'vbq-tlif-subsidence-hu-2022']);
    expect(local.version).toContain('overrides 2026.1.0');
  });

  it('names the overrides file and entry when an override is invalid', () => {
    const dir = copyKb();
    const overridesFile = path.join(dir, 'bad-overrides.json');
    writeFileSync(overridesFile, JSON.stringify({ cutoffs: [{ id: 'local-x', metric: 'vbq-l1-l4' }] }));
    const err = loadError({ dir, overridesFile });
    expect(err.file).toBe(overridesFile);
    expect(err.message).toContain('cutoffs[0] (local-x)');
  });

  it('lists every problem of an overrides file at once, each with its entry', () => {
    const dir = copyKb();
    const overridesFile = path.join(dir, 'bad-overrides.json');
    writeFileSync(
      overridesFile,
      JSON.stringify({
        version: '2026.1.0',
        cutoffs: [
          { id: 'local-a', metric: 'vbq-l1-l4' },
          { id: 'local-b', metric: 'not-a-metric', threshold: 'high' },
        ],
      }),
    );
    const err = loadError({ dir, overridesFile });
    expect(err.file).toBe(overridesFile);
    expect(err.message).toMatch(/\d+ problems:/);
    expect(err.message).toContain('cutoffs[0] (local-a)');
    expect(err.message).toContain('cutoffs[1] (local-b)');
    expect(err.message).not.toContain('more issues');
  });
});

describe('overrides.example.json', () => {
  it('is a valid overrides file', () => {
    const kb = loadKnowledgeBase({ dir: DIR, overridesFile: path.join(DIR, 'overrides.example.json') });
    expect(kb.overriddenCutoffs).toEqual(['local-vbq-tlif-subsidence-1-5t']);
  });
});
