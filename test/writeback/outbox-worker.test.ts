import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { createLogger } from '../../src/http/logger.js';
import { openDb } from '../../src/store/db.js';
import { Store } from '../../src/store/store.js';
import { noFhirAuth } from '../../src/writeback/fhir-auth.js';
import { createObservationWriter } from '../../src/writeback/observation-writer.js';
import {
  backoffDelay,
  createWritebackOutbox,
  DEFAULT_BACKOFF,
  type OutboxOutcome,
  type WritebackOutboxOptions,
} from '../../src/writeback/outbox-worker.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { storeBackends } from '../helpers/store.js';
import { observationsLike, patientSeed, vbqObservation } from './fixtures.js';

/**
 * A clock tests move by hand, so backoff is observable without waiting. It starts a little ahead of real
 * time because the store stamps a new item due at the database's now().
 */
function manualClock(start = Date.now() + 1_000) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => (t += ms) };
}

function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLogger('debug', sink), lines };
}

const BACKOFF = { baseMs: 1_000, maxMs: 60_000, maxAttempts: 5 };

for (const backend of storeBackends()) {
  describe(`write-back outbox on ${backend.name}`, () => {
    let fhir: TestFhirServer;
    let store: Store;

    beforeAll(async () => {
      fhir = await startFhirServer({ seed: [patientSeed([['p1', 'PAT-001']])] });
      store = await backend.open();
    });
    afterAll(async () => {
      await store.close();
      await fhir.stop();
    });

    function outbox(extra: Partial<WritebackOutboxOptions> = {}) {
      const writer = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 1_000 });
      return createWritebackOutbox({
        store,
        writer,
        logger: capturingLogger().logger,
        backoff: BACKOFF,
        random: () => 0,
        ...extra,
      });
    }

    it('writes exactly one Observation however often it is enqueued and run', async () => {
      const clock = manualClock();
      const box = outbox({ now: clock.now });
      const obs = vbqObservation('1.2.840.1.1');
      const first = await box.enqueueObservation(obs);
      const again = await box.enqueueObservation(structuredClone(obs));
      expect(first.created).toBe(true);
      expect(again).toEqual({ id: first.id, created: false });

      expect(await box.runOnce()).toEqual({ done: 1, retried: 0, dead: 0 });
      expect(await box.runOnce()).toEqual({ done: 0, retried: 0, dead: 0 });
      const status = await store.outboxStatus(first.id);
      expect(status).toMatchObject({ status: 'done', attempts: 1, lastError: null });
      expect(status?.result).toMatchObject({ outcome: 'created', subject: 'Patient/p1' });

      const stored = await observationsLike(fhir.baseUrl, obs);
      expect(stored).toHaveLength(1);
      expect(stored[0]?.subject?.reference).toBe('Patient/p1');
    });

    it('completes without a duplicate when the write reached the server but was never recorded', async () => {
      // As if a worker crashed between the server's 201 and completeOutbox: the item is still pending.
      const box = outbox();
      const obs = vbqObservation('1.2.840.1.8');
      const { id } = await box.enqueueObservation(obs);
      const direct = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth() });
      expect((await direct.write(obs)).outcome).toBe('created');
      expect(await box.runOnce()).toEqual({ done: 1, retried: 0, dead: 0 });
      expect((await store.outboxStatus(id))?.result).toMatchObject({ outcome: 'exists' });
      expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
    });

    it('keeps the write pending with backoff while the FHIR server is down, then writes it once', async () => {
      const clock = manualClock();
      const outcomes: OutboxOutcome[] = [];
      const box = outbox({ now: clock.now, onResult: (o) => outcomes.push(o) });
      const obs = vbqObservation('1.2.840.1.2');
      const { id } = await box.enqueueObservation(obs);

      await fhir.stop();
      try {
        expect(await box.runOnce()).toEqual({ done: 0, retried: 1, dead: 0 });
        const pending = await store.outboxStatus(id);
        expect(pending).toMatchObject({ status: 'pending', attempts: 1 });
        expect(pending?.lastError).toMatch(/^network: /);
        // random() = 0: half of baseMs after the first failure.
        expect(outcomes[0]?.nextAttemptAt?.getTime()).toBe(clock.now().getTime() + 500);

        clock.advance(400);
        expect(await box.runOnce()).toEqual({ done: 0, retried: 0, dead: 0 });
        clock.advance(200);
        expect(await box.runOnce()).toEqual({ done: 0, retried: 1, dead: 0 });
        // The second failure waits twice as long.
        expect(outcomes[1]?.nextAttemptAt?.getTime()).toBe(clock.now().getTime() + 1_000);
      } finally {
        await fhir.restart();
      }
      expect(await box.runOnce()).toEqual({ done: 0, retried: 0, dead: 0 });
      clock.advance(1_000);
      expect(await box.runOnce()).toEqual({ done: 1, retried: 0, dead: 0 });
      expect(await store.outboxStatus(id)).toMatchObject({ status: 'done', attempts: 3 });
      expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
    });

    it('marks a write dead with the reason on a permanent 4xx', async () => {
      const box = outbox();
      const { code: _code, ...broken } = vbqObservation('1.2.840.1.3', { reference: 'Patient/p1' });
      const { id } = await box.enqueueObservation(broken as typeof broken & { code: never });
      expect(await box.runOnce()).toEqual({ done: 0, retried: 0, dead: 1 });
      const status = await store.outboxStatus(id);
      expect(status?.status).toBe('dead');
      expect(status?.attempts).toBe(1);
      expect(status?.lastError).toMatch(/^rejected: .*answered 400.*Observation\.code/);
    });

    it('gives up after maxAttempts retryable failures', async () => {
      const clock = manualClock();
      const box = outbox({ now: clock.now, backoff: { ...BACKOFF, maxAttempts: 2 } });
      // No Patient carries this PatientID: retryable, but not forever.
      const obs = vbqObservation('1.2.840.1.4', {
        identifier: { system: 'urn:dicom:patient-id', value: 'NOBODY' },
      });
      const { id } = await box.enqueueObservation(obs);
      expect(await box.runOnce()).toEqual({ done: 0, retried: 1, dead: 0 });
      clock.advance(BACKOFF.maxMs);
      expect(await box.runOnce()).toEqual({ done: 0, retried: 0, dead: 1 });
      const status = await store.outboxStatus(id);
      expect(status).toMatchObject({ status: 'dead', attempts: 2 });
      expect(status?.lastError).toMatch(/^patient-not-found: gave up after 2 attempts/);
      expect(status?.lastError).not.toContain('NOBODY');
    });

    it('lets only one of two concurrent workers write an item (lease)', async () => {
      const obs = vbqObservation('1.2.840.1.5');
      const a = outbox();
      const b = outbox();
      await a.enqueueObservation(obs);
      fhir.setSlow(150);
      fhir.clearRequests();
      try {
        const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
        expect(ra.done + rb.done).toBe(1);
      } finally {
        fhir.setSlow(0);
      }
      expect(
        fhir.requests.filter((r) => r.method === 'POST' && r.url.startsWith('/Observation')),
      ).toHaveLength(1);
      expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
    });

    it('runs in the background and stop() waits for the write in flight', async () => {
      const box = outbox({ pollMs: 20 });
      box.start();
      const obs = vbqObservation('1.2.840.1.6');
      fhir.setSlow(300);
      fhir.clearRequests();
      try {
        const { id } = await box.enqueueObservation(obs);
        const until = Date.now() + 5_000;
        while (!fhir.requests.some((r) => r.method === 'POST') && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(fhir.requests.some((r) => r.method === 'POST')).toBe(true);
        await box.stop();
        // stop() returned only after the in-flight write finished and was recorded.
        expect((await store.outboxStatus(id))?.status).toBe('done');
      } finally {
        fhir.setSlow(0);
        await box.stop();
      }
      expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
    });

    it('queues an SR through the same outbox API once, and stores it by STOW-RS with the default handler', async () => {
      const received: { contentType: string | undefined; body: Buffer }[] = [];
      const pacs = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ contentType: req.headers['content-type'], body: Buffer.concat(chunks) });
          res.writeHead(200, { 'content-type': 'application/dicom+json' });
          res.end(
            JSON.stringify({
              '00081199': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['2.25.77.3'] } }] },
            }),
          );
        });
      });
      await new Promise<void>((r) => pacs.listen(0, '127.0.0.1', r));
      try {
        const baseUrl = `http://127.0.0.1:${(pacs.address() as AddressInfo).port}/dicom-web`;
        const clock = manualClock();
        const box = outbox({ now: clock.now });
        const sr = {
          baseUrl,
          studyInstanceUID: '2.25.77.1',
          sopInstanceUID: '2.25.77.3',
          buffer: new Uint8Array(Buffer.from('DICM sr bytes')),
        };
        const first = await box.enqueueDicomSr(sr);
        expect(first.created).toBe(true);
        expect(await box.enqueueDicomSr(sr)).toEqual({ id: first.id, created: false });
        expect(await box.runOnce()).toEqual({ done: 1, retried: 0, dead: 0 });
        expect(received).toHaveLength(1);
        expect(received[0]!.contentType).toMatch(/^multipart\/related; type="application\/dicom"/);
        expect(received[0]!.body.includes(Buffer.from('DICM sr bytes'))).toBe(true);
        expect(await store.outboxStatus(first.id)).toMatchObject({ status: 'done' });
      } finally {
        await new Promise((r) => pacs.close(r));
      }
    });

    it('refuses to queue an Observation without identifier or subject', async () => {
      const box = outbox();
      const noId = { ...vbqObservation('1.2.840.1.7'), identifier: undefined };
      await expect(box.enqueueObservation(noId)).rejects.toBeInstanceOf(AppError);
      const noSubject = { ...vbqObservation('1.2.840.1.7'), subject: undefined };
      await expect(box.enqueueObservation(noSubject)).rejects.toMatchObject({ code: 'invalid-resource' });
    });
  });
}

