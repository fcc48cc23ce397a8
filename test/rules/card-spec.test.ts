/** The card checker itself must be able to fail: each rule is shown to catch a broken card. */
import { describe, expect, it } from 'vitest';
import type { CdsCard } from '../../src/cds/types.js';
import { cardProblems, r4Problems } from '../helpers/card-spec.js';

const good: CdsCard = {
  uuid: '8ac9afd4-949c-5445-916f-e3f244e2c898',
  summary: 'VBQ 3.42 above the 3.28 TLIF cage subsidence cutoff: bone-health workup advised',
  indicator: 'warning',
  source: { label: 'Spine bone-health CDS', url: 'https://spine-bone-health-cds.org' },
  overrideReasons: [
    { system: 'https://x.org/cs', code: 'urgent-surgery', display: 'Urgent or emergent surgery' },
  ],
  links: [{ label: 'Hu 2022', url: 'https://doi.org/10.3171/x', type: 'absolute' }],
  selectionBehavior: 'any',
  suggestions: [
    {
      label: 'Order DXA',
      uuid: '1b4deb5f-f154-50c4-a45b-db64b7500e0f',
      actions: [
        {
          type: 'create',
          description: 'Order DXA',
          resource: {
            resourceType: 'ServiceRequest',
            status: 'draft',
            intent: 'order',
            code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: '77080' }] },
            subject: { reference: 'Patient/p1' },
          },
        },
      ],
    },
  ],
};

function broken(change: (card: CdsCard & Record<string, unknown>) => void): string[] {
  const card = structuredClone(good) as CdsCard & Record<string, unknown>;
  change(card);
  return cardProblems(card);
}

describe('card spec checker', () => {
  it('accepts a valid card', () => {
    expect(cardProblems(good)).toEqual([]);
  });

  it.each([
    ['empty array', (c: CdsCard & Record<string, unknown>) => (c.links = []), /empty array/],
    ['empty string', (c: CdsCard & Record<string, unknown>) => (c.detail = ''), /empty string/],
    [
      'null',
      (c: CdsCard & Record<string, unknown>) => ((c as Record<string, unknown>).detail = null),
      /is null/,
    ],
    [
      'long summary',
      (c: CdsCard & Record<string, unknown>) => (c.summary = 'x'.repeat(140)),
      /140 characters/,
    ],
    [
      'bad indicator',
      (c: CdsCard & Record<string, unknown>) => (c.indicator = 'hard-stop' as 'info'),
      /indicator/,
    ],
    [
      'no selectionBehavior',
      (c: CdsCard & Record<string, unknown>) => delete c.selectionBehavior,
      /selectionBehavior is required/,
    ],
    [
      'override without display',
      (c: CdsCard & Record<string, unknown>) => delete c.overrideReasons![0]!.display,
      /display is required/,
    ],
    [
      'link type',
      (c: CdsCard & Record<string, unknown>) => (c.links![0]!.type = 'web' as 'absolute'),
      /absolute or smart/,
    ],
    [
      'relative link',
      (c: CdsCard & Record<string, unknown>) => (c.links![0]!.url = '/doi/x'),
      /absolute URL/,
    ],
    [
      'uppercase action',
      (c: CdsCard & Record<string, unknown>) => (c.suggestions![0]!.actions![0]!.type = 'Create' as 'create'),
      /lowercase/,
    ],
    ['no uuid', (c: CdsCard & Record<string, unknown>) => delete c.uuid, /uuid/],
  ])('catches %s', (_name, change, pattern) => {
    expect(broken(change).join('\n')).toMatch(pattern);
  });

  it('catches a suggested resource that is not valid R4', () => {
    const problems = broken((c) => {
      const resource = c.suggestions![0]!.actions![0]!.resource as unknown as Record<string, unknown>;
      delete resource.intent;
      resource.status = 'pending';
    });
    expect(problems.some((p) => p.includes('resource'))).toBe(true);
  });

  it('catches a suggested resource that claims our ServiceRequest profile but breaks it', () => {
    const problems = broken((c) => {
      const resource = c.suggestions![0]!.actions![0]!.resource as unknown as Record<string, unknown>;
      resource.meta = {
        profile: ['https://spine-bone-health-cds.org/fhir/StructureDefinition/bone-health-service-request'],
      };
    });
    // No requester, authoredOn or reasonCode: all required by the profile.
    expect(problems.filter((p) => p.includes('resource')).length).toBeGreaterThan(0);
    expect(broken(() => undefined)).toEqual([]);
  });

  it('validates R4 resources with Medplum (required element missing)', () => {
    expect(r4Problems({ resourceType: 'ServiceRequest' } as never).length).toBeGreaterThan(0);
    expect(
      r4Problems({
        resourceType: 'ServiceRequest',
        status: 'draft',
        intent: 'order',
        subject: { reference: 'Patient/p' },
      } as never),
    ).toEqual([]);
  });
});
