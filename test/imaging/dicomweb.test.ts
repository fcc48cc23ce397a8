import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Bundle } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedFhirServer } from '../../src/demo/fhir-server/index.js';
import {
  parseMultipart,
  retrieveFrames,
  retrieveSeries,
  searchSeries,
  storeInstances,
} from '../../src/dicomweb/client.js';
import { fetchStudyFromDicomweb } from '../../src/imaging/pacs-study.js';
import { keyedUidGenerator, uidFromKey } from '../../src/imaging/uids.js';
import { buildObservation, measurementIdentifier } from '../../src/imaging/observations.js';
import { writeMeasurementSr } from '../../src/imaging/sr-writer.js';
import { measureStudy } from '../../src/imaging/vbq.js';
import { noFhirAuth } from '../../src/writeback/fhir-auth.js';
import { createObservationWriter } from '../../src/writeback/observation-writer.js';
import { findOrthanc, startOrthanc } from '../helpers/orthanc.js';
import type { OrthancHandle } from '../helpers/orthanc.js';
import { makePhantom } from '../helpers/phantom.js';
import type { Phantom } from '../helpers/phantom.js';
import { buildViewerSr, lumbarViewerRois } from './ohif-sr.js';

describe('multipart/related parsing', () => {
  it('splits parts, keeps binary payloads intact and accepts quoted boundaries', () => {
    const a = Buffer.from([0, 1, 2, 13, 10, 45, 45, 255]);
    const b = Buffer.from('second part');
    const body = Buffer.concat([
      Buffer.from('preamble\r\n--abc\r\nContent-Type: application/dicom\r\n\r\n'),
      a,
      Buffer.from('\r\n--abc\r\nContent-Type: application/dicom\r\nX-Extra: 1\r\n\r\n'),
      b,
      Buffer.from('\r\n--abc--\r\n'),
    ]);
    const parts = parseMultipart(body, 'multipart/related; type="application/dicom"; boundary="abc"');
    expect(parts).toHaveLength(2);
    expect(Buffer.from(parts[0]!.data).equals(a)).toBe(true);
    expect(Buffer.from(parts[1]!.data).toString()).toBe('second part');
    expect(parts[1]!.headers['x-extra']).toBe('1');
    expect(() => parseMultipart(body, 'multipart/related')).toThrow(/boundary/);
  });

  it('derives stable DICOM UIDs from seeds', () => {
    expect(uidFromKey('x')).toBe(uidFromKey('x'));
    expect(uidFromKey('x')).not.toBe(uidFromKey('y'));
    expect(uidFromKey('x')).toMatch(/^2\.25\.[1-9][0-9]*$/);
    expect(uidFromKey('x').length).toBeLessThanOrEqual(64);
    const g = keyedUidGenerator('s');
    expect([g(), g()]).toEqual([uidFromKey('s#1'), uidFromKey('s#2')]);
  });
});

const orthancBinary = findOrthanc();
const skipOrthanc = !orthancBinary && !process.env.CI;
const title = skipOrthanc
  ? 'DICOMweb against Orthanc — SKIPPED: Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm); under CI this fails instead'
  : 'DICOMweb against a real Orthanc (DICOMweb + GDCM plugins)';

