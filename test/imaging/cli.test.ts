import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import express from 'express';
import type { Bundle, Patient } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/index.js';
import { exitCodeTable } from '../../src/imaging/cli-exit.js';
import { main } from '../../src/imaging/cli.js';
import { lumbarRois, makePhantom } from '../helpers/phantom.js';
import type { Phantom, PhantomOptions } from '../helpers/phantom.js';
import { buildViewerSr, lumbarViewerRois } from './ohif-sr.js';

const ROOT = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];

function run(argv: string[], env: Record<string, string | undefined> = {}) {
  let stdout = '';
  let stderr = '';
  return main(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), env }).then((code) => ({
    code,
    stdout,
    stderr,
  }));
}

function roiJson(p: Phantom): object {
  return lumbarRois(p);
}

/** Writes a phantom series and its ROI JSON into a fresh temp dir. */
async function studyDir(
  opts: PhantomOptions = {},
): Promise<{ dir: string; series: string; rois: string; p: Phantom }> {
  const dir = mkdtempSync(join(tmpdir(), 'vbq-cli-'));
  dirs.push(dir);
  const p = await makePhantom(opts);
  const series = join(dir, 'series');
  rmSync(series, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(series));
  p.files.forEach((f, i) => writeFileSync(join(series, `IM${String(i + 1).padStart(4, '0')}.dcm`), f));
  writeFileSync(join(series, 'README.txt'), 'not DICOM; must be skipped');
  const rois = join(dir, 'rois.json');
  writeFileSync(rois, JSON.stringify(roiJson(p)));
  return { dir, series, rois, p };
}

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('vbq CLI (in process)', () => {
  it('prints the JSON result and exits 0 for a valid measurement', async () => {
    const { series, rois } = await studyDir();
    const r = await run(['measure', series, '--rois', rois, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as {
      results: { metric: string; value: number; validity: { valid: boolean } }[];
    };
    expect(out.results.map((x) => [x.metric, x.value, x.validity.valid])).toEqual([['vbq-l1-l4', 2.5, true]]);
  });

  it('prints a readable summary', async () => {
    const { series, rois } = await studyDir();
    const r = await run(['measure', series, '--rois', rois]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('VBQ L1-L4 (vbq-l1-l4): 2.500');
    expect(r.stdout).toMatch(/CSF L3: 164\.0/);
    expect(r.stdout).toMatch(/acquisition: 1\.5 T, T1 TSE, TR 550 ms, TE 11 ms/);
  });

  it('exits 2 and prints the reason when the measurement is refused', async () => {
    const { series, rois } = await studyDir({
      header: { SeriesDescription: 't2_tse_sag', RepetitionTime: '3500', EchoTime: '110' },
    });
    const r = await run(['measure', series, '--rois', rois]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('REFUSED');
    expect(r.stdout).toMatch(/reason not-t1: the image is T2-weighted/);
    expect(r.stderr).toContain('vbq-l1-l4 refused: not-t1');
  });

  it('exits 1 on unreadable DICOM, invalid ROIs or a missing file', async () => {
    const { series, rois, dir } = await studyDir({ slices: 1 });
    const bad = join(dir, 'bad.dcm');
    writeFileSync(bad, Buffer.from('garbage'));
    let r = await run(['measure', bad, '--rois', rois]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid-dicom: .*bad\.dcm: not a DICOM Part-10 file/);

    const malformed = join(dir, 'gh1339.dcm');
    copyFileSync(
      join(ROOT, 'test/fixtures/dicom/fodicom_GH1339_MR_spine_t2_tse_tra_JPEGLossless.dcm'),
      malformed,
    );
    r = await run(['measure', malformed, '--rois', rois]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/truncated or corrupt/);

    const badRois = join(dir, 'bad-rois.json');
    writeFileSync(
      badRois,
      JSON.stringify({ rois: [{ label: 'L1', shape: 'ellipse', points: [[1, 1]], sopInstanceUID: '1.2' }] }),
    );
    r = await run(['measure', series, '--rois', badRois]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/invalid-roi: .*\n.*rois\[0\]\.points: ellipse needs exactly 4 points/);

    r = await run(['measure', join(dir, 'does-not-exist'), '--rois', rois]);
    expect(r.code).toBe(1);
  });

  it('exits 64 on usage errors', async () => {
    expect((await run([])).code).toBe(64);
    expect((await run(['measure', 'x'])).code).toBe(64);
    expect((await run(['measure', 'x', '--rois', 'a', '--sr', 'b'])).code).toBe(64);
    expect((await run(['measure', 'x', '--rois', 'a', '--bogus'])).code).toBe(64);
    expect((await run(['measure', 'x', '--rois', 'a', '--patient', 'pat-1'])).code).toBe(64);
    expect((await run(['sample'])).code).toBe(64);
    expect((await run(['frobnicate', 'x'])).code).toBe(64);
  });

  it('prints the exit code table (3 and 64 included) with --help', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(exitCodeTable());
    for (const code of [0, 1, 2, 3, 64]) expect(r.stdout).toMatch(new RegExp(`^\\| ${code} +\\| `, 'm'));
  });

  it('skips a corrupt file in a directory with one warning and measures the rest', async () => {
    const { series, rois } = await studyDir({ slices: 3 });
    // A slice that is not the ROI slice, cut in half: unreadable, but not needed.
    const whole = readFileSync(join(series, 'IM0001.dcm'));
    writeFileSync(join(series, 'IM0001.dcm'), whole.subarray(0, whole.length >> 1));
    const r = await run(['measure', series, '--rois', rois]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('VBQ L1-L4 (vbq-l1-l4): 2.500');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^vbq: skipped: invalid-dicom: .*IM0001\.dcm: the file is truncated or corrupt/);
    expect(lines[1]).toMatch(/^vbq: skipped: invalid-dicom: .*README\.txt: not a DICOM Part-10 file/);
    expect(lines[2]).toBe('vbq: skipped 2 of 4 files that are not readable DICOM');
  });

  it('names the SOP Instance UIDs the series holds when an ROI points elsewhere', async () => {
    const { series, dir, p } = await studyDir({ slices: 2 });
    const wrong = join(dir, 'wrong.json');
    const json = lumbarRois(p);
    json.rois[0]!.sopInstanceUID = '1.2.3.4';
    writeFileSync(wrong, JSON.stringify(json));
    const r = await run(['measure', series, '--rois', wrong]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('references an image that is not in the series');
    expect(r.stderr).toContain('sopInstanceUID 1.2.3.4');
    for (const uid of p.sopInstanceUIDs) expect(r.stderr).toContain(`the input holds ${uid} (instance `);

    const missing = join(dir, 'missing.json');
    delete json.rois[0]!.sopInstanceUID;
    writeFileSync(missing, JSON.stringify(json));
    const m = await run(['measure', series, '--rois', missing]);
    expect(m.code).toBe(1);
    expect(m.stderr).toContain('rois[0].sopInstanceUID: is missing: the SOP Instance UID of the image');
    expect(m.stderr).not.toContain('received undefined');
  });

  it('inspect lists studies, series, instance UIDs and acquisition facts', async () => {
    const { series, p } = await studyDir({ slices: 2 });
    const r = await run(['inspect', series]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`study ${p.studyInstanceUID} (2025-03-14) MRI LUMBAR SPINE WO`);
    expect(r.stdout).toContain(`series ${p.seriesInstanceUID} MR "t1_tse_sag", 2 instances`);
    expect(r.stdout).toContain('sequence: T1 TSE, sagittal');
    expect(r.stdout).toContain('acquisition: 1.5 T, TR 550 ms, TE 11 ms, BW 190 Hz/px');
    expect(r.stdout).toContain('lumbar VBQ check: passes');
    expect(r.stdout).toContain(`instance 2: ${p.sopInstanceUIDs[1]} 128x128`);
    expect(r.stdout).not.toContain('PHANTOM-001');
    expect(r.stderr).toMatch(/skipped: invalid-dicom: .*README\.txt/);
    const j = await run(['inspect', series, '--json']);
    const out = JSON.parse(j.stdout) as {
      studies: { series: { instances: { sopInstanceUID: string }[] }[] }[];
    };
    expect(out.studies[0]!.series[0]!.instances.map((i) => i.sopInstanceUID)).toEqual(p.sopInstanceUIDs);

    const t2 = await studyDir({
      slices: 1,
      header: { SeriesDescription: 't2_tse_sag', RepetitionTime: '3500', EchoTime: '110' },
    });
    expect((await run(['inspect', t2.series])).stdout).toContain('lumbar VBQ check: refused (not-t1)');
    expect((await run(['inspect', t2.rois])).code).toBe(1);
  });

  it('sample writes a series, ROI file and SR that measure alike, and never overwrites', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vbq-sample-'));
    dirs.push(dir);
    const target = join(dir, 'example');
    const s = await run(['sample', target]);
    expect(s.code).toBe(0);
    const viaJson = await run([
      'measure',
      join(target, 'series'),
      '--rois',
      join(target, 'rois.json'),
      '--json',
    ]);
    const viaSr = await run([
      'measure',
      join(target, 'series'),
      '--sr',
      join(target, 'rois-sr.dcm'),
      '--json',
    ]);
    expect(viaJson.code).toBe(0);
    expect(viaSr.code).toBe(0);
    const value = (out: string) => (JSON.parse(out) as { results: { value: number }[] }).results[0]!.value;
    expect(value(viaSr.stdout)).toBe(value(viaJson.stdout));
    expect(value(viaJson.stdout)).toBeGreaterThan(2.3);
    expect(value(viaJson.stdout)).toBeLessThan(2.6);
    const again = await run(['sample', target]);
    expect(again.code).toBe(64);
    expect(again.stderr).toContain('is not empty');
  });

  it('reads ROIs from a viewer SR and shows progress on a large series', async () => {
    const { series, dir, p } = await studyDir({ slices: 24, width: 64, height: 64 });
    const sr = join(dir, 'rois-sr.dcm');
    writeFileSync(sr, buildViewerSr(p, lumbarViewerRois(p, 8, 2, 1)));
    // The SR may sit in the series folder too: it is recognised and not measured as an image.
    copyFileSync(sr, join(series, 'zz-sr.dcm'));
    const r = await run(['measure', series, '--sr', sr, '--json']);
    expect(r.code).toBe(0);
    // README.txt is the 26th file: named once, left out, counted in the summary.
    expect(r.stderr).toContain('read 26/26 files');
    expect(r.stderr).toMatch(/skipped: invalid-dicom: .*README\.txt: not a DICOM Part-10 file/);
    expect(r.stderr).toContain('skipped 1 of 26 files that are not readable DICOM');
    const out = JSON.parse(r.stdout) as { results: { value: number; roiSource: { kind: string } }[] };
    expect(out.results[0]!.value).toBe(2.5);
    expect(out.results[0]!.roiSource.kind).toBe('sr');
  });
});

describe('vbq CLI --write against the embedded FHIR server over HTTP', () => {
  let base = '';
  let close: () => void = () => undefined;
  const authSeen: (string | undefined)[] = [];

  beforeAll(async () => {
    const patient: Patient = {
      resourceType: 'Patient',
      id: 'pat-1',
      identifier: [{ system: 'urn:test:mrn', value: 'PHANTOM-001' }],
    };
    const seed: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] };
    const fhir = await createEmbeddedFhirServer({ seed: [seed] });
    const app = express();
    app.use((req, _res, next) => {
      authSeen.push(req.headers.authorization);
      next();
    });
    app.use('/fhir', fhir.router);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
    close = () => server.close();
  });
  afterAll(() => close());

  it('writes one Observation per metric, idempotently, for the Patient found by identifier', async () => {
    const { series, rois } = await studyDir({ slices: 1 });
    const env = {
      FHIR_WRITE_BASE_URL: base,
      FHIR_WRITE_TOKEN: 'secret-token',
      DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:test:mrn',
    };
    const first = await run(['measure', series, '--rois', rois, '--write', '--timezone', '+01:00'], env);
    // Only the non-DICOM README.txt of the series folder is mentioned.
    expect(first.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^vbq: skipped: invalid-dicom: .*README\.txt: not a DICOM Part-10 file/),
      'vbq: skipped 1 of 2 files that are not readable DICOM',
    ]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/written vbq-l1-l4: created \(Observation\/[\w-]+\)/);
    const second = await run(['measure', series, '--rois', rois, '--write', '--json'], env);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout).written).toEqual([
      expect.objectContaining({ metric: 'vbq-l1-l4', status: 'exists' }),
    ]);

    const res = await fetch(`${base}/Observation?subject=Patient/pat-1`);
    const bundle = (await res.json()) as Bundle;
    const observations = (bundle.entry ?? []).map((e) => e.resource);
    expect(observations).toHaveLength(1);
    expect(observations[0]).toMatchObject({
      valueQuantity: { value: 2.5 },
      effectiveDateTime: '2025-03-14T10:22:33.250+01:00',
    });
    expect(authSeen.filter((a) => a !== undefined).every((a) => a === 'Bearer secret-token')).toBe(true);
    expect(authSeen.length).toBeGreaterThanOrEqual(4);
  });

  it('checks the write-back configuration before measuring (exit 64, nothing measured)', async () => {
    const { series, rois } = await studyDir({ slices: 1 });
    const noBase = await run(['measure', series, '--rois', rois, '--write']);
    expect(noBase.code).toBe(64);
    expect(noBase.stdout).toBe('');
    expect(noBase.stderr).toMatch(/^vbq: --write needs FHIR_WRITE_BASE_URL/);

    const noSystem = await run(['measure', series, '--rois', rois, '--write'], { FHIR_WRITE_BASE_URL: base });
    expect(noSystem.code).toBe(64);
    expect(noSystem.stderr).toContain('DICOM_PATIENT_IDENTIFIER_SYSTEM');

    const bad = await run(['measure', series, '--rois', rois, '--write', '--patient', 'Patient/pat-1'], {
      FHIR_WRITE_BASE_URL: 'ftp://x',
      FHIR_WRITE_CLIENT_ID: 'c',
    });
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('FHIR_WRITE_BASE_URL must be an http(s) URL');
    expect(bad.stderr).toContain('FHIR_WRITE_TOKEN_URL, FHIR_WRITE_PRIVATE_KEY_FILE');
    expect(bad.stdout).toBe('');
  });

  it('names the full URL when the FHIR server cannot be reached, without the patient identifier', async () => {
    const { series, rois } = await studyDir({ slices: 1 });
    const r = await run(['measure', series, '--rois', rois, '--write'], {
      FHIR_WRITE_BASE_URL: 'http://127.0.0.1:1/fhir',
      DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:test:mrn',
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      'vbq: write-back failed: resolving the subject: FHIR server unreachable at http://127.0.0.1:1/fhir/Patient?...\n',
    );
    expect(r.stderr).not.toContain('PHANTOM-001');
  });

  it('exits 3 when the write-back fails and never writes refused results', async () => {
    const { series, rois } = await studyDir({ slices: 1 });
    const down = await run(['measure', series, '--rois', rois, '--write', '--patient', 'Patient/pat-1'], {
      FHIR_WRITE_BASE_URL: 'http://127.0.0.1:9/fhir',
    });
    expect(down.code).toBe(3);
    expect(down.stderr).toContain(
      'write-back failed: writing the Observation: FHIR server unreachable at http://127.0.0.1:9/fhir/Observation\n',
    );

    const t2 = await studyDir({
      slices: 1,
      header: { SeriesDescription: 't2_tse_sag', RepetitionTime: '3500', EchoTime: '110' },
    });
    const refused = await run(
      ['measure', t2.series, '--rois', t2.rois, '--write', '--patient', 'Patient/pat-1'],
      {
        FHIR_WRITE_BASE_URL: 'http://127.0.0.1:9/fhir',
      },
    );
    expect(refused.code).toBe(2);
  });
});

describe('vbq CLI as a real process', () => {
  it('runs `tsx src/imaging/cli.ts measure ...` and exits with the documented codes', async () => {
    const { series, rois } = await studyDir({ slices: 2 });
    const exec = promisify(execFile);
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    const ok = await exec(tsx, ['src/imaging/cli.ts', 'measure', series, '--rois', rois, '--json'], {
      cwd: ROOT,
    });
    expect(JSON.parse(ok.stdout).results[0].value).toBe(2.5);
    const failed = await exec(tsx, ['src/imaging/cli.ts', 'measure', rois, '--rois', rois], {
      cwd: ROOT,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/not a DICOM Part-10 file/);
    // Two cold tsx start-ups: allow for a loaded CI machine.
  }, 120_000);
});
