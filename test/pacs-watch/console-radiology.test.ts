/**
 * The console's Radiology page with real data, in Chromium: the service (demo mode, for its sign-in) with
 * the radiology loop on (PACS_WATCH=on against a real Orthanc holding synthetic lumbar MR studies and ROI
 * reports, write-back to the embedded FHIR server holding open VBQ measurement Tasks). The watcher records
 * what it did not measure; the page shows the worklist (requested studies first, with the planned surgery
 * date or "date not stated") and those reports, passes the axe check, and /metrics shows the watcher's
 * counters. `UPDATE_DOCS_SCREENSHOTS=1` refreshes docs/screenshots/console-radiology.png for the README.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Patient, Task } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { DEMO_CONSOLE_USERS } from '../../src/demo/auth-server/index.js';
import { storeInstances } from '../../src/dicomweb/client.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { RADIOLOGY_TASK_SYSTEM } from '../../src/writeback/task-completion.js';
import {
  chromiumAvailable,
  chromiumSkipReason,
  launchBrowser,
  saveScreenshot,
  seriousAxeViolations,
  type TestBrowser,
} from '../helpers/browser.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { findOrthanc, startOrthanc, type OrthancHandle } from '../helpers/orthanc.js';
import { makePhantom } from '../helpers/phantom.js';
import { buildViewerSr, lumbarViewerRois } from '../imaging/ohif-sr.js';

const DOCS_SCREENSHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');
const PID_SYSTEM = 'urn:dicom:patient-id';
const noOrthanc = !findOrthanc() && !process.env.CI;
const skipReason = !chromiumAvailable
  ? chromiumSkipReason
  : 'Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm): skipped; under CI this fails instead';

/** A day relative to today, as DICOM DA (YYYYMMDD) and ISO (YYYY-MM-DD). */
function day(offsetDays: number): { da: string; iso: string } {
  const iso = new Date(Date.now() + offsetDays * 24 * 3600_000).toISOString().slice(0, 10);
  return { da: iso.replace(/-/g, ''), iso };
}
const REQUESTED = day(-26);
const UNDATED = day(-41);
const PLAIN = day(-13);
const OUTSIDE = day(-60);
const SURGERY = day(13);

function measurementTask(studyInstanceUID: string, plannedSurgery?: string): Task {
  return {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    code: { coding: [{ system: RADIOLOGY_TASK_SYSTEM, code: 'measure-vbq' }] },
    for: { reference: 'Patient/phantom-patient' },
    authoredOn: new Date().toISOString(),
    ...(plannedSurgery ? { restriction: { period: { end: plannedSurgery } } } : {}),
    input: [
      {
        type: { coding: [{ system: RADIOLOGY_TASK_SYSTEM, code: 'study-instance-uid' }] },
        valueOid: `urn:oid:${studyInstanceUID}`,
      },
    ],
  };
}