describe.skipIf(skipOrthanc)(title, () => {
  let orthanc: OrthancHandle;
  let p: Phantom;
  let viewerSr: Buffer;

  beforeAll(async () => {
    orthanc = await startOrthanc();
    // Uncompressed on purpose: Orthanc 1.10.1's GDCM plugin crashes (SIGSEGV) now and then when it transcodes
    // JPEG 2000 frames under load. The service never asks the PACS to transcode (it retrieves instances as
    // stored and decodes them itself; JPEG 2000 decoding is tested in test/imaging).
    p = await makePhantom({ syntax: 'explicit', slices: 5, noise: 20, noiseStart: 5, uidRoot: '2.25.4242' });
    viewerSr = buildViewerSr(p, lumbarViewerRois(p), '2.25.4242.9.1');
  });
  afterAll(async () => {
    await orthanc?.stop();
  });

  it('uploads with STOW-RS, finds series with QIDO-RS and retrieves instances and frames with WADO-RS', async () => {
    const client = { baseUrl: orthanc.dicomWebUrl };
    const stored = await storeInstances(client, [...p.files, viewerSr]);
    expect(stored.failed).toEqual([]);
    expect(stored.stored).toHaveLength(6);
    const series = await searchSeries(client, p.studyInstanceUID);
    expect(series.map((s) => s.modality).sort()).toEqual(['MR', 'SR']);
    expect(
      (await searchSeries(client, p.studyInstanceUID, { modality: 'SR' })).map((s) => s.seriesInstanceUID),
    ).toEqual(['2.25.4242.9.1.0']);
    const files = await retrieveSeries(client, p.studyInstanceUID, p.seriesInstanceUID);
    expect(files.map((f) => f.byteLength).sort()).toEqual(p.files.map((f) => f.byteLength).sort());
    // Frames come back as the phantom's pixels.
    const [frame] = await retrieveFrames(
      client,
      p.studyInstanceUID,
      p.seriesInstanceUID,
      p.sopInstanceUIDs[0]!,
      [1],
    );
    const px = new Uint16Array(frame!.buffer.slice(frame!.byteOffset, frame!.byteOffset + frame!.byteLength));
    expect(Array.from(px)).toEqual(Array.from(p.truth[0]!));
    await expect(retrieveSeries(client, p.studyInstanceUID, '1.2.3.999')).rejects.toMatchObject({
      code: 'not-found',
    });
  });

  it('pulls the study and its ROI report, measures, writes the SR back and one Observation, twice', async () => {
    const client = { baseUrl: orthanc.dicomWebUrl };
    const fhir = await createEmbeddedFhirServer();
    const app = express();
    app.use('/fhir', fhir.router);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const fhirBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
    try {
      const values: (number | null)[] = [];
      for (let run = 0; run < 2; run++) {
        const fetched = await fetchStudyFromDicomweb(client, p.studyInstanceUID);
        expect(fetched.srSopInstanceUID).toBe('2.25.4242.9.1');
        expect(fetched.files).toHaveLength(5);
        const study = await measureStudy({ files: fetched.files, rois: fetched.rois });
        const vbq = study.results[0]!;
        expect(vbq.validity.valid).toBe(true);
        values.push(vbq.value);
        const seed = `${measurementIdentifier(vbq).value}|sr`;
        const sr = writeMeasurementSr({
          ...study,
          uid: keyedUidGenerator(seed),
          now: new Date('2025-03-15T08:00:00Z'),
        });
        await storeInstances(client, [sr.buffer]);
        const obs = buildObservation(vbq, { patientReference: 'Patient/pat-1' });
        await createObservationWriter({ baseUrl: fhirBase, auth: noFhirAuth() }).write(obs);
      }
      expect(values[0]).toBe(values[1]);
      // Our SR went back to the PACS once (same UIDs on the second run), and was not mistaken for ROIs.
      const srSeries = await searchSeries(client, p.studyInstanceUID, { modality: 'SR' });
      expect(srSeries).toHaveLength(2);
      const ours = srSeries.find((s) => s.seriesInstanceUID !== '2.25.4242.9.1.0')!;
      expect(ours.seriesDescription).toBe('Bone quality measurements (VBQ)');
      expect(await retrieveSeries(client, p.studyInstanceUID, ours.seriesInstanceUID)).toHaveLength(1);
      const bundle = (await (await fetch(`${fhirBase}/Observation?subject=Patient/pat-1`)).json()) as Bundle;
      expect(bundle.entry ?? []).toHaveLength(1);
    } finally {
      server.close();
    }
  });

  it('reports a study without ROI report as not-found and an unreachable PACS as upstream-unavailable', async () => {
    await expect(fetchStudyFromDicomweb({ baseUrl: orthanc.dicomWebUrl }, '1.2.3.4.5')).rejects.toMatchObject(
      { code: 'not-found' },
    );
    await expect(
      fetchStudyFromDicomweb({ baseUrl: 'http://127.0.0.1:9/dicom-web' }, '1.2.3'),
    ).rejects.toMatchObject({
      code: 'upstream-unavailable',
    });
  });
});