describe('write-back outbox across a restart (SQLite on disk)', () => {
  let fhir: TestFhirServer;
  let dir: string;
  beforeAll(async () => {
    fhir = await startFhirServer({ seed: [patientSeed([['p1', 'PAT-001']])] });
    dir = mkdtempSync(path.join(tmpdir(), 'writeback-'));
  });
  afterAll(async () => {
    await fhir.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a new worker on the same store finishes the write the old one could not do', async () => {
    const writer = createObservationWriter({ baseUrl: fhir.baseUrl, auth: noFhirAuth(), timeoutMs: 1_000 });
    const { logger, lines } = capturingLogger();
    const obs = vbqObservation('1.2.840.2.1');

    let store = new Store(await openDb({ dataDir: dir }));
    const clock = manualClock();
    const first = createWritebackOutbox({
      store,
      writer,
      logger,
      now: clock.now,
      backoff: BACKOFF,
      random: () => 0,
    });
    const { id } = await first.enqueueObservation(obs);
    await fhir.stop();
    try {
      expect(await first.runOnce()).toEqual({ done: 0, retried: 1, dead: 0 });
      await first.stop();
      await store.close();
    } finally {
      await fhir.restart();
    }

    store = new Store(await openDb({ dataDir: dir }));
    try {
      expect(await store.outboxStatus(id)).toMatchObject({ status: 'pending', attempts: 1 });
      const second = createWritebackOutbox({ store, writer, logger, now: clock.now, backoff: BACKOFF });
      clock.advance(BACKOFF.baseMs);
      expect(await second.runOnce()).toEqual({ done: 1, retried: 0, dead: 0 });
      expect(await store.outboxStatus(id)).toMatchObject({ status: 'done', attempts: 2 });
    } finally {
      await store.close();
    }
    expect(await observationsLike(fhir.baseUrl, obs)).toHaveLength(1);
    // The log names the item, never the patient.
    expect(lines.join('')).not.toContain('PAT-001');
    expect(lines.join('')).toContain('"outboxId"');
  });
});

describe('backoffDelay', () => {
  it('doubles per failure, is capped, and jitters within [50%, 100%]', () => {
    const p = { baseMs: 1_000, maxMs: 10_000, maxAttempts: 9 };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, p, () => 0.999999))).toEqual([
      1_000, 2_000, 4_000, 8_000, 10_000, 10_000,
    ]);
    expect(backoffDelay(3, p, () => 0)).toBe(2_000);
    expect(backoffDelay(3, p, () => 0.5)).toBe(3_000);
    expect(DEFAULT_BACKOFF.maxAttempts).toBeGreaterThan(1);
  });
});
