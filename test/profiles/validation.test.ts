import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import {
  createProfileValidator,
  defaultResourcesDir,
  readResourcesDir,
  type ProfileValidator,
} from '../../src/demo/profile-validator/validator.js';

const BASE = 'https://spine-bone-health-cds.org/fhir';
const BQ = `${BASE}/CodeSystem/bone-quality`;
const UCUM = 'http://unitsofmeasure.org';

type Json = Record<string, unknown>;
interface Component {
  code: { coding: { system: string; code: string }[] };
  [key: string]: unknown;
}

let validator: ProfileValidator;
const resourcesDir = defaultResourcesDir();

function example(file: string): Json {
  return JSON.parse(readFileSync(join(resourcesDir, file), 'utf8')) as Json;
}

function components(r: Json): Component[] {
  return r['component'] as Component[];
}

function withoutComponent(r: Json, code: string): Json {
  r['component'] = components(r).filter((c) => c.code.coding[0]?.code !== code);
  return r;
}

function errors(r: unknown) {
  return validator.validate(r).filter((i) => i.severity === 'error');
}

beforeAll(() => {
  validator = createProfileValidator();
});

describe('examples', () => {
  const instances = readResourcesDir(resourcesDir).filter(
    (r) =>
      r.resourceType === 'Observation' || r.resourceType === 'ServiceRequest' || r.resourceType === 'Task',
  );

  it('every concrete profile has at least one example', () => {
    const concrete = validator.profiles.filter((url) => !validator.profile(url)?.abstract);
    expect(concrete.length).toBe(7);
    const claimed = new Set(
      instances.flatMap((r) => ((r['meta'] as Json | undefined)?.['profile'] as string[]) ?? []),
    );
    for (const url of concrete) expect(claimed, url).toContain(url);
  });

  it.each(instances.map((r) => [String(r['id']), r] as const))('%s validates', (_id, resource) => {
    expect(validator.validate(resource)).toEqual([]);
  });
});

