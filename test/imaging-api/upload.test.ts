import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, Observation, OperationOutcome, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { createLogger } from '../../src/http/logger.js';
import { REFUSAL_REASON_SYSTEM } from '../../src/imaging/api-refusal.js';
import type { WriteEntry } from '../../src/imaging/write-requests.js';
import { parseDicom } from '../../src/imaging/dicom/parse.js';
import type { MeasurementResult } from '../../src/imaging/measurement.js';
import type { Store } from '../../src/store/store.js';
import { createFhirWriteback, type FhirWriteback } from '../../src/writeback/setup.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { blockByName, lumbarRois, makePhantom, referenceStats } from '../helpers/phantom.js';
import type { Block, Phantom } from '../helpers/phantom.js';
import { storeBackends } from '../helpers/store.js';
import { buildViewerSr } from '../imaging/ohif-sr.js';
import { form, startImagingService, type ImagingService } from './harness.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'dicom');
const PID_SYSTEM = 'urn:dicom:patient-id';

interface Upload {
  results: MeasurementResult[];
  writes?: WriteEntry[];
}

const insideEllipse = (b: Block, rx: number, ry: number) => (x: number, y: number) =>
  ((x - (b.x0 + b.x1) / 2) / rx) ** 2 + ((y - (b.y0 + b.y1) / 2) / ry) ** 2 <= 1;

/** VBQ from the phantom's truth, by brute force over the pixels (independent of the product's code). */
function expectedVbq(p: Phantom): { vbq: number; si: Record<string, number>; csf: number } {
  const truth = p.truth[p.midSlice]!;
  const si: Record<string, number> = {};
  for (const l of ['L1', 'L2', 'L3', 'L4']) {
    si[l] = referenceStats(truth, p.width, insideEllipse(blockByName(p, l), 18, 4)).mean;
  }
  const c = blockByName(p, 'CSF');
  const l3 = blockByName(p, 'L3');
  const csf = referenceStats(
    truth,
    p.width,
    (x, y) => x >= c.x0 + 2 && x <= c.x1 - 2 && y >= l3.y0 + 2 && y <= l3.y1 - 2,
  ).mean;
  const sorted = Object.values(si).sort((a, b) => a - b);
  return { vbq: (sorted[1]! + sorted[2]!) / 2 / csf, si, csf };
}

const files = (p: Phantom) => p.files.map((data, i) => ({ name: `slice-${i + 1}.dcm`, data }));

function vbqOf(body: Upload): MeasurementResult {
  const r = body.results.find((x) => x.metric === 'vbq-l1-l4');
  if (!r) throw new Error('no vbq-l1-l4 result');
  return r;
}

function issueCodes(oo: OperationOutcome): string[] {
  return oo.issue.flatMap((i) => (i.details?.coding ?? []).map((c) => c.code ?? ''));
}