if (!chromiumAvailable || noOrthanc) {
  describe('console Radiology page in Chromium', () => {
    it.skip(skipReason, () => undefined);
  });
} else {
  describe('console Radiology page in Chromium, with a real Orthanc and the PACS watcher', () => {
    let orthanc: OrthancHandle;
    let fhir: TestFhirServer;
    let server: http.Server;
    let runtime: Runtime;
    let browser: TestBrowser;
    let base: string;
    let dataDir: string;
    const uids: Record<string, string> = {};

    beforeAll(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-radiology-console-'));
      const patient: Patient = {
        resourceType: 'Patient',
        id: 'phantom-patient',
        identifier: [{ system: PID_SYSTEM, value: 'PHANTOM-001' }],
      };
      [orthanc, fhir] = await Promise.all([
        startOrthanc(),
        startFhirServer({
          seed: [{ resourceType: 'Bundle', type: 'collection', entry: [{ resource: patient }] }],
        }),
      ]);
      // Three lumbar MR studies waiting for a VBQ: two requested by the surgery-order card (one with a
      // planned surgery date, one without), one not requested.
      const studies = [
        { key: 'requested', date: REQUESTED.da, description: 'MR LUMBAR SPINE W/O CONTRAST' },
        { key: 'undated', date: UNDATED.da, description: 'MR L-SPINE' },
        { key: 'plain', date: PLAIN.da, description: 'MR LUMBAR SPINE' },
      ];
      for (const [i, s] of studies.entries()) {
        const p = await makePhantom({
          slices: 1,
          uidRoot: `2.25.7401${i}`,
          header: {
            StudyDate: s.date,
            SeriesDate: s.date,
            AcquisitionDate: s.date,
            StudyDescription: s.description,
          },
        });
        await storeInstances({ baseUrl: orthanc.dicomWebUrl }, p.files);
        uids[s.key] = p.studyInstanceUID;
      }
      // Two ROI reports the watcher will not measure: one drawn on images not in the PACS (malformed), one
      // without VBQ labels (ignored).
      // The SRs carry the study's attributes, as a viewer's do.
      const study = {
        StudyDate: OUTSIDE.da,
        StudyTime: '101500',
        StudyDescription: 'MR LUMBAR SPINE (outside)',
      };
      const q = await makePhantom({
        syntax: 'rle',
        slices: 3,
        noise: 10,
        noiseStart: 7,
        uidRoot: '2.25.74019',
        header: { ...study, SeriesDate: OUTSIDE.da, AcquisitionDate: OUTSIDE.da },
      });
      const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
      const malformed = buildViewerSr(
        q,
        lumbarViewerRois(q).map((r) => ({ ...r, sopInstanceUID: '2.25.1.2.3.4.5' })),
        '2.25.74019.9.1',
        'comment',
        { ...study, ContentDate: today },
      );
      const ignored = buildViewerSr(
        q,
        lumbarViewerRois(q).map((r) => ({ ...r, label: 'lesion' })),
        '2.25.74019.9.2',
        'comment',
        { ...study, ContentDate: today },
      );
      await storeInstances({ baseUrl: orthanc.dicomWebUrl }, [...q.files, malformed, ignored]);
      for (const task of [measurementTask(uids.requested!, SURGERY.iso), measurementTask(uids.undated!)]) {
        const res = await fetch(`${fhir.baseUrl}/Task`, {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify(task),
        });
        expect(res.status).toBe(201);
      }

      server = http.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      runtime = await createRuntime(
        loadConfig({
          PUBLIC_BASE_URL: base,
          DATA_DIR: dataDir,
          DEMO_MODE: 'on',
          LOG_LEVEL: 'silent',
          DICOMWEB_BASE_URL: orthanc.dicomWebUrl,
          PACS_WATCH: 'on',
          PACS_WATCH_INTERVAL_MS: '1000',
          FHIR_WRITE_BASE_URL: fhir.baseUrl,
          DICOM_PATIENT_IDENTIFIER_SYSTEM: PID_SYSTEM,
          VIEWER_URL_TEMPLATE: 'http://localhost:3000/viewer?StudyInstanceUIDs={StudyInstanceUID}',
        }),
        { logger: createLogger('silent') },
      );
      server.on('request', runtime.app);
      browser = await launchBrowser();
      // The watcher (started with the runtime) records both reports within a poll or two.
      const deadline = Date.now() + 30_000;
      for (;;) {
        const text = await (await fetch(`${base}/metrics`)).text();
        const ignoredSeen = /cds_pacs_watch_reports_total\{outcome="ignored"\} 1/.test(text);
        const malformedSeen = /cds_pacs_watch_reports_total\{outcome="malformed"\} 1/.test(text);
        if (ignoredSeen && malformedSeen) break;
        if (Date.now() > deadline) throw new Error(`the watcher did not record the reports:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      await runtime?.close();
      await fhir?.stop();
      await orthanc?.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('shows the worklist (requested first, with the planned surgery date) and the reports not measured', async () => {
      await browser.context.clearCookies();
      const user = DEMO_CONSOLE_USERS.find((u) => u.role === 'viewer')!;
      const page = await browser.newPage();
      await page.goto(`${base}/console/`);
      await page.waitForURL(/\/demo-auth\/interaction\//);
      await page.getByLabel('User name').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/console/`);

      await page.goto(`${base}/console/radiology`);
      const rows = await page.$$eval('#worklist tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())),
      );
      // Requested (dated, then undated) first, then the rest newest first.
      expect(rows.map((r) => [r[0], r[1], r[4]])).toEqual([
        [REQUESTED.iso, 'MR LUMBAR SPINE W/O CONTRAST', `yes (${SURGERY.iso})`],
        [UNDATED.iso, 'MR L-SPINE', 'yes (date not stated)'],
        [PLAIN.iso, 'MR LUMBAR SPINE', 'no'],
        [OUTSIDE.iso, 'MR LUMBAR SPINE (outside)', 'no'],
      ]);
      expect(
        await page.locator('#worklist a', { hasText: 'Open in the viewer' }).first().getAttribute('href'),
      ).toBe(`http://localhost:3000/viewer?StudyInstanceUIDs=${uids.requested}`);
      const reports = await page.$$eval('#watch-reports tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())),
      );
      expect(reports.map((r) => r[0]).sort()).toEqual(['ignored', 'malformed']);
      expect(reports.find((r) => r[0] === 'malformed')?.[1]).toMatch(
        /^ROI "L1" \(\[uid\]\) references an image that is not in the series$/,
      );
      // A viewer never sees study or SR instance UIDs in the page (only inside the viewer links).
      const html = (await page.content()).replace(/href="[^"]*"/g, '');
      for (const uid of [...Object.values(uids), '2.25.74019.9.1']) expect(html).not.toContain(uid);
      expect(await seriousAxeViolations(page)).toEqual([]);
      const file = await saveScreenshot(page, 'console-radiology');
      // `UPDATE_DOCS_SCREENSHOTS=1 npx vitest run test/pacs-watch/console-radiology.test.ts` refreshes it.
      if (file && process.env.UPDATE_DOCS_SCREENSHOTS === '1')
        fs.copyFileSync(file, path.join(DOCS_SCREENSHOTS, 'console-radiology.png'));
      await page.close();

      // The service's /metrics carries the watcher's counters.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/cds_pacs_watch_polls_total\{result="ok"\} [1-9]/);
      expect(metrics).toMatch(/cds_pacs_watch_last_poll_timestamp_seconds [1-9]/);
      expect(metrics).toMatch(/cds_pacs_watch_series_total\{verdict="measurable"\} [1-9]/);
    }, 60_000);
  });
}
