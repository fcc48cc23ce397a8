/**
 * The PACS watcher against a real Orthanc (DICOMweb + change feed) and the embedded FHIR server with our
 * profile validator: ROI reports saved to the PACS become exactly one Observation each, with no API call;
 * a corrected report amends it; replicas and restarts never measure a report twice; malformed reports and
 * reports without VBQ ROIs are recorded and not retried.
 */
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import type { Bundle, Observation, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { storeInstances } from '../../src/dicomweb/client.js';
import { createLogger, type Logger } from '../../src/http/logger.js';
import { pacsWatchMetrics, type PacsWatchMetrics } from '../../src/http/metrics.js';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import { readRoisFromSr } from '../../src/imaging/roi.js';
import { measureStudy } from '../../src/imaging/vbq.js';
import { orthancChangesSource, qidoSource, type ReportSource } from '../../src/pacs-watch/sources.js';
import { WatchStore } from '../../src/pacs-watch/watch-store.js';
import { buildWorklist } from '../../src/pacs-watch/worklist.js';
import { createPacsWatcher, type MeasuredEvent, type PacsWatcher } from '../../src/pacs-watch/watcher.js';
import type { Store } from '../../src/store/store.js';
import { createDicomSrHandler, DICOM_SR_OUTBOX_KIND } from '../../src/writeback/dicom-sr.js';
import { createFhirWriteback, type FhirWriteback } from '../../src/writeback/setup.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { findOrthanc, startOrthanc, type OrthancHandle } from '../helpers/orthanc.js';
import { makePhantom, type Phantom } from '../helpers/phantom.js';
import { storeBackends } from '../helpers/store.js';
import {
  buildViewerSr,
  lumbarViewerRois,
  type ViewerLabelLayout,
  type ViewerRoi,
} from '../imaging/ohif-sr.js';

const PID_SYSTEM = 'urn:dicom:patient-id';
const skip = !findOrthanc() && !process.env.CI;
const title = skip
  ? 'PACS watcher against Orthanc — SKIPPED: Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm); under CI this fails instead'
  : 'PACS watcher against a real Orthanc and FHIR server';

/** Today as DICOM DA: the QIDO source looks at reports from the day before its last poll on. */
const TODAY = new Date().toISOString().slice(0, 10).replace(/-/g, '');

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString('utf8'));
        cb();
      },
    }),
  );
  return { logger, lines };
}

/** The VBQ our own measurement gives for a report (what the Observation must carry). */
async function expectedVbq(p: Phantom, sr: Buffer): Promise<number> {
  const study = await measureStudy({ files: p.files, rois: readRoisFromSr(parseDicom(sr).dataset) });
  const v = study.results.find((r) => r.metric === 'vbq-l1-l4')?.value;
  if (typeof v !== 'number') throw new Error('phantom report gave no VBQ');
  return v;
}

