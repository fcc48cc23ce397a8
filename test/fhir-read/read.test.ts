/** The tolerant reading layer: what is dropped, what is recorded, and which request problems are 400s. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractFacts, spineProcedureOrders } from '../../src/fhir/facts/index.js';
import {
  draftOrdersProblems,
  IssueLog,
  prefetchProblems,
  readCodeableConcept,
  readDateTime,
  readDraftOrders,
  requestProblems,
} from '../../src/fhir/read/index.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { CPT, draftOrder, dxaT, score } from '../fixtures/scenarios/builders.js';

const kb = loadKnowledgeBase({ dir: path.resolve(import.meta.dirname, '../../cds-services') });
const NOW = new Date('2026-11-21T12:00:00Z');
const P = 'p1';
const searchset = (...entry: unknown[]) => ({ resourceType: 'Bundle', type: 'searchset', entry });
const messages = (issues: { source: string; reason: string }[]) =>
  issues.map((i) => `${i.source}: ${i.reason}`);

describe('readCodeableConcept', () => {
  it('keeps clean codings and records what it drops', () => {
    const log = new IssueLog();
    const site = { log, source: 'Observation/x' };
    expect(readCodeableConcept(site, 5, 'code')).toBeUndefined();
    expect(
      readCodeableConcept(site, { coding: [null, { system: 7, code: 'a', display: {} }], text: 3 }, 'code'),
    ).toEqual({ coding: [{ code: 'a' }] });
    expect(readCodeableConcept(site, { coding: 'x', text: 'Hip' }, 'code')).toEqual({
      coding: [],
      text: 'Hip',
    });
    expect(messages(log.issues)).toEqual([
      'Observation/x: code is not a CodeableConcept',
      'Observation/x: code.coding[0] is not a Coding',
      'Observation/x: code.coding is not an array',
    ]);
  });

  it('caps the recorded issues', () => {
    const log = new IssueLog();
    for (let i = 0; i < 150; i += 1) log.add('Observation/x', `issue ${i}`);
    const list = log.list();
    expect(list).toHaveLength(101);
    expect(list[100]!.reason).toBe('50 further data issue(s) not listed');
  });
});

describe('readDateTime', () => {
  it('accepts FHIR dates and refuses year 0000, impossible days and free text', () => {
    expect(readDateTime('2026')).toBe('2026');
    expect(readDateTime('2026-05')).toBe('2026-05');
    expect(readDateTime('2026-02-28T10:00:00+01:00')).toBe('2026-02-28T10:00:00+01:00');
    expect(readDateTime('0000-01-01')).toBeUndefined();
    expect(readDateTime('2026-02-30')).toBeUndefined();
    expect(readDateTime('yesterday')).toBeUndefined();
    expect(readDateTime(20260101)).toBeUndefined();
  });
});

describe('extractFacts on malformed data', () => {
  it('drops a malformed Observation element, keeps its well-formed siblings and says why', () => {
    const good = score('good', P, 'vbq-l1-l4', 3.4, '2026-05-01T00:00:00Z');
    const badCode = { ...score('bad', P, 'vbq-l1-l4', 3.9, '2026-06-01T00:00:00Z'), code: 42 };
    const facts = extractFacts(kb, {
      patientId: P,
      prefetch: {
        boneQuality: searchset(null, { resource: badCode }, { resource: good }, 'x'),
        dxa: {
          resourceType: 'Bundle',
          type: 'searchset',
          entry: { resource: dxaT('d', P, '38267-1', -3, '2026-01-01') },
        },
        conditions: searchset({ resource: { resourceType: 'Condition', id: 'c', code: { coding: 'E11' } } }),
      },
      draftOrders: undefined,
      now: NOW,
    });
    expect(facts.scores.map((s) => s.source)).toEqual(['Observation/good']);
    expect(facts.dxa.lowest).toBeUndefined();
    expect(messages(facts.dataIssues)).toEqual(
      expect.arrayContaining([
        'prefetch.boneQuality: entry[0] is not a Bundle entry',
        'Observation/bad: code is not a CodeableConcept',
        'prefetch.boneQuality: entry[3] is not a Bundle entry',
        'prefetch.dxa: entry is not an array',
        'Condition/c: code.coding is not an array',
      ]),
    );
  });

  it('ignores resources of another patient and records it', () => {
    const facts = extractFacts(kb, {
      patientId: P,
      prefetch: {
        boneQuality: searchset({ resource: score('o', 'someone-else', 'vbq-l1-l4', 3.4, '2026-05-01') }),
      },
      draftOrders: undefined,
      now: NOW,
    });
    expect(facts.scores).toEqual([]);
    expect(messages(facts.dataIssues)).toContain('Observation/o: subject is another patient: not used');
  });

  it('reads a draft order whose coding list holds garbage next to the spine code', () => {
    const order = draftOrder('tlif', P, CPT, '22630', 'TLIF');
    const drafts = {
      resourceType: 'Bundle',
      entry: [null, { resource: { ...order, code: { coding: [5, null, order.code!.coding![0]] } } }],
    };
    const orders = spineProcedureOrders(kb, 'order-sign', drafts);
    expect(orders.map((o) => o.source)).toEqual(['ServiceRequest/tlif']);
    expect(messages(readDraftOrders(drafts).issues.issues)).toEqual([
      'context.draftOrders: entry[0] is not a Bundle entry',
      'ServiceRequest/tlif: code.coding[0] is not a Coding',
      'ServiceRequest/tlif: code.coding[1] is not a Coding',
    ]);
  });
});

describe('request problems (answered 400 by the pipeline)', () => {
  it('names draftOrders that are not a Bundle or hold no readable order', () => {
    expect(draftOrdersProblems('x')).toEqual([
      { path: 'context.draftOrders', message: 'must be a FHIR Bundle' },
    ]);
    expect(draftOrdersProblems({ resourceType: 'Patient' })[0]?.path).toBe(
      'context.draftOrders.resourceType',
    );
    expect(draftOrdersProblems({ resourceType: 'Bundle', entry: {} })[0]?.path).toBe(
      'context.draftOrders.entry',
    );
    expect(draftOrdersProblems({ resourceType: 'Bundle', entry: [null, { resource: 5 }] })).toEqual([
      {
        path: 'context.draftOrders.entry[0]',
        message: 'contains no readable order (each entry needs a resource with a resourceType)',
      },
    ]);
    expect(
      draftOrdersProblems({
        resourceType: 'Bundle',
        entry: [null, { resource: draftOrder('a', P, CPT, '22630', 'TLIF') }],
      }),
    ).toEqual([]);
    expect(draftOrdersProblems({ resourceType: 'Bundle', entry: [] })).toEqual([]);
  });

  it('names prefetch values that are not resources or bundles with a non-array entry', () => {
    expect(
      prefetchProblems({ patient: null, dxa: { resourceType: 'Bundle', entry: 'x' }, ctHu: 5, vitaminD: {} }),
    ).toEqual([
      { path: 'prefetch.dxa.entry', message: 'must be an array' },
      { path: 'prefetch.ctHu', message: 'must be a FHIR resource or null' },
      { path: 'prefetch.vitaminD', message: 'must be a FHIR resource or null' },
    ]);
    expect(requestProblems({ context: { draftOrders: 7 }, prefetch: [] })).toEqual([
      { path: 'context.draftOrders', message: 'must be a FHIR Bundle' },
      { path: 'prefetch', message: 'must be an object' },
    ]);
  });
});
