/**
 * Issue 9, property-based (fast-check, seeded, bounded runs): arbitrary JSON thrown at the hook body, at
 * the feedback body and at what a FHIR server answers. Every answer is 200 or 4xx with a JSON body, never a
 * 5xx, and the service stays healthy. The hook uses the real evaluator on a real scenario, so malformed
 * FHIR reaches the same code a hospital's would.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServices } from '../../src/services/index.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenarioHookBody } from '../rules/scenario-harness.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const FEEDBACK = `${SIGN}/feedback`;
const SCENARIO = 'lumbar-ct-hu-low-and-vbq-above-critical';
const RUNS = 120;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Every path (as key lists) inside a JSON value. */
function paths(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...paths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...paths(v, [...prefix, k]));
  return out;
}

/** A copy of `value` with the element at `path` replaced by `replacement` (or removed when undefined). */
function mutate(value: Json, path: (string | number)[], replacement: Json | undefined): Json {
  if (path.length === 0) return replacement ?? null;
  const copy = structuredClone(value) as Record<string | number, Json>;
  let node = copy as Record<string | number, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, Json>;
  const last = path[path.length - 1]!;
  if (replacement === undefined) {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = replacement;
  return copy as Json;
}

let logs: string[] = [];

async function expectJsonAnswer(res: Response): Promise<number> {
  const text = await res.text();
  const unhandled = logs.filter((l) => l.includes('unhandled error')).slice(-1)[0] ?? '';
  expect(res.status, `${text.slice(0, 200)} ${unhandled}`).toBeLessThan(500);
  expect([200, 400, 412, 413, 415, 422, 429]).toContain(res.status);
  expect(() => JSON.parse(text) as unknown).not.toThrow();
  return res.status;
}

const arbitraryJson = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;
/** A replacement: arbitrary JSON, a type confusion a FHIR reader may trip on, or removal. */
const replacement = fc.oneof(
  { weight: 3, arbitrary: arbitraryJson },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Json | undefined>(
      null,
      5,
      '',
      'x',
      [],
      {},
      [null],
      { coding: 5 },
      { coding: [null] },
      { coding: [{ system: 5, code: [] }] },
      { reference: 7 },
      '0000-00-00',
      '9999-99-99T99:99:99Z',
      undefined,
    ),
  },
);