describe('broken bone-quality Observations fail with the expected issue', () => {
  const lumbar = 'Observation-vbq-lumbar-example.json';
  const cases: { name: string; file?: string; mutate: (r: Json) => void; code: string; text: RegExp }[] = [
    {
      name: 'missing CSF SI component',
      mutate: (r) => withoutComponent(r, 'csf-si'),
      code: 'structure',
      text: /csfSi/,
    },
    {
      name: 'missing CSF level',
      mutate: (r) => withoutComponent(r, 'csf-level'),
      code: 'structure',
      text: /csfLevel/,
    },
    {
      name: 'missing sequence',
      mutate: (r) => withoutComponent(r, 'sequence'),
      code: 'structure',
      text: /sequence/,
    },
    {
      name: 'missing field strength',
      mutate: (r) => withoutComponent(r, 'field-strength'),
      code: 'structure',
      text: /fieldStrength/,
    },
    {
      name: 'no per-level SI',
      mutate: (r) => {
        r['component'] = components(r).filter((c) => !c.code.coding[0]?.code.startsWith('si-'));
      },
      code: 'invariant',
      text: /bq-lumbar-level/,
    },
    {
      name: 'cervical level in a lumbar VBQ',
      mutate: (r) => {
        components(r).push({
          code: { coding: [{ system: BQ, code: 'si-c3' }] },
          valueQuantity: { value: 300, unit: '1', system: UCUM, code: '1' },
        });
      },
      code: 'structure',
      text: /siC3/,
    },
    {
      name: 'component code outside the bone-quality components',
      mutate: (r) => {
        components(r).push({ code: { coding: [{ system: BQ, code: 'si-t12' }] }, valueString: 'x' });
      },
      code: 'code-invalid',
      text: /bone-quality-components/,
    },
    {
      name: 'wrong metric code',
      mutate: (r) => {
        (r['code'] as Component['code']).coding[0]!.code = 'ebq';
      },
      code: 'structure',
      text: /pattern/,
    },
    {
      name: 'missing identifier',
      mutate: (r) => delete r['identifier'],
      code: 'structure',
      text: /Missing required/,
    },
    {
      name: 'identifier not a sha256',
      mutate: (r) => {
        (r['identifier'] as Json[])[0]!['value'] = 'not-a-hash';
      },
      code: 'invariant',
      text: /bq-identifier-sha256/,
    },
    {
      name: 'preliminary status',
      mutate: (r) => (r['status'] = 'preliminary'),
      code: 'code-invalid',
      text: /bone-quality-observation-status/,
    },
    {
      name: 'missing derivedFrom',
      mutate: (r) => delete r['derivedFrom'],
      code: 'invariant',
      text: /bq-derived-from-study/,
    },
    {
      name: 'derivedFrom without the ImagingStudy',
      mutate: (r) => {
        r['derivedFrom'] = (r['derivedFrom'] as Json[]).slice(1);
      },
      code: 'invariant',
      text: /bq-derived-from-study/,
    },
    {
      name: 'derivedFrom identifier not a urn:oid',
      mutate: (r) => {
        ((r['derivedFrom'] as Json[])[0]!['identifier'] as Json)['value'] = '1.2.3';
      },
      code: 'invariant',
      text: /bq-derived-from-dicom-uid/,
    },
    {
      name: 'value not in UCUM 1',
      mutate: (r) => {
        (r['valueQuantity'] as Json)['code'] = 'mg';
      },
      code: 'structure',
      text: /pattern/,
    },
    {
      name: 'category not imaging',
      mutate: (r) => {
        r['category'] = [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
            ],
          },
        ];
      },
      code: 'structure',
      text: /imaging/,
    },
    {
      name: 'missing subject',
      mutate: (r) => delete r['subject'],
      code: 'structure',
      text: /Missing required/,
    },
    {
      name: 'subject not a Patient',
      mutate: (r) => (r['subject'] = { reference: 'Group/g1' }),
      code: 'structure',
      text: /Group/,
    },
    {
      name: 'field strength with neither value nor reason',
      mutate: (r) => {
        delete components(r).find((c) => c.code.coding[0]?.code === 'field-strength')!['valueQuantity'];
      },
      code: 'invariant',
      text: /bq-component-value-or-absent/,
    },
    {
      name: 'field strength absent for a reason outside data-absent-reason',
      file: 'Observation-vbq-lumbar-example-excluded-level.json',
      mutate: (r) => {
        const fs = components(r).find((c) => c.code.coding[0]?.code === 'field-strength')!;
        fs['dataAbsentReason'] = {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason', code: 'forgot' }],
        };
      },
      code: 'code-invalid',
      text: /data-absent-reason/,
    },
    {
      name: 'base R4 binding inside a datatype (Quantity.comparator)',
      mutate: (r) => {
        (r['valueQuantity'] as Json)['comparator'] = '~';
      },
      code: 'code-invalid',
      text: /quantity-comparator/,
    },
    {
      name: 'claims the abstract base profile',
      mutate: (r) => {
        r['meta'] = { profile: [`${BASE}/StructureDefinition/bone-quality-observation`] };
      },
      code: 'structure',
      text: /abstract/,
    },
    {
      name: 'claims an unknown profile of ours',
      mutate: (r) => {
        r['meta'] = { profile: [`${BASE}/StructureDefinition/vbq-thoracic`] };
      },
      code: 'not-supported',
      text: /unknown profile/,
    },
    { name: 'unknown property', mutate: (r) => (r['vbq'] = 3), code: 'structure', text: /vbq/ },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const resource = example(c.file ?? lumbar);
    expect(errors(resource)).toEqual([]);
    c.mutate(resource);
    const found = errors(resource);
    expect(found.length, JSON.stringify(found)).toBeGreaterThan(0);
    expect(
      found.some((i) => i.code === c.code && c.text.test(`${i.path} ${i.message}`)),
      JSON.stringify(found),
    ).toBe(true);
  });

  it('the CT HU profile requires HU units and the ct-hu-l1 code', () => {
    const ct = example('Observation-ct-hu-l1-example.json');
    (ct['valueQuantity'] as Json)['code'] = '1';
    expect(errors(ct).some((i) => /pattern/.test(i.message))).toBe(true);
    const ct2 = example('Observation-ct-hu-l1-example.json');
    (ct2['code'] as Component['code']).coding[0]!.code = 'vbq-l1-l4';
    expect(errors(ct2).length).toBeGreaterThan(0);
  });

  it('each VBQ-family profile enforces its own levels', () => {
    const s1 = withoutComponent(example('Observation-vbq-s1-example.json'), 'si-s1');
    expect(errors(s1).some((i) => /siS1/.test(i.message))).toBe(true);
    const cvbq = example('Observation-c-vbq-example.json');
    components(cvbq).push({
      code: { coding: [{ system: BQ, code: 'si-l2' }] },
      valueQuantity: { value: 1, unit: '1', system: UCUM, code: '1' },
    });
    expect(errors(cvbq).some((i) => /siL2/.test(i.message))).toBe(true);
    const ebq = example('Observation-ebq-example.json');
    ebq['component'] = components(ebq).filter((c) => !c.code.coding[0]?.code.startsWith('si-'));
    expect(errors(ebq).some((i) => /bq-endplate-level/.test(i.message))).toBe(true);
  });
});