describe.skipIf(skip).each(storeBackends())(`${title} (store: $name)`, (backend) => {
  let orthanc: OrthancHandle;
  let fhir: TestFhirServer;
  let store: Store;
  let writeback: FhirWriteback;
  const events: MeasuredEvent[] = [];
  const watchers: PacsWatcher[] = [];

  beforeAll(async () => {
    const validator = getProfileValidator();
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'phantom-patient',
      identifier: [{ system: PID_SYSTEM, value: 'PHANTOM-001' }],
    };
    [orthanc, fhir, store] = await Promise.all([
      startOrthanc(),
      startFhirServer({
        validate: (r) => validator.validate(r),
        seed: [{ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] }],
      }),
      backend.open(),
    ]);
    writeback = await createFhirWriteback({
      baseUrl: fhir.baseUrl,
      auth: {},
      store,
      logger: createLogger('silent'),
      timeoutMs: 2000,
      pollMs: 50,
      leaseMs: 10_000,
      backoff: { baseMs: 50, maxMs: 200 },
      handlers: { [DICOM_SR_OUTBOX_KIND]: createDicomSrHandler() },
    });
    writeback.start();
  }, 60_000);
  afterAll(async () => {
    await Promise.all(watchers.map((w) => w.stop()));
    await writeback?.stop();
    await fhir?.stop();
    await orthanc?.stop();
    await store?.close();
  });

  function watcher(
    opts: {
      source?: 'qido' | 'orthanc';
      owner?: string;
      logger?: Logger;
      claimMs?: number;
      sweepIntervalMs?: number;
      now?: () => Date;
      metrics?: PacsWatchMetrics;
      dicomwebUrl?: string;
    } = {},
  ): PacsWatcher {
    const ws = new WatchStore(store.db);
    const dicomweb = { baseUrl: opts.dicomwebUrl ?? orthanc.dicomWebUrl };
    const source: ReportSource =
      opts.source === 'orthanc'
        ? orthancChangesSource({ url: orthanc.url }, ws)
        : qidoSource(dicomweb, ws, {
            ...(opts.sweepIntervalMs !== undefined ? { sweepIntervalMs: opts.sweepIntervalMs } : {}),
          });
    const w = createPacsWatcher({
      store,
      source,
      dicomweb,
      writeback,
      logger: opts.logger ?? createLogger('silent'),
      patientIdentifierSystem: PID_SYSTEM,
      intervalMs: 200,
      ...(opts.owner ? { owner: opts.owner } : {}),
      ...(opts.claimMs ? { claimMs: opts.claimMs } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
      onMeasured: async (e) => {
        events.push(e);
      },
    });
    watchers.push(w);
    return w;
  }

  async function observationsOf(p: Phantom): Promise<Observation[]> {
    const res = await fetch(`${fhir.baseUrl}/Observation?_count=200`);
    const bundle = (await res.json()) as Bundle<Observation>;
    return (bundle.entry ?? [])
      .map((e) => e.resource!)
      .filter((o) =>
        (o.derivedFrom ?? []).some((d) => d.identifier?.value === `urn:oid:${p.studyInstanceUID}`),
      )
      .filter((o) => o.code.coding?.some((c) => c.code === 'vbq-l1-l4'));
  }

  const drained = async () => (await store.outboxCounts()).pending === 0;

  async function study(
    uidRoot: string,
    layout: ViewerLabelLayout,
    rois?: (p: Phantom) => ViewerRoi[],
  ): Promise<{ p: Phantom; sr: Buffer; srUid: string }> {
    const p = await makePhantom({ syntax: 'rle', slices: 3, noise: 10, noiseStart: 7, uidRoot });
    const srUid = `${uidRoot}.9.1`;
    const sr = buildViewerSr(p, (rois ?? lumbarViewerRois)(p), srUid, layout, { ContentDate: TODAY });
    const stored = await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...p.files, sr]);
    expect(stored.failed).toEqual([]);
    return { p, sr, srUid };
  }

  it('measures a report saved by the viewer once, and a corrected report amends the Observation', async () => {
    const { logger, lines } = capture();
    const w = watcher({ logger });
    const { p, sr, srUid } = await study('2.25.7101', 'comment');
    const first = await w.runOnce();
    expect(first.measured).toBe(1);
    await until('the outbox to drain', drained);
    let obs = await observationsOf(p);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.status).toBe('final');
    expect(obs[0]!.valueQuantity?.value).toBe(await expectedVbq(p, sr));
    expect(obs[0]!.subject?.reference).toBe('Patient/phantom-patient');
    expect(events.find((e) => e.srSopInstanceUID === srUid)?.observations[0]).toMatchObject({
      amended: false,
    });

    // Polled again: nothing new is measured, no second Observation.
    const again = await w.runOnce();
    expect(again.measured + again.amended).toBe(0);

    // The radiologist corrects the ROIs (smaller ellipses) and saves a new report on the same images.
    const corrected = buildViewerSr(p, lumbarViewerRois(p, 10, 3), '2.25.7101.9.2', 'comment', {
      ContentDate: TODAY,
      ContentTime: '100000',
    });
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [corrected]);
    const second = await w.runOnce();
    expect(second.amended).toBe(1);
    await until('the outbox to drain', drained);
    obs = await observationsOf(p);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.status).toBe('amended');
    const amendedValue = await expectedVbq(p, corrected);
    expect(amendedValue).not.toBe(await expectedVbq(p, sr));
    expect(obs[0]!.valueQuantity?.value).toBe(amendedValue);
    expect(obs[0]!.derivedFrom).toContainEqual({
      type: 'DocumentReference',
      identifier: { system: 'urn:dicom:uid', value: 'urn:oid:2.25.7101.9.2' },
    });
    expect(
      getProfileValidator()
        .validate(obs[0]!)
        .filter((i) => i.severity === 'error'),
    ).toEqual([]);
    expect((await store.outboxCounts()).dead).toBe(0);
    // The logs say what happened, never whose study it was.
    const text = lines.join('');
    expect(text).toContain('"status":"amended"');
    expect(text).not.toContain('PHANTOM-001');
    expect(text).not.toContain(p.studyInstanceUID);
  });

  it('two replicas sharing the store: one measures, the other skips', async () => {
    const a = watcher({ owner: 'replica-a' });
    const b = watcher({ owner: 'replica-b' });
    const { p } = await study('2.25.7102', 'finding-site');
    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(ra.measured + rb.measured).toBe(1);
    await until('the outbox to drain', drained);
    expect(await observationsOf(p)).toHaveLength(1);
  });

  it('resumes after a restart: a report claimed by a process that died is measured once by the next one', async () => {
    const { p, srUid } = await study('2.25.7103', 'finding');
    // A replica lists and claims the report, then dies before recording anything (claim of 100 ms).
    const ws = new WatchStore(store.db);
    const at = new Date();
    const claimed = await ws.claim(
      { studyInstanceUID: p.studyInstanceUID, seriesInstanceUID: `${srUid}.0`, sopInstanceUID: srUid },
      'crashed-replica',
      at,
      new Date(at.getTime() + 100),
    );
    expect(claimed).toBe(1);
    const restarted = watcher({ owner: 'restarted' });
    await new Promise((r) => setTimeout(r, 150));
    const run = await restarted.runOnce();
    expect(run.measured).toBe(1);
    expect((await ws.report(srUid))?.status).toBe('measured');
    await until('the outbox to drain', drained);
    expect(await observationsOf(p)).toHaveLength(1);
    // And a new process with the same store does not measure it again.
    const next = await watcher({ owner: 'after-restart' }).runOnce();
    expect(next.measured + next.amended).toBe(0);
  });

  it('follows Orthanc’s change feed from its checkpoint across restarts', async () => {
    const w1 = watcher({ source: 'orthanc', owner: 'orthanc-1' });
    // Everything stored so far was handled by the QIDO watchers: the feed's first poll only catches up.
    await w1.runOnce();
    const ws = new WatchStore(store.db);
    const checkpoint = Number(await ws.checkpoint('orthanc-changes'));
    expect(checkpoint).toBeGreaterThan(0);
    const { p } = await study('2.25.7104', 'comment');
    await w1.stop();
    const w2 = watcher({ source: 'orthanc', owner: 'orthanc-2' });
    const run = await w2.runOnce();
    expect(run.measured).toBe(1);
    // Only what came after the checkpoint was listed: the new images and their report.
    expect(run.listed).toBe(1);
    expect(Number(await ws.checkpoint('orthanc-changes'))).toBeGreaterThan(checkpoint);
    await until('the outbox to drain', drained);
    expect(await observationsOf(p)).toHaveLength(1);
  });

  it('records a malformed report with its reason, once, and never retries it', async () => {
    const { logger, lines } = capture();
    const w = watcher({ logger });
    // ROIs drawn on images that are not in the PACS.
    const { p, srUid } = await study('2.25.7105', 'finding', (ph) =>
      lumbarViewerRois(ph).map((r) => ({ ...r, sopInstanceUID: '2.25.1.2.3.4.5' })),
    );
    const run = await w.runOnce();
    expect(run.malformed).toBe(1);
    const row = await w.store.report(srUid);
    expect(row).toMatchObject({ status: 'malformed', attempts: 1 });
    expect(row?.reason).toMatch(/references an image that is not in the series/);
    const text = lines.join('');
    expect(text).toContain('"status":"malformed"');
    expect(text).not.toContain('PHANTOM-001');
    // The console's list shows it.
    expect((await w.store.reports({ statuses: ['malformed'] })).map((r) => r.sopInstanceUID)).toContain(
      srUid,
    );
    // Not retried: later polls leave it alone.
    await w.runOnce();
    await watcher().runOnce();
    expect((await w.store.report(srUid))?.attempts).toBe(1);
    expect(await observationsOf(p)).toHaveLength(0);
  });

  it('ignores a report without VBQ ROIs', async () => {
    const w = watcher();
    const { p, srUid } = await study('2.25.7106', 'comment', (ph) =>
      lumbarViewerRois(ph).map((r) => ({ ...r, label: 'lesion' })),
    );
    const run = await w.runOnce();
    expect(run.ignored).toBe(1);
    expect(run.measured).toBe(0);
    expect(await w.store.report(srUid)).toMatchObject({ status: 'ignored' });
    expect((await w.store.report(srUid))?.reason).toMatch(/no VBQ ROIs/);
    await until('the outbox to drain', drained);
    expect(await observationsOf(p)).toHaveLength(0);
  });
  it('notices new spine MR series (QIDO-RS and Orthanc’s feed) and records them for the worklist, measuring nothing', async () => {
    const w = watcher({ sweepIntervalMs: 0 });
    await w.runOnce(); // a checkpoint exists: what follows is found by the dated search
    // A new lumbar MR acquired today (no report yet), and a knee MR.
    const today = { StudyDate: TODAY, SeriesDate: TODAY, AcquisitionDate: TODAY };
    const spine = await makePhantom({ slices: 1, uidRoot: '2.25.7108', header: today });
    const knee = await makePhantom({
      slices: 1,
      uidRoot: '2.25.7109',
      header: { ...today, StudyDescription: 'MRI KNEE', BodyPartExamined: 'KNEE' },
    });
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...spine.files, ...knee.files]);
    const run = await w.runOnce();
    expect(run).toMatchObject({ series: 2, measurableSeries: 1, measured: 0 });
    const ws = new WatchStore(store.db);
    expect(await ws.seriesVerdicts([spine.seriesInstanceUID, knee.seriesInstanceUID])).toEqual(
      new Map([
        [spine.seriesInstanceUID, 'lumbar'],
        [knee.seriesInstanceUID, null],
      ]),
    );
    expect((await ws.measurableSeries(10)).map((x) => x.studyInstanceUID)).toContain(spine.studyInstanceUID);
    // Recorded once: the next poll (and another replica) leaves them alone.
    expect((await w.runOnce()).series).toBe(0);
    expect((await watcher({ owner: 'other', sweepIntervalMs: 0 }).runOnce()).series).toBe(0);
    // The worklist lists the recorded study even when it is not among the newest studies it queries.
    const list = await buildWorklist({ dicomweb: { baseUrl: orthanc.dicomWebUrl }, store: ws, limit: 1 });
    expect(list.entries.map((e) => e.studyInstanceUID)).toContain(spine.studyInstanceUID);

    // Orthanc's change feed: NewSeries of an MR.
    const feed = watcher({ source: 'orthanc', owner: 'orthanc-series' });
    await feed.runOnce();
    const later = await makePhantom({ slices: 1, uidRoot: '2.25.7110', header: today });
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, later.files);
    const fed = await feed.runOnce();
    expect(fed).toMatchObject({ series: 1, measurableSeries: 1, measured: 0 });
    expect((await ws.seriesVerdicts([later.seriesInstanceUID])).get(later.seriesInstanceUID)).toBe('lumbar');
    expect(await observationsOf(later)).toHaveLength(0);
  });

  it('finds a report imported later with an old date through the sweep, and counts it in /metrics', async () => {
    const registry = new Registry();
    const metrics = pacsWatchMetrics(registry);
    let clock = Date.now();
    const w = watcher({ sweepIntervalMs: 600_000, now: () => new Date(clock), metrics });
    await w.runOnce();
    await w.runOnce(); // checkpoint and first sweep done
    // Imported today, made in 2019: its ContentDate is far behind the checkpoint.
    const old = { StudyDate: '20190102', SeriesDate: '20190102', AcquisitionDate: '20190102' };
    const p = await makePhantom({
      syntax: 'rle',
      slices: 3,
      noise: 10,
      noiseStart: 7,
      uidRoot: '2.25.7111',
      header: old,
    });
    const sr = buildViewerSr(p, lumbarViewerRois(p), '2.25.7111.9.1', 'comment', {
      ContentDate: '20190102',
      ContentTime: '093000',
    });
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...p.files, sr]);
    // The dated search misses it, and no sweep is due yet.
    clock += 60_000;
    const missed = await w.runOnce();
    expect(missed).toMatchObject({ measured: 0, swept: false });
    // Once the sweep interval has passed, the sweep lists it: measured once.
    clock += 600_000;
    const swept = await w.runOnce();
    expect(swept).toMatchObject({ measured: 1, swept: true });
    expect(swept.series).toBeGreaterThanOrEqual(1); // its old-dated MR series too
    await until('the outbox to drain', drained);
    const obs = await observationsOf(p);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.valueQuantity?.value).toBe(await expectedVbq(p, sr));
    // The report's content date/time is the Observation's issued.
    expect(Date.parse(obs[0]!.issued!)).toBe(Date.parse('2019-01-02T09:30:00Z'));

    const value = async (name: string, labels: Record<string, string> = {}) => {
      const m = (await registry.getSingleMetric(name)!.get()).values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      );
      return m?.value ?? 0;
    };
    expect(await value('cds_pacs_watch_polls_total', { result: 'ok' })).toBe(4);
    expect(await value('cds_pacs_watch_reports_total', { outcome: 'measured' })).toBe(1);
    expect(await value('cds_pacs_watch_series_total', { verdict: 'measurable' })).toBeGreaterThanOrEqual(1);
    expect(await value('cds_pacs_watch_last_poll_timestamp_seconds')).toBe(clock / 1000);
    const text = await registry.metrics();
    expect(text).toContain('cds_pacs_watch_reports_total{outcome="measured"} 1');

    // A PACS that does not answer: the poll fails and the error counters move, the last poll time stays.
    const down = watcher({
      dicomwebUrl: 'http://127.0.0.1:9/dicom-web',
      metrics,
      now: () => new Date(clock + 1000),
    });
    await expect(down.runOnce()).rejects.toThrow(/PACS unreachable/);
    expect(await value('cds_pacs_watch_polls_total', { result: 'error' })).toBe(1);
    expect(await value('cds_pacs_watch_errors_total', { stage: 'poll' })).toBe(1);
    expect(await value('cds_pacs_watch_last_poll_timestamp_seconds')).toBe(clock / 1000);
  });
});