describe('property-based: arbitrary input never makes a 5xx', () => {
  let svc: TestService;
  let base: Json;
  let fhirAnswer: (req: http.IncomingMessage) => { status: number; body: string } = () => ({
    status: 404,
    body: '',
  });
  let fhirServer: http.Server;
  let fhirUrl: string;

  beforeAll(async () => {
    fhirServer = http.createServer((req, res) => {
      const { status, body } = fhirAnswer(req);
      res.writeHead(status, { 'content-type': 'application/fhir+json' });
      res.end(body);
    });
    await new Promise<void>((r) => fhirServer.listen(0, '127.0.0.1', r));
    fhirUrl = `http://127.0.0.1:${(fhirServer.address() as AddressInfo).port}/fhir`;
    const scenario = scenarioHookBody(SCENARIO);
    base = scenario.body as Json;
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: createServices(shippedKnowledgeBase()),
      now: () => scenario.now,
      fhirTimeoutMs: 1000,
      fhirServers: [fhirUrl],
    });
    logs = svc.logs;
    // The unmutated scenario gets its cards: the properties below start from a meaningful request.
    const res = await svc.post(SIGN, { ...(base as object), hookInstance: randomUUID() });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { cards: unknown[] }).cards.length).toBeGreaterThan(0);
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    fhirServer.closeAllConnections();
    await new Promise((r) => fhirServer.close(r));
  });

  it('hook body: arbitrary JSON, and the scenario with any element replaced or removed', async () => {
    const all = paths(base).filter((p) => p[0] !== 'hookInstance');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 1, arbitrary: arbitraryJson.map((body) => ({ body })) },
          {
            weight: 6,
            arbitrary: fc
              .tuple(fc.nat({ max: all.length - 1 }), replacement)
              .map(([i, r]) => ({ body: mutate(base, all[i]!, r) })),
          },
        ),
        async ({ body }) => {
          const sent =
            body !== null && typeof body === 'object' && !Array.isArray(body) && 'hook' in body
              ? { ...body, hookInstance: randomUUID() }
              : body;
          await expectJsonAnswer(await svc.post(SIGN, JSON.stringify(sent)));
        },
      ),
      { numRuns: RUNS, seed: 9_2026, endOnFailure: true },
    );
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
  });

  it('feedback body: arbitrary JSON and mutated valid feedback', async () => {
    const valid: Json = {
      feedback: [
        {
          card: randomUUID(),
          outcome: 'overridden',
          overrideReason: {
            reason: { system: 'https://example.org/override', code: 'already-evaluated' },
            userComment: 'seen elsewhere',
          },
          outcomeTimestamp: '2026-11-21T10:00:00Z',
        },
        {
          card: randomUUID(),
          outcome: 'accepted',
          acceptedSuggestions: [{ id: randomUUID() }],
          outcomeTimestamp: '2026-11-21T10:00:00+01:00',
        },
      ],
    };
    const all = paths(valid);
    const dates = fc.constantFrom<Json>(
      '0000-01-01T00:00:00Z',
      '275760-09-13T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '1899-12-31T23:59:59Z',
      '9999-12-31T23:59:59-14:00',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 1, arbitrary: arbitraryJson },
          {
            weight: 4,
            arbitrary: fc
              .tuple(
                fc.nat({ max: all.length - 1 }),
                fc.oneof(replacement, dates, fc.string({ maxLength: 300 })),
              )
              .map(([i, r]) => mutate(valid, all[i]!, r)),
          },
        ),
        async (body) => {
          await expectJsonAnswer(await svc.post(FEEDBACK, JSON.stringify(body)));
        },
      ),
      { numRuns: RUNS, seed: 9_2027, endOnFailure: true },
    );
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
  });

  it('FHIR server answers: arbitrary JSON, mutated searchsets, arbitrary status codes', async () => {
    const searchset: Json = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: 1,
      entry: [
        {
          resource: {
            resourceType: 'Condition',
            id: 'c1',
            subject: { reference: 'Patient/p1' },
            code: { coding: [{ system: 'http://snomed.info/sct', code: '64859006' }] },
            clinicalStatus: { coding: [{ code: 'active' }] },
          },
        },
      ],
      link: [{ relation: 'self', url: `${fhirUrl}/Condition` }],
    };
    const all = paths(searchset);
    const answer = fc.oneof(
      { weight: 1, arbitrary: arbitraryJson.map((b) => ({ status: 200, body: JSON.stringify(b) })) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 100, max: 599 }), fc.string({ maxLength: 50 }))
          .filter(([s]) => s !== 101 && s !== 204 && s !== 304 && s >= 200)
          .map(([status, body]) => ({ status, body })),
      },
      {
        weight: 4,
        arbitrary: fc
          .tuple(fc.nat({ max: all.length - 1 }), replacement)
          .map(([i, r]) => ({ status: 200, body: JSON.stringify(mutate(searchset, all[i]!, r)) })),
      },
    );
    const { prefetch } = base as { prefetch: Record<string, Json> };
    const partial = { ...prefetch };
    delete partial.conditions;
    delete partial.medicationRequests;
    await fc.assert(
      fc.asyncProperty(answer, async (a) => {
        fhirAnswer = () => a;
        const body = {
          ...(base as object),
          hookInstance: randomUUID(),
          prefetch: partial,
          fhirServer: fhirUrl,
          fhirAuthorization: {
            access_token: 'fuzz-token',
            token_type: 'Bearer',
            expires_in: 300,
            scope: 'patient/*.read',
            subject: 'cds',
            patient: (base as { context: { patientId: string } }).context.patientId,
          },
        };
        await expectJsonAnswer(await svc.post(SIGN, body));
      }),
      { numRuns: RUNS, seed: 9_2028, endOnFailure: true },
    );
    expect((await fetch(`${svc.baseUrl}/healthz`)).status).toBe(200);
    expect(svc.logs.join('')).not.toContain('fuzz-token');
  });
});
