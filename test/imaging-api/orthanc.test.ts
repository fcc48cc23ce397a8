/**
 * End to end against a real Orthanc (DICOMweb + GDCM plugins) and the embedded FHIR server with our
 * profile validator: the study endpoint pulls the series and its ROI report, queues the Observations and
 * the SR, and the outbox worker writes them; repeated runs and a FHIR outage leave exactly one of each.
 */
import type { Bundle, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { createLogger } from '../../src/http/logger.js';
import type { SrWriteEntry, WriteEntry } from '../../src/imaging/write-requests.js';
import { retrieveSeries, searchSeries, storeInstances } from '../../src/dicomweb/client.js';
import type { MeasurementResult } from '../../src/imaging/measurement.js';
import type { Store } from '../../src/store/store.js';
import { createDicomSrHandler, dicomSrPayload, DICOM_SR_OUTBOX_KIND } from '../../src/writeback/dicom-sr.js';
import type { OutboxOutcome } from '../../src/writeback/outbox-worker.js';
import { createFhirWriteback, type FhirWriteback } from '../../src/writeback/setup.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { findOrthanc, startOrthanc, type OrthancHandle } from '../helpers/orthanc.js';
import { makePhantom, type Phantom } from '../helpers/phantom.js';
import { storeBackends } from '../helpers/store.js';
import { buildViewerSr, lumbarViewerRois } from '../imaging/ohif-sr.js';
import { startImagingService, type ImagingService } from './harness.js';

const PID_SYSTEM = 'urn:dicom:patient-id';
const skip = !findOrthanc() && !process.env.CI;
const title = skip
  ? 'imaging API against Orthanc — SKIPPED: Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm); under CI this fails instead'
  : 'imaging API: study endpoint against a real Orthanc and FHIR server';

interface StudyAnswer {
  results: MeasurementResult[];
  writes: WriteEntry[];
  sr: SrWriteEntry;
}

/** A phantom study and the viewer's ROI report for it (L1-L4 ellipses, CSF at L3). */
async function studyWithSr(uidRoot: string): Promise<{ p: Phantom; sr: Buffer; srUid: string }> {
  const p = await makePhantom({ syntax: 'rle', slices: 3, noise: 10, noiseStart: 7, uidRoot });
  const srUid = `${uidRoot}.9.1`;
  const sr = buildViewerSr(p, lumbarViewerRois(p), srUid);
  return { p, sr, srUid };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(skip)(title, () => {
  const backend = storeBackends()[0]!;
  let orthanc: OrthancHandle;
  let fhir: TestFhirServer;
  let store: Store;
  let writeback: FhirWriteback;
  let service: ImagingService;
  const outcomes: OutboxOutcome[] = [];

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
      onResult: (o) => outcomes.push(o),
    });
    writeback.start();
    service = await startImagingService(store, {
      patientIdentifierSystem: PID_SYSTEM,
      writeback,
      dicomweb: { baseUrl: orthanc.dicomWebUrl },
      now: () => new Date('2025-03-15T08:00:00Z'),
    });
  }, 60_000);
  afterAll(async () => {
    await writeback?.stop();
    await service?.close();
    await fhir?.stop();
    await orthanc?.stop();
    await store?.close();
  });

  const pending = async () => (await store.outboxCounts()).pending;

  async function observationsOf(studyInstanceUID: string): Promise<Observation[]> {
    const res = await fetch(`${fhir.baseUrl}/Observation?_count=200`);
    const bundle = (await res.json()) as Bundle<Observation>;
    return (bundle.entry ?? [])
      .map((e) => e.resource!)
      .filter((o) =>
        (o.derivedFrom ?? []).some((d) => d.identifier?.value === `urn:oid:${studyInstanceUID}`),
      );
  }

  async function ourSrInstances(p: Phantom, viewerSrUid: string): Promise<number> {
    const client = { baseUrl: orthanc.dicomWebUrl };
    const srSeries = (await searchSeries(client, p.studyInstanceUID, { modality: 'SR' })).filter(
      (s) => s.seriesInstanceUID !== `${viewerSrUid}.0`,
    );
    let n = 0;
    for (const s of srSeries)
      n += (await retrieveSeries(client, p.studyInstanceUID, s.seriesInstanceUID)).length;
    return n;
  }

  async function runStudy(p: Phantom): Promise<StudyAnswer> {
    const res = await service.post(`/imaging/vbq/studies/${p.studyInstanceUID}`);
    expect(res.status).toBe(200);
    return (await res.json()) as StudyAnswer;
  }

  it('measures the study, writes one Observation and one SR, and a second run adds neither', async () => {
    const { p, sr, srUid } = await studyWithSr('2.25.6101');
    const stored = await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...p.files, sr]);
    expect(stored.failed).toEqual([]);

    const first = await runStudy(p);
    const vbq = first.results.find((r) => r.metric === 'vbq-l1-l4')!;
    expect(vbq.validity.valid).toBe(true);
    expect(vbq.roiSource).toMatchObject({ kind: 'sr', srSopInstanceUID: srUid });
    expect(first.writes.find((w) => w.metric === 'vbq-l1-l4')?.status).toBe('queued');
    expect(first.sr.status).toBe('queued');
    await until('the outbox to drain', async () => (await pending()) === 0);

    const second = await runStudy(p);
    expect(second.sr).toMatchObject({ status: 'already-queued', sopInstanceUID: first.sr.sopInstanceUID });
    expect(second.results.find((r) => r.metric === 'vbq-l1-l4')!.value).toBe(vbq.value);
    await until('the outbox to drain', async () => (await pending()) === 0);
    expect((await store.outboxCounts()).dead).toBe(0);

    const obs = await observationsOf(p.studyInstanceUID);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.subject?.reference).toBe('Patient/phantom-patient');
    expect(obs[0]!.valueQuantity?.value).toBe(vbq.value);
    expect(obs[0]!.derivedFrom).toContainEqual({
      type: 'DocumentReference',
      identifier: { system: 'urn:dicom:uid', value: `urn:oid:${srUid}` },
    });
    expect(
      getProfileValidator()
        .validate(obs[0]!)
        .filter((i) => i.severity === 'error'),
    ).toEqual([]);
    // Our SR is in the PACS once, and it is not taken for the ROI report on the second run.
    expect(await ourSrInstances(p, srUid)).toBe(1);
    expect(outcomes.filter((o) => o.kind === DICOM_SR_OUTBOX_KIND && o.outcome === 'done')).toHaveLength(1);
    // Logs carry the route template, never the study's UIDs.
    const logs = service.logs.join('');
    expect(logs).toContain('"route":"/imaging/vbq/studies/:studyInstanceUID"');
    expect(logs).not.toContain(p.studyInstanceUID);
    expect(logs).not.toContain('PHANTOM-001');
  });

  it('survives a FHIR outage: the write waits, is retried and lands exactly once', async () => {
    const { p, sr, srUid } = await studyWithSr('2.25.6102');
    await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...p.files, sr]);
    await fhir.stop();
    let answer: StudyAnswer;
    try {
      answer = await runStudy(p);
      const id = answer.writes.find((w) => w.metric === 'vbq-l1-l4')!.outboxId!;
      await until('a failed attempt while the FHIR server is down', async () => {
        const s = await store.outboxStatus(id);
        return (s?.attempts ?? 0) >= 2 && s?.status === 'pending';
      });
      // A run during the outage queues nothing new.
      const again = await runStudy(p);
      expect(again.writes.find((w) => w.metric === 'vbq-l1-l4')).toMatchObject({
        status: 'already-queued',
        outboxId: id,
      });
      // The SR does not depend on the FHIR server.
      await until(
        'the SR write',
        async () => (await store.outboxStatus(answer.sr.outboxId))?.status === 'done',
      );
    } finally {
      await fhir.restart();
    }
    await until('the outbox to drain after the FHIR server came back', async () => (await pending()) === 0);
    expect((await store.outboxCounts()).dead).toBe(0);
    const obs = await observationsOf(p.studyInstanceUID);
    expect(obs).toHaveLength(1);
    expect(obs[0]!.identifier?.[0]?.value).toBe(
      answer.writes.find((w) => w.metric === 'vbq-l1-l4')!.identifier!.value,
    );
    expect(await ourSrInstances(p, srUid)).toBe(1);
  });

  it('answers 404 for a study the PACS does not hold', async () => {
    const res = await service.post('/imaging/vbq/studies/2.25.6199.1');
    expect(res.status).toBe(404);
    const oo = (await res.json()) as OperationOutcome;
    expect(oo.issue[0]!.details?.coding?.[0]?.code).toBe('not-found');
  });
});