describe('broken ServiceRequests fail with the expected issue', () => {
  const dxa = 'ServiceRequest-service-request-dxa-example.json';
  const cases: { name: string; mutate: (r: Json) => void; code: string; text: RegExp }[] = [
    {
      name: 'code outside the bone-health orders',
      mutate: (r) => (r['code'] = { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '22630' }] }),
      code: 'code-invalid',
      text: /bone-health-orders/,
    },
    {
      name: 'code as text only',
      mutate: (r) => (r['code'] = { text: 'DXA please' }),
      code: 'code-invalid',
      text: /text alone/,
    },
    { name: 'missing code', mutate: (r) => delete r['code'], code: 'structure', text: /Missing required/ },
    { name: 'status active', mutate: (r) => (r['status'] = 'active'), code: 'structure', text: /pattern/ },
    { name: 'intent plan', mutate: (r) => (r['intent'] = 'plan'), code: 'structure', text: /pattern/ },
    { name: 'missing requester', mutate: (r) => delete r['requester'], code: 'structure', text: /requester/ },
    {
      name: 'requester a Patient',
      mutate: (r) => (r['requester'] = { reference: 'Patient/p1' }),
      code: 'structure',
      text: /reference to Patient/,
    },
    {
      name: 'missing authoredOn',
      mutate: (r) => delete r['authoredOn'],
      code: 'structure',
      text: /authoredOn/,
    },
    {
      name: 'missing reasonCode',
      mutate: (r) => delete r['reasonCode'],
      code: 'structure',
      text: /reasonCode/,
    },
    {
      name: 'empty reasonCode',
      mutate: (r) => (r['reasonCode'] = [{ id: 'r1' }]),
      code: 'invariant',
      text: /bhsr-reason-text-or-coding/,
    },
    { name: 'missing subject', mutate: (r) => delete r['subject'], code: 'structure', text: /subject/ },
  ];

  it.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const resource = example(dxa);
    expect(errors(resource)).toEqual([]);
    c.mutate(resource);
    const found = errors(resource);
    expect(
      found.some((i) => i.code === c.code && c.text.test(`${i.path} ${i.message}`)),
      JSON.stringify(found),
    ).toBe(true);
  });

  it('accepts every code of the composed order value set', () => {
    const codes = [
      { system: 'http://www.ama-assn.org/go/cpt', code: '77080' },
      { system: 'http://snomed.info/sct', code: '183515008' },
      { system: 'http://loinc.org', code: '62292-8' },
    ];
    for (const coding of codes) {
      const resource = example(dxa);
      resource['code'] = { coding: [coding] };
      expect(errors(resource), coding.code).toEqual([]);
    }
  });
});

