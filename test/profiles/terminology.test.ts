import { describe, expect, it } from 'vitest';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { canonicalUrl, TerminologyIndex } from '../../src/demo/profile-validator/terminology.js';
import { prefixRegex, readCodeLists } from '../../scripts/build-profiles.js';

const BASE = 'https://spine-bone-health-cds.org/fhir';
const ICD = 'http://hl7.org/fhir/sid/icd-10-cm';
const SCT = 'http://snomed.info/sct';

type Definition = { resourceType: string; url: string } & Record<string, unknown>;

function index() {
  const t = new TerminologyIndex();
  const definitions: Definition[] = [
    {
      resourceType: 'CodeSystem',
      url: 'urn:cs:tree',
      content: 'complete',
      concept: [
        { code: 'root', concept: [{ code: 'child', concept: [{ code: 'grandchild' }] }] },
        { code: 'other' },
      ],
    },
    { resourceType: 'CodeSystem', url: 'urn:cs:fragment', content: 'fragment', concept: [{ code: 'a' }] },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:enum',
      compose: { include: [{ system: 'urn:cs:x', concept: [{ code: 'a' }, { code: 'b' }] }] },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:whole',
      compose: {
        include: [{ system: 'urn:cs:tree' }],
        exclude: [{ system: 'urn:cs:tree', concept: [{ code: 'other' }] }],
      },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:isa',
      compose: {
        include: [
          { system: 'urn:cs:tree', filter: [{ property: 'concept', op: 'descendent-of', value: 'root' }] },
        ],
      },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:regex',
      compose: {
        include: [
          { system: ICD, filter: [{ property: 'code', op: 'regex', value: prefixRegex('M80.08X') }] },
        ],
      },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:nested',
      compose: { include: [{ valueSet: ['urn:vs:enum|1.0'] }, { valueSet: ['urn:vs:regex'] }] },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:snomed-isa',
      compose: { include: [{ system: SCT, filter: [{ property: 'concept', op: 'is-a', value: '1' }] }] },
    },
    {
      resourceType: 'ValueSet',
      url: 'urn:vs:fragment',
      compose: { include: [{ system: 'urn:cs:fragment' }] },
    },
    { resourceType: 'ValueSet', url: 'urn:vs:cycle', compose: { include: [{ valueSet: ['urn:vs:cycle'] }] } },
  ];
  t.add(definitions);
  return t;
}

describe('TerminologyIndex', () => {
  const t = index();

  it('enumerated concepts match by system and code; code-typed checks ignore the system', () => {
    expect(t.contains('urn:vs:enum', 'urn:cs:x', 'a')).toBe(true);
    expect(t.contains('urn:vs:enum', 'urn:cs:y', 'a')).toBe(false);
    expect(t.contains('urn:vs:enum', undefined, 'b')).toBe(true);
    expect(t.contains('urn:vs:enum', undefined, 'c')).toBe(false);
  });

  it('a whole complete code system includes nested concepts, minus excludes', () => {
    expect(t.contains('urn:vs:whole', 'urn:cs:tree', 'grandchild')).toBe(true);
    expect(t.contains('urn:vs:whole', 'urn:cs:tree', 'other')).toBe(false);
  });

  it('descendent-of excludes the root itself; is-a over an unknown system is not enumerable', () => {
    expect(t.contains('urn:vs:isa', 'urn:cs:tree', 'grandchild')).toBe(true);
    expect(t.contains('urn:vs:isa', 'urn:cs:tree', 'root')).toBe(false);
    expect(t.contains('urn:vs:snomed-isa', SCT, '1')).toBeUndefined();
  });

  it('prefix regex filters match the whole code', () => {
    expect(prefixRegex('M80.08X')).toBe('^M80[.]08X.*$');
    expect(t.contains('urn:vs:regex', ICD, 'M80.08XA')).toBe(true);
    expect(t.contains('urn:vs:regex', ICD, 'M80.08X')).toBe(true);
    expect(t.contains('urn:vs:regex', ICD, 'M80008XA')).toBe(false);
    expect(t.contains('urn:vs:regex', ICD, 'XM80.08XA')).toBe(false);
  });

  it('nested value sets (with versioned references) are followed', () => {
    expect(canonicalUrl('urn:vs:enum|1.0')).toBe('urn:vs:enum');
    expect(t.contains('urn:vs:nested', 'urn:cs:x', 'a')).toBe(true);
    expect(t.contains('urn:vs:nested', ICD, 'M80.08XD')).toBe(true);
    expect(t.contains('urn:vs:nested', ICD, 'M81.0')).toBe(false);
  });

  it('fragments, unknown and cyclic value sets are not enumerable', () => {
    expect(t.contains('urn:vs:fragment', 'urn:cs:fragment', 'a')).toBeUndefined();
    expect(t.contains('urn:vs:missing', 'urn:cs:x', 'a')).toBeUndefined();
    expect(t.contains('urn:vs:cycle', 'urn:cs:x', 'a')).toBeUndefined();
  });
});

describe('generated ValueSets answer like the code lists', () => {
  const validator = getProfileValidator();
  const lists = readCodeLists();

  it('every exact code is a member; prefix codes admit their descendants', () => {
    for (const [listId, list] of Object.entries(lists.codeLists)) {
      const url = `${BASE}/ValueSet/${listId}`;
      for (const c of list.codes) {
        const probe = c.match === 'prefix' ? `${c.code}9` : c.code;
        expect(validator.valueSetContains(url, c.system, probe), `${listId} ${c.code}`).toBe(true);
      }
      expect(validator.valueSetContains(url, 'urn:not-a-system', list.codes[0]!.code), listId).toBe(false);
    }
  });

  it('card topics and override reasons are enumerable from their CodeSystems', () => {
    expect(
      validator.valueSetContains(
        `${BASE}/ValueSet/card-topics`,
        `${BASE}/CodeSystem/card-topic`,
        'bone-quality-above-cutoff',
      ),
    ).toBe(true);
    expect(
      validator.valueSetContains(`${BASE}/ValueSet/card-topics`, `${BASE}/CodeSystem/card-topic`, 'nope'),
    ).toBe(false);
    for (const code of [
      'evaluated-elsewhere',
      'urgent-surgery',
      'patient-declined',
      'not-clinically-relevant',
    ]) {
      expect(
        validator.valueSetContains(
          `${BASE}/ValueSet/override-reasons`,
          `${BASE}/CodeSystem/override-reason`,
          code,
        ),
      ).toBe(true);
    }
  });
});

describe('imaging refusal reasons', () => {
  it('the vbq-refusal-reason CodeSystem lists exactly the codes the measurement can refuse with', async () => {
    const { REFUSAL_CODES } = await import('../../src/imaging/acquisition.js');
    const { readFileSync } = await import('node:fs');
    const cs = JSON.parse(
      readFileSync(
        new URL(
          '../../fhir-profiles/fsh-generated/resources/CodeSystem-vbq-refusal-reason.json',
          import.meta.url,
        ),
        'utf8',
      ),
    ) as { url: string; concept: { code: string; definition?: string }[] };
    expect(cs.url).toBe('https://spine-bone-health-cds.org/fhir/CodeSystem/vbq-refusal-reason');
    expect(cs.concept.map((c) => c.code).sort()).toEqual([...REFUSAL_CODES].sort());
    for (const c of cs.concept) expect(c.definition, c.code).toBeTruthy();
  });
});
