/**
 * Issue 9, "one tolerant reading": a defect inside an otherwise readable prefetch resource is not a
 * request problem. The element (or the resource it makes unusable) is dropped with a recorded reason, the
 * advice is still given from the rest, and the card says that data was left out, by resource type and
 * count, never with resource ids. A prefetch value that is not a resource is still a 400 naming the path.
 */
import { randomUUID } from 'node:crypto';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsCard } from '../../src/cds/types.js';
import { createServices } from '../../src/services/index.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { scenarioHookBody } from '../rules/scenario-harness.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const SCENARIO = 'lumbar-ct-hu-low-and-vbq-above-critical';

interface Entry {
  resource: Record<string, unknown>;
}
interface HookBody {
  hook: string;
  hookInstance: string;
  context: Record<string, unknown>;
  prefetch: Record<string, { entry?: Entry[] } | null>;
}

describe('malformed elements in the prefetch are left out, and the card says so', () => {
  let svc: TestService;
  let base: HookBody;
  let patientId: string;

  beforeAll(async () => {
    const scenario = scenarioHookBody(SCENARIO);
    base = scenario.body as HookBody;
    patientId = base.context.patientId as string;
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: createServices(shippedKnowledgeBase()),
      now: () => scenario.now,
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
  });

  async function cardsFor(body: HookBody): Promise<CdsCard[]> {
    const res = await svc.post(SIGN, { ...body, hookInstance: randomUUID() });
    const text = await res.text();
    expect(res.status, text.slice(0, 300)).toBe(200);
    return (JSON.parse(text) as { cards: CdsCard[] }).cards;
  }

  it('the unmutated scenario mentions nothing left out', async () => {
    const cards = await cardsFor(base);
    expect(cards.length).toBeGreaterThan(0);
    for (const card of cards) expect(card.detail ?? '').not.toContain('Left out');
  });

  it('a Condition whose code is a number and an Observation whose value is text: 200, advice kept, named by type', async () => {
    const body = structuredClone(base);
    const conditions = body.prefetch.conditions!;
    conditions.entry = [
      ...(conditions.entry ?? []),
      {
        resource: {
          resourceType: 'Condition',
          id: 'broken-condition-7731',
          subject: { reference: `Patient/${patientId}` },
          code: 22630,
        },
      },
    ];
    const dxa = body.prefetch.dxa ?? { entry: [] };
    body.prefetch.dxa = {
      ...dxa,
      entry: [
        ...(dxa.entry ?? []),
        {
          resource: {
            resourceType: 'Observation',
            id: 'broken-dxa-8842',
            status: 'final',
            subject: { reference: `Patient/${patientId}` },
            code: { coding: [{ system: 'http://loinc.org', code: '38267-1' }] },
            effectiveDateTime: '2026-01-05',
            valueQuantity: { value: 'minus two point seven' },
          },
        },
      ],
    };
    const baseline = await cardsFor(base);
    const cards = await cardsFor(body);
    // The advice from the readable data stands: same topics and indicators.
    expect(cards.map((c) => [c.indicator, c.summary])).toEqual(baseline.map((c) => [c.indicator, c.summary]));
    const detail = cards.map((c) => c.detail ?? '').join('\n');
    expect(detail).toMatch(/Left out as unreadable or unusable: [^.]*1 Condition/);
    expect(detail).toMatch(/Left out as unreadable or unusable: [^.]*1 Observation/);
    // Never a resource id on a card.
    expect(JSON.stringify(cards)).not.toMatch(/broken-condition-7731|broken-dxa-8842/);
  });

  it('a prefetch value that is not a resource is still a 400 naming the path', async () => {
    const body = structuredClone(base) as unknown as { prefetch: Record<string, unknown> };
    body.prefetch.conditions = 'Condition?patient=1';
    const res = await svc.post(SIGN, { ...body, hookInstance: randomUUID() });
    expect(res.status).toBe(400);
    const outcome = (await res.json()) as OperationOutcome;
    expect(JSON.stringify(outcome)).toContain('prefetch.conditions');
  });
});