describe('base R4 resources (what the embedded FHIR server stores)', () => {
  const patient = {
    resourceType: 'Patient',
    id: 'p1',
    name: [{ use: 'official', family: 'Test', given: ['Pat'] }],
    gender: 'female',
    birthDate: '1955-04-01',
    telecom: [{ system: 'phone', value: '555-0100', use: 'home' }],
    address: [{ use: 'home', city: 'Springfield' }],
  };
  const condition = {
    resourceType: 'Condition',
    id: 'c1',
    clinicalStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
    },
    verificationStatus: {
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'confirmed' }],
    },
    code: { coding: [{ system: 'http://snomed.info/sct', code: '55822004', display: 'Hyperlipidemia' }] },
    subject: { reference: 'Patient/p1' },
  };
  const medicationRequest = {
    resourceType: 'MedicationRequest',
    id: 'm1',
    status: 'active',
    intent: 'order',
    medicationCodeableConcept: {
      coding: [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '8640' }],
    },
    subject: { reference: 'Patient/p1' },
    authoredOn: '2025-01-02',
    dosageInstruction: [{ timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } } }],
  };

  it('valid resources pass, including inside a searchset Bundle', () => {
    for (const r of [patient, condition, medicationRequest])
      expect(validator.validate(r), r.resourceType).toEqual([]);
    const bundle = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: [{ resource: condition, search: { mode: 'match' } }],
    };
    expect(validator.validate(bundle)).toEqual([]);
  });

  it('required bindings of base R4 are enforced, also inside bundle entries and datatypes', () => {
    const badCondition = structuredClone(condition);
    badCondition.clinicalStatus.coding[0]!.code = 'ongoing';
    expect(errors(badCondition).some((i) => /condition-clinical/.test(i.message))).toBe(true);
    const bundle = { resourceType: 'Bundle', type: 'searchset', entry: [{ resource: badCondition }] };
    expect(errors(bundle).some((i) => i.path === 'Bundle.entry[0].resource.clinicalStatus')).toBe(true);
    const badPatient = structuredClone(patient);
    badPatient.telecom[0]!.system = 'pager-ish';
    expect(errors(badPatient).some((i) => i.path === 'Patient.telecom[0].system')).toBe(true);
    const badTiming = structuredClone(medicationRequest);
    badTiming.dosageInstruction[0]!.timing.repeat.periodUnit = 'fortnight';
    expect(errors(badTiming).some((i) => /periodUnit/.test(i.path))).toBe(true);
  });

  it('rejects non-resources and unknown resource types', () => {
    expect(errors('x')[0]?.code).toBe('structure');
    expect(errors({ resourceType: 'Pokemon' })[0]?.message).toMatch(/unknown resourceType/);
  });

  it('ignores profiles of other publishers but still applies base R4', () => {
    const r = {
      ...patient,
      meta: { profile: ['http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient'] },
    };
    expect(validator.validate(r)).toEqual([]);
  });
});

describe('assertValid', () => {
  it('passes a valid resource and throws invalid-resource listing the issues otherwise', () => {
    expect(() => validator.assertValid(example('Observation-vbq-s1-example.json'))).not.toThrow();
    const broken = withoutComponent(example('Observation-vbq-s1-example.json'), 'csf-si');
    let caught: unknown;
    try {
      validator.assertValid(broken);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AppError);
    const appError = caught as AppError;
    expect(appError.code).toBe('invalid-resource');
    expect(appError.status).toBe(400);
    expect(appError.details.some((d) => /csfSi/.test(d))).toBe(true);
  });
});
