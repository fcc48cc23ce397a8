/** DXA results in the shapes EHRs store them in (issue 10: reading). */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractFacts } from '../../src/fhir/facts/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const NOW = new Date('2026-11-21T12:00:00Z');
const P = 'p1';
const LOINC = 'http://loinc.org';
const UCUM = 'http://unitsofmeasure.org';
const subject = { reference: `Patient/${P}` };
const searchset = (...resources: unknown[]) => ({
  resourceType: 'Bundle',
  type: 'searchset',
  entry: resources.map((resource) => ({ resource })),
});
const loinc = (code: string) => ({ coding: [{ system: LOINC, code }] });
const q = (value: number, unit: string) => ({ value, unit, system: UCUM, code: unit });

function obs(id: string, code: string, value: number | undefined, unit: string, extra: object = {}) {
  return {
    resourceType: 'Observation',
    id,
    status: 'final',
    code: loinc(code),
    subject,
    effectiveDateTime: '2026-03-01',
    ...(value === undefined ? {} : { valueQuantity: q(value, unit) }),
    ...extra,
  };
}

function dxaFacts(...resources: unknown[]) {
  return extractFacts(kb, {
    patientId: P,
    prefetch: { dxa: searchset(...resources) },
    draftOrders: undefined,
    now: NOW,
  });
}

describe('DXA reading', () => {
  it('reads T-scores per site and side, and their lowest', () => {
    const f = dxaFacts(
      obs('ls', '38267-1', -1.1, '{T-score}'),
      obs('lh', '80946-7', -2.6, '{T-score}'),
      obs('rh', '80945-9', -2.2, '{T-score}'),
    );
    expect(f.dxa.lowest).toMatchObject({
      site: 'total-hip',
      laterality: 'left',
      value: -2.6,
      source: 'Observation/lh',
    });
    expect(f.dxa.recentTScore).toBe(true);
    expect(f.dxa.lumbarOnly).toBe(false);
  });

  it('reads T- and Z-scores given as components of one DXA panel', () => {
    const panel = obs('panel', '83311-1', undefined, '', {
      component: [
        { code: loinc('38267-1'), valueQuantity: q(-2.7, '{T-score}') },
        { code: loinc('85394-5'), valueQuantity: q(-1.9, '{Z-score}') },
        { code: loinc('24966-4'), valueQuantity: q(0.81, 'g/cm2') },
        { code: 'not a concept', valueQuantity: q(-9, '{T-score}') },
      ],
    });
    const f = dxaFacts(panel);
    expect(f.dxa.tScores).toEqual([
      expect.objectContaining({ site: 'lumbar-spine', value: -2.7, source: 'Observation/panel' }),
    ]);
    expect(f.dxa.lowestZ).toMatchObject({ site: 'lumbar-spine', value: -1.9 });
    expect(f.dxa.bmd.map((b) => b.value)).toEqual([0.81]);
    expect(f.dataIssues.map((i) => i.reason)).toContain('component[3].code is not a CodeableConcept');
  });

  it('follows hasMember panels and DiagnosticReport results, contained or elsewhere in the prefetch', () => {
    const member = obs('fn', '80948-3', -2.9, '{T-score}', { effectiveDateTime: undefined });
    const panel = obs('panel', '83311-1', undefined, '', { hasMember: [{ reference: 'Observation/fn' }] });
    const report = {
      resourceType: 'DiagnosticReport',
      id: 'r1',
      status: 'final',
      code: loinc('83311-1'),
      subject,
      effectiveDateTime: '2026-04-02',
      contained: [
        { ...obs('c1', '38265-5', -3.1, '{T-score}'), effectiveDateTime: undefined, subject: undefined },
      ],
      result: [{ reference: '#c1' }, { reference: 'https://ehr.example/fhir/Observation/ls' }],
    };
    const ls = obs('ls', '38267-1', -1.0, '{T-score}', { effectiveDateTime: undefined });
    // The report's member results arrive as included resources of the search.
    const f = extractFacts(kb, {
      patientId: P,
      prefetch: { dxa: searchset(report, panel, member, ls) },
      draftOrders: undefined,
      now: NOW,
    });
    // Site names follow the knowledge base (80948-3 is LOINC's left "Femur" T-score).
    const found = f.dxa.tScores.map((t) => `${t.source}:${t.value}:${t.date}`);
    expect(found).toEqual([
      'Observation/c1:-3.1:2026-04-02',
      'Observation/fn:-2.9:2026-03-01',
      'Observation/ls:-1:2026-04-02',
    ]);
    expect(f.dxa.tScores.map((t) => t.site)).toEqual([
      'forearm',
      expect.stringMatching(/^femor|^femur/),
      'lumbar-spine',
    ]);
    // Reports first: the same results listed before the report in the bundle still inherit its date.
    const reordered = extractFacts(kb, {
      patientId: P,
      prefetch: { dxa: searchset(ls, member, panel, report) },
      draftOrders: undefined,
      now: NOW,
    });
    expect(reordered.dxa.tScores.map((t) => `${t.source}:${t.value}:${t.date}`)).toEqual(found);
  });

  it('counts a BMD-only or Z-only DXA as on record, never as a T-score', () => {
    const bmdOnly = dxaFacts(obs('b', '24966-4', 0.9, 'g/cm2'));
    expect(bmdOnly.dxa).toMatchObject({ recent: true, recentTScore: false, lowest: undefined, tScores: [] });
    expect(bmdOnly.dxa.bmd).toHaveLength(1);
    const zOnly = dxaFacts(obs('z', '80933-5', -2.3, '{Z-score}'));
    expect(zOnly.dxa).toMatchObject({ recent: true, recentTScore: false, lowest: undefined });
    expect(zOnly.dxa.lowestZ).toMatchObject({ site: 'total-hip', value: -2.3 });
  });

  it('drops results whose unit does not fit their kind or whose value is implausible', () => {
    const f = dxaFacts(obs('u', '38267-1', 0.85, 'g/cm2'), obs('r', '38264-8', -45, '{T-score}'));
    expect(f.dxa.tScores).toEqual([]);
    expect(f.dxa.recentTScore).toBe(false);
    expect(f.dataIssues.map((i) => `${i.source}: ${i.reason}`)).toEqual([
      'Observation/u: t-score in unit g/cm2: not used',
      'Observation/r: t-score -45 outside -10..10: not used',
    ]);
  });

  it('ignores entered-in-error and preliminary DXA results', () => {
    const f = dxaFacts(
      obs('e', '38267-1', -3.5, '{T-score}', { status: 'entered-in-error' }),
      obs('p', '38267-1', -3.2, '{T-score}', { status: 'preliminary' }),
    );
    expect(f.dxa.tScores).toEqual([]);
    expect(f.dxa.recent).toBe(false);
  });
});