describe.each(storeBackends())('POST /imaging/vbq ($name store)', (backend) => {
  let store: Store;
  let plain: ImagingService;
  let writing: ImagingService;
  let small: ImagingService;
  let fhir: TestFhirServer;
  let writeback: FhirWriteback;
  let phantom: Phantom;
  let patientId: string;

  beforeAll(async () => {
    store = await backend.open();
    const validator = getProfileValidator();
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'phantom-patient',
      identifier: [{ system: PID_SYSTEM, value: 'PHANTOM-001' }],
    };
    fhir = await startFhirServer({
      validate: (r) => validator.validate(r),
      seed: [{ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] }],
    });
    writeback = await createFhirWriteback({
      baseUrl: fhir.baseUrl,
      auth: {},
      store,
      logger: createLogger('silent'),
    });
    phantom = await makePhantom({ noise: 15, noiseStart: 11, uidRoot: '2.25.5101' });
    patientId = 'phantom-patient';
    plain = await startImagingService(store, { patientIdentifierSystem: PID_SYSTEM });
    writing = await startImagingService(store, {
      patientIdentifierSystem: PID_SYSTEM,
      writeback,
      dicomweb: { baseUrl: 'http://127.0.0.1:9/dicom-web' },
    });
    small = await startImagingService(store, {
      patientIdentifierSystem: PID_SYSTEM,
      maxFiles: 4,
      maxFileBytes: 120_000,
      maxUploadBytes: 300_000,
    });
  });
  afterAll(async () => {
    await Promise.all([plain?.close(), writing?.close(), small?.close()]);
    await fhir?.stop();
    await store?.close();
  });

  it('measures an uploaded phantom series with JSON ROIs and returns the exact values', async () => {
    const exp = expectedVbq(phantom);
    const res = await plain.upload(
      '/imaging/vbq',
      form({ files: files(phantom), rois: lumbarRois(phantom) }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Upload;
    const vbq = vbqOf(body);
    expect(vbq.validity).toEqual({ valid: true, reasons: [] });
    expect(vbq.value).toBeCloseTo(exp.vbq, 10);
    for (const l of vbq.levels) expect(l.si).toBeCloseTo(exp.si[l.level]!, 10);
    expect(vbq.levels.map((l) => l.level)).toEqual(['L1', 'L2', 'L3', 'L4']);
    expect(vbq.csf?.si).toBeCloseTo(exp.csf, 10);
    expect(vbq.csf?.level).toBe('L3');
    expect(vbq.studyInstanceUID).toBe(phantom.studyInstanceUID);
    expect(body.writes).toBeUndefined();
    // The access log names the route template, never the study.
    expect(plain.logs.join('')).toContain('"route":"/imaging/vbq"');
    expect(plain.logs.join('')).not.toContain(phantom.studyInstanceUID);
  });

  it('accepts the ROIs as a plain form field and as a DICOM SR, and compressed files', async () => {
    const j2k = await makePhantom({ syntax: 'jpegls', noise: 15, noiseStart: 11, uidRoot: '2.25.5101' });
    const asField = await plain.upload(
      '/imaging/vbq',
      form({ files: files(j2k), rois: lumbarRois(j2k), roisAsField: true }),
    );
    expect(asField.status).toBe(200);
    expect(vbqOf((await asField.json()) as Upload).value).toBeCloseTo(expectedVbq(phantom).vbq, 10);

    const sop = phantom.sopInstanceUIDs[phantom.midSlice]!;
    const json = lumbarRois(phantom).rois as { label: string; points: [number, number][] }[];
    const sr = buildViewerSr(
      phantom,
      json.map((r) => ({
        label: r.label === 'CSF' ? 'CSF L3' : r.label,
        shape: r.label === 'CSF' ? ('polyline' as const) : ('ellipse' as const),
        points:
          r.label === 'CSF'
            ? ([
                r.points[0]!,
                [r.points[1]![0], r.points[0]![1]],
                r.points[1]!,
                [r.points[0]![0], r.points[1]![1]],
                r.points[0]!,
              ] as [number, number][])
            : r.points,
        sopInstanceUID: sop,
      })),
      '2.25.5101.9.1',
    );
    const viaSr = await plain.upload('/imaging/vbq', form({ files: files(phantom), sr }));
    expect(viaSr.status).toBe(200);
    const vbq = vbqOf((await viaSr.json()) as Upload);
    expect(vbq.roiSource).toMatchObject({ kind: 'sr', srSopInstanceUID: '2.25.5101.9.1' });
    expect(vbq.value).toBeCloseTo(expectedVbq(phantom).vbq, 10);
  });

  it('refuses a real T2 lumbar MR with 422 and the coded reason', async () => {
    const name = 'orthanc-tests_2022-03-08-RicSmi_MR_LSPINE_T2_SAG_J2K.dcm';
    const buf = readFileSync(join(FIXTURES, name));
    const h = parseDicom(buf, { headerOnly: true }).header;
    const [cx, cy] = [h.columns / 2, h.rows / 2];
    const ell = (label: string, dy: number) => ({
      label,
      shape: 'ellipse',
      points: [
        [cx - 8, cy + dy],
        [cx + 8, cy + dy],
        [cx, cy + dy - 4],
        [cx, cy + dy + 4],
      ],
      sopInstanceUID: h.sopInstanceUID,
    });
    const rois = {
      rois: [ell('L1', -30), ell('L2', -10), ell('L3', 10), ell('L4', 30), { ...ell('CSF', 0), level: 'L3' }],
    };
    const res = await plain.upload('/imaging/vbq', form({ files: [{ name, data: buf }], rois }));
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    const oo = (await res.json()) as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    const reasons = oo.issue.map(
      (i) => i.details?.coding?.find((c) => c.system === REFUSAL_REASON_SYSTEM)?.code,
    );
    expect(reasons).toContain('not-t1');
    expect(reasons.every((r) => typeof r === 'string')).toBe(true);
    expect(issueCodes(oo)).toContain('measurement-refused');
    expect(oo.issue.find((i) => i.details?.text?.includes('T2-weighted'))).toBeDefined();
    // No number leaks into a refusal.
    expect(JSON.stringify(oo)).not.toMatch(/"value"/);
  });

  it('answers 400 invalid-dicom naming the malformed file', async () => {
    const name = 'fodicom_GH1339_MR_spine_t2_tse_tra_JPEGLossless.dcm';
    const bad = readFileSync(join(FIXTURES, name));
    const rois = lumbarRois(phantom);
    const res = await plain.upload(
      '/imaging/vbq',
      form({ files: [...files(phantom), { name, data: bad }], rois }),
    );
    expect(res.status).toBe(400);
    const oo = (await res.json()) as OperationOutcome;
    expect(issueCodes(oo)).toContain('invalid-dicom');
    expect(oo.issue[0]!.diagnostics).toContain(name);

    const text = await plain.upload(
      '/imaging/vbq',
      form({ files: [{ name: 'notes.txt', data: Buffer.from('not a DICOM file at all') }], rois }),
    );
    expect(text.status).toBe(400);
    const oo2 = (await text.json()) as OperationOutcome;
    expect(issueCodes(oo2)).toContain('invalid-dicom');
    expect(oo2.issue[0]!.diagnostics).toContain('notes.txt');
  });

  it('answers 400 invalid-roi for bad ROIs and 400 invalid-request for missing parts', async () => {
    const cases: [FormData, number, string][] = [
      [form({ files: files(phantom), rois: '{not json' }), 400, 'invalid-roi'],
      [
        form({ files: files(phantom), rois: { rois: [{ label: 'X9', shape: 'ellipse' }] } }),
        400,
        'invalid-roi',
      ],
      [
        form({
          files: files(phantom),
          rois: { rois: lumbarRois(phantom).rois.map((r) => ({ ...r, sopInstanceUID: '1.2.3.4' })) },
        }),
        400,
        'invalid-roi',
      ],
      [form({ files: files(phantom) }), 400, 'invalid-request'],
      [form({ rois: lumbarRois(phantom) }), 400, 'invalid-request'],
      [
        form({ files: files(phantom), rois: lumbarRois(phantom), sr: phantom.files[0]! }),
        400,
        'invalid-request',
      ],
      [form({ files: files(phantom), rois: lumbarRois(phantom), write: 'maybe' }), 400, 'invalid-request'],
    ];
    for (const [f, status, code] of cases) {
      const res = await plain.upload('/imaging/vbq', f);
      expect(res.status).toBe(status);
      expect(issueCodes((await res.json()) as OperationOutcome)).toContain(code);
    }
    const wrongPart = new FormData();
    wrongPart.append('images', new Blob([phantom.files[0]!]), 'a.dcm');
    const res = await plain.upload('/imaging/vbq', wrongPart);
    expect(res.status).toBe(400);
    expect(issueCodes((await res.json()) as OperationOutcome)).toContain('invalid-request');
  });

  it('answers 415 to a non-multipart body and 401 without a valid JWT', async () => {
    const json = await plain.post('/imaging/vbq', { body: '{}', contentType: 'application/json' });
    expect(json.status).toBe(415);
    expect(issueCodes((await json.json()) as OperationOutcome)).toContain('unsupported-media-type');
    const get = await fetch(`${plain.baseUrl}/imaging/vbq`);
    expect(get.status).toBe(405);

    const f = () => form({ files: files(phantom), rois: lumbarRois(phantom) });
    const none = await plain.upload('/imaging/vbq', f(), { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    // A token for another URL (the hooks) is not accepted here.
    const otherAud = await plain.client.sign({ aud: `${plain.baseUrl}/cds-services` });
    expect((await plain.upload('/imaging/vbq', f(), { token: otherAud })).status).toBe(401);
    // A token for the upload route does not open the study route.
    const uploadAud = await plain.client.sign({ aud: `${plain.baseUrl}/imaging/vbq` });
    expect((await plain.post('/imaging/vbq/studies/1.2.3', { token: uploadAud })).status).toBe(401);
  });

  it('answers 413 over the file-count, per-file and total limits', async () => {
    const ok = await small.upload('/imaging/vbq', form({ files: files(phantom), rois: lumbarRois(phantom) }));
    expect(ok.status).toBe(200);
    const big = await makePhantom({ width: 256, height: 256, slices: 1, uidRoot: '2.25.5102' });
    const five = [...files(phantom), ...files(phantom).slice(0, 2)];
    const over: FormData[] = [
      form({ files: five, rois: lumbarRois(phantom) }),
      form({ files: files(big), rois: lumbarRois(big) }),
      form({
        files: [0, 1, 2].map((i) => ({ name: `pad-${i}`, data: new Uint8Array(110_000) })),
        rois: lumbarRois(phantom),
      }),
    ];
    for (const f of over) {
      const res = await small.upload('/imaging/vbq', f);
      expect(res.status).toBe(413);
      expect(issueCodes((await res.json()) as OperationOutcome)).toContain('payload-too-large');
    }
  });

  it('answers 413 to a chunked upload (no Content-Length) over the total limit while it streams', async () => {
    const f = form({
      files: [0, 1, 2, 3].map((i) => ({ name: `pad-${i}`, data: new Uint8Array(100_000) })),
      rois: lumbarRois(phantom),
    });
    const encoded = new Response(f);
    const bytes = new Uint8Array(await encoded.arrayBuffer());
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let o = 0; o < bytes.length; o += 16_384) controller.enqueue(bytes.slice(o, o + 16_384));
        controller.close();
      },
    });
    const path = '/imaging/vbq';
    const res = await fetch(small.baseUrl + path, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await small.client.sign({ aud: small.baseUrl + path })}`,
        'content-type': encoded.headers.get('content-type')!,
      },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(res.headers.get('content-length')).not.toBeNull();
    expect(res.status).toBe(413);
    expect(issueCodes((await res.json()) as OperationOutcome)).toContain('payload-too-large');
  });

  it('refuses write=true when write-back is not configured', async () => {
    const res = await plain.upload(
      '/imaging/vbq',
      form({ files: files(phantom), rois: lumbarRois(phantom), write: 'true' }),
    );
    expect(res.status).toBe(400);
    const oo = (await res.json()) as OperationOutcome;
    expect(issueCodes(oo)).toContain('invalid-request');
    expect(oo.issue[0]!.diagnostics).toMatch(/FHIR_WRITE_BASE_URL/);
  });

  it('with write=true queues one conforming Observation per valid metric, once', async () => {
    const upload = () =>
      writing.upload(
        '/imaging/vbq',
        form({ files: files(phantom), rois: lumbarRois(phantom), write: 'true' }),
      );
    const first = (await (await upload()).json()) as Upload;
    expect(first.writes).toHaveLength(first.results.filter((r) => r.validity.valid).length);
    const w = first.writes!.find((x) => x.metric === 'vbq-l1-l4')!;
    expect(w.status).toBe('queued');
    expect(w.outboxId).toEqual(expect.any(Number));
    const second = (await (await upload()).json()) as Upload;
    const w2 = second.writes!.find((x) => x.metric === 'vbq-l1-l4')!;
    expect(w2).toMatchObject({ status: 'already-queued', outboxId: w.outboxId, identifier: w.identifier });

    const run = await writeback.runOnce();
    expect(run.dead).toBe(0);
    expect((await store.outboxStatus(w.outboxId!))?.status).toBe('done');
    const bundle = (await (
      await fetch(
        `${fhir.baseUrl}/Observation?identifier=${encodeURIComponent(`${w.identifier!.system}|${w.identifier!.value}`)}`,
      )
    ).json()) as Bundle<Observation>;
    expect(bundle.entry ?? []).toHaveLength(1);
    const obs = bundle.entry![0]!.resource!;
    expect(obs.subject?.reference).toBe(`Patient/${patientId}`);
    expect(obs.valueQuantity?.value).toBeCloseTo(expectedVbq(phantom).vbq, 10);
    expect(obs.effectiveDateTime).toBe('2025-03-14');
    expect(
      getProfileValidator()
        .validate(obs)
        .filter((i) => i.severity === 'error'),
    ).toEqual([]);
  });

  it('refuses the write of a valid measurement that has no date', async () => {
    const undated = await makePhantom({
      uidRoot: '2.25.5103',
      header: { StudyDate: '', SeriesDate: '', AcquisitionDate: '', AcquisitionTime: '' },
    });
    const res = await writing.upload(
      '/imaging/vbq',
      form({ files: files(undated), rois: lumbarRois(undated), write: 'true' }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Upload;
    expect(vbqOf(body).validity.valid).toBe(true);
    const w = body.writes!.find((x) => x.metric === 'vbq-l1-l4')!;
    expect(w.status).toBe('refused');
    expect(w.reason?.code).toBe('no-effective-date');
    expect(w.outboxId).toBeUndefined();
  });

  it('study route: 503 without a PACS or write-back, 502 when the PACS is unreachable, 400 on a bad UID', async () => {
    const path = '/imaging/vbq/studies/1.2.826.0.1.3680043.2.1125.1';
    const notReady = await plain.post(path);
    expect(notReady.status).toBe(503);
    expect(((await notReady.json()) as OperationOutcome).issue[0]!.diagnostics).toMatch(/DICOMWEB_BASE_URL/);
    const down = await writing.post(path);
    expect(down.status).toBe(502);
    expect(issueCodes((await down.json()) as OperationOutcome)).toContain('upstream-unavailable');
    const bad = await writing.post('/imaging/vbq/studies/not-a-uid');
    expect(bad.status).toBe(400);
  });
});