describe.skipIf(skip)(`${title}: dicom-sr outbox handler`, () => {
  let orthanc: OrthancHandle;
  beforeAll(async () => {
    orthanc = await startOrthanc();
  }, 30_000);
  afterAll(async () => {
    await orthanc?.stop();
  });

  it('stores the SR, and classifies failures as retryable or permanent', async () => {
    const handler = createDicomSrHandler({ timeoutMs: 5000 });
    const signal = AbortSignal.timeout(20_000);
    const { p, sr, srUid } = await studyWithSr('2.25.6201');
    const payload = dicomSrPayload({
      baseUrl: orthanc.dicomWebUrl,
      studyInstanceUID: p.studyInstanceUID,
      sopInstanceUID: srUid,
      buffer: sr,
    });
    await expect(handler(payload, signal)).resolves.toEqual({ sopInstanceUID: srUid, stored: 1 });
    expect(
      await retrieveSeries({ baseUrl: orthanc.dicomWebUrl }, p.studyInstanceUID, `${srUid}.0`),
    ).toHaveLength(1);

    const unreachable = await handler({ ...payload, baseUrl: 'http://127.0.0.1:9/dicom-web' }, signal).catch(
      (e: unknown) => e,
    );
    expect(unreachable).toMatchObject({ code: 'network', retryable: true });

    const garbage = await handler(
      { ...payload, dicom: Buffer.from('not DICOM').toString('base64') },
      signal,
    ).catch((e: unknown) => e);
    // Orthanc answers 400 to a part that is not DICOM: retrying cannot help.
    expect(garbage).toMatchObject({ code: 'rejected', retryable: false, status: 400 });

    const missing = await handler({ ...payload, baseUrl: `${orthanc.url}/no-such-root` }, signal).catch(
      (e: unknown) => e,
    );
    expect(missing).toMatchObject({ code: 'rejected', retryable: false, status: 404 });

    await expect(handler({ baseUrl: orthanc.dicomWebUrl }, signal)).rejects.toMatchObject({
      retryable: false,
    });
  });
});
