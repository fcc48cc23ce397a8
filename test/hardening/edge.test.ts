/**
 * Issue 9: caller mistakes at the body edge are coded 4xx OperationOutcomes, never 500: corrupt or
 * truncated compressed bodies, over-deep JSON, NUL characters, feedback values outside the schema's limits,
 * and values the database refuses (SQLSTATE class 22). Each refusal is logged with its code.
 */
import { randomUUID } from 'node:crypto';
import zlib from 'node:zlib';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseDataError } from '../../src/http/body.js';
import { standInServices } from '../helpers/services.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { orderSignRequest } from '../helpers/requests.js';
import { startTestService, type TestService } from '../helpers/service.js';

const SIGN = '/cds-services/spine-surgery-bone-health';
const FEEDBACK = `${SIGN}/feedback`;

async function expectCode(res: Response, status: number, code: string): Promise<OperationOutcome> {
  const body = (await res.json()) as OperationOutcome;
  expect(res.status, JSON.stringify(body)).toBe(status);
  expect(body.issue[0]?.details?.coding?.[0]?.code).toBe(code);
  return body;
}

function feedback(entry: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    feedback: [
      {
        card: randomUUID(),
        outcome: 'overridden',
        outcomeTimestamp: '2026-11-21T10:00:00Z',
        ...entry,
      },
    ],
  };
}

describe('the body edge', () => {
  let svc: TestService;

  beforeAll(async () => {
    svc = await startTestService({
      store: new Store(await openDb({ dataDir: 'memory://' })),
      services: standInServices(() => []),
    });
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
  });

  it('corrupt or truncated gzip / deflate / br bodies: 400 invalid-encoding', async () => {
    const json = JSON.stringify(orderSignRequest());
    const gz = zlib.gzipSync(json);
    const br = zlib.brotliCompressSync(json);
    const cases: [string, Buffer][] = [
      ['gzip', Buffer.from('not gzip at all')],
      ['gzip', gz.subarray(0, gz.length - 10)],
      ['deflate', Buffer.from('xx')],
      ['br', Buffer.from('\xff\xff\xff\xff garbage')],
      ['br', br.subarray(0, 5)],
    ];
    const postRaw = async (body: Buffer, encoding: string) =>
      fetch(svc.baseUrl + SIGN, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-encoding': encoding,
          authorization: `Bearer ${await svc.token(SIGN)}`,
        },
        body,
      });
    for (const [encoding, body] of cases) {
      await expectCode(await postRaw(body, encoding), 400, 'invalid-encoding');
    }
    // An intact compressed body is read as usual.
    expect((await postRaw(gz, 'gzip')).status).toBe(200);
    expect((await postRaw(br, 'br')).status).toBe(200);
    expect(svc.logs.some((l) => l.includes('"code":"invalid-encoding"') && l.includes('"level":30'))).toBe(
      true,
    );
  });

  it('JSON nested deeper than the limit: 400 json-too-deep, before any recursive code', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    await expectCode(await svc.post(FEEDBACK, deep), 400, 'json-too-deep');
    const req = orderSignRequest();
    let nested: unknown = 'x';
    for (let i = 0; i < 80; i++) nested = { a: nested };
    (req.context as Record<string, unknown>).extension = nested;
    await expectCode(await svc.post(SIGN, req), 400, 'json-too-deep');
    // Depth inside strings does not count.
    expect(
      (await svc.post(FEEDBACK, feedback({ overrideReason: { userComment: '[[[['.repeat(100) } }))).status,
    ).toBe(200);
  });

  it('a NUL character in any string: 400 invalid-characters', async () => {
    await expectCode(await svc.post(FEEDBACK, feedback({ card: 'a\u0000b' })), 400, 'invalid-characters');
    await expectCode(
      await svc.post(FEEDBACK, feedback({ overrideReason: { userComment: 'x\u0000' } })),
      400,
      'invalid-characters',
    );
    // An escaped backslash followed by "u0000" is not a NUL.
    expect((await svc.post(FEEDBACK, feedback({ overrideReason: { userComment: '\\u0000' } }))).status).toBe(
      200,
    );
  });

  it('feedback limits: over-long ids, too many entries, out-of-range or impossible dates -> 400 invalid-feedback', async () => {
    const bad = [
      feedback({ card: 'x'.repeat(1_000_000) }),
      feedback({ card: 'x'.repeat(129) }),
      feedback({ outcomeTimestamp: '0000-01-01T00:00:00Z' }),
      feedback({ outcomeTimestamp: '2026-02-30T10:00:00Z' }),
      feedback({ outcomeTimestamp: '1899-12-31T23:59:59Z' }),
      feedback({ overrideReason: { userComment: 'x'.repeat(4001) } }),
      feedback({ overrideReason: { reason: { code: 'c'.repeat(257) } } }),
      feedback({ outcome: 'accepted', acceptedSuggestions: Array.from({ length: 51 }, () => ({ id: 's' })) }),
      { feedback: Array.from({ length: 101 }, () => (feedback().feedback as unknown[])[0]) },
    ];
    const before = (await svc.store.listFeedback()).length;
    for (const body of bad) {
      const outcome = await expectCode(await svc.post(FEEDBACK, body), 400, 'invalid-feedback');
      expect(outcome.issue.length).toBeGreaterThan(1);
    }
    expect(await svc.store.listFeedback()).toHaveLength(before);
    // The limits leave room for real feedback: 100 entries, a long comment, an offset timestamp.
    const ok = {
      feedback: Array.from({ length: 100 }, () => ({
        card: randomUUID(),
        outcome: 'overridden',
        overrideReason: { userComment: 'y'.repeat(4000) },
        outcomeTimestamp: '2026-11-21T10:00:00.123+14:00',
      })),
    };
    expect((await svc.post(FEEDBACK, ok)).status).toBe(200);
  });

  it('malformed FHIR in draftOrders or prefetch: 400 invalid-request naming the path', async () => {
    const req = orderSignRequest();
    (req.prefetch as Record<string, unknown>).conditions = {
      resourceType: 'Bundle',
      type: 'searchset',
      entry: {},
    };
    let outcome = await expectCode(await svc.post(SIGN, req), 400, 'invalid-request');
    expect(outcome.issue.map((i) => i.diagnostics).join(' ')).toContain(
      'prefetch.conditions.entry: must be an array',
    );

    const req2 = orderSignRequest();
    const draft = (req2.context as { draftOrders: { entry: { resource: Record<string, unknown> }[] } })
      .draftOrders;
    draft.entry[0]!.resource.code = 22630;
    outcome = await expectCode(await svc.post(SIGN, req2), 400, 'invalid-request');
    expect(outcome.issue.map((i) => i.diagnostics).join(' ')).toContain(
      'context.draftOrders.entry[0].resource.code',
    );
  });

  it('a database data exception (SQLSTATE class 22) maps to 400 invalid-value', async () => {
    // A real database error from the store's own back-end: a timestamp outside the range it holds
    // (PostgreSQL refuses year 0000; the SQLite store refuses a year past 9999, where text order breaks).
    const err: unknown = await (
      svc.store.db.kind === 'sqlite'
        ? svc.store.db.query('SELECT $1 AS t', [new Date('+010000-01-01T00:00:00Z')])
        : svc.store.db.query("SELECT '0000-01-01'::timestamptz")
    )
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/^22/);
    const mapped = databaseDataError(err);
    expect(mapped?.code).toBe('invalid-value');
    expect(mapped?.status).toBe(400);
    expect(
      databaseDataError(Object.assign(new Error('x'), { code: '23505', severity: 'ERROR' })),
    ).toBeUndefined();
  });
});
