/**
 * The care-team view in a real browser: the service in demo mode (its own demo SMART authorization server
 * and embedded FHIR server) on loopback, Debian's Chromium driven by playwright-core, the SMART EHR launch
 * for several demo patients (authorization code + PKCE through oidc-provider, patient-scoped token, the
 * card's appContext), then the plot, the tables and axe-core on the rendered page. The expected points and
 * cutoffs are computed from the demo seed and the knowledge base, not written down here.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { FhirResource, Observation, ServiceRequest } from 'fhir/r4.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { requestDemoLaunchUrl } from '../../src/demo/auth-server/index.js';
import { demoPatients, readDemoSeed } from '../../src/demo/seed/index.js';
import { createLogger } from '../../src/http/logger.js';
import { BONE_QUALITY_SYSTEM, type KnowledgeBase } from '../../src/knowledge/index.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import {
  chromiumAvailable,
  chromiumSkipReason,
  launchBrowser,
  saveScreenshot,
  seriousAxeViolations,
  type TestBrowser,
} from '../helpers/browser.js';

const PATIENTS = [
  'demo-tlif-high-vbq',
  'demo-tlif-osteoporosis-critical',
  'demo-tlif-vbq-hyperlipidemia',
  'demo-low-ct-hu',
  'demo-acdf-high-cvbq',
];
const DXA_LSC_HIP = 0.3;
const CARD_UUID = '5f0c3b7e-8a61-4d2b-9c1e-2a7d4b6e9f01';

interface Expected {
  procedureCode: string;
  family: string;
  /** metric -> values (in seed order) */
  points: Map<string, { value: number; date: string; site?: string }[]>;
  hasHyperlipidemia: boolean;
}

function expectedFor(kb: KnowledgeBase, id: string): Expected {
  const seed = readDemoSeed(id);
  const order = seed.draftOrders.find((r): r is ServiceRequest => r.resourceType === 'ServiceRequest');
  const code = order?.code?.coding?.[0]?.code ?? '';
  const entry = kb.codeLists['spine-surgery-procedures'].codes.find((c) => c.code === code);
  const points = new Map<string, { value: number; date: string; site?: string }[]>();
  const add = (metric: string, p: { value: number; date: string; site?: string }) =>
    points.set(metric, [...(points.get(metric) ?? []), p]);
  for (const r of seed.stored as FhirResource[]) {
    if (r.resourceType !== 'Observation') continue;
    const obs = r as Observation;
    const value = obs.valueQuantity?.value;
    const date = obs.effectiveDateTime ?? '';
    if (typeof value !== 'number') continue;
    const bq = obs.code.coding?.find((c) => c.system === BONE_QUALITY_SYSTEM)?.code;
    if (bq) {
      add(bq, { value, date });
      continue;
    }
    const dxa = kb.codeLists['dxa-t-score'].codes.find(
      (c) => c.kind === 't-score' && obs.code.coding?.some((x) => x.system === c.system && x.code === c.code),
    );
    if (dxa) add('dxa-t-score', { value, date, site: dxa.site });
  }
  const hyperlipidemia = kb.codeLists.hyperlipidemia.codes;
  return {
    procedureCode: code,
    family: entry?.family ?? '',
    points,
    hasHyperlipidemia: (seed.stored as FhirResource[]).some(
      (r) =>
        r.resourceType === 'Condition' &&
        r.code?.coding?.some((c) => hyperlipidemia.some((h) => h.system === c.system && h.code === c.code)),
    ),
  };
}

const humanDate = (iso: string) =>
  new Intl.DateTimeFormat('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  }).format(new Date(iso));

async function tokenResponse(page: Page): Promise<Record<string, unknown>> {
  return (await page.evaluate(
    `Object.values(sessionStorage).map((v) => { try { return JSON.parse(v); } catch { return null; } })
       .find((v) => v && typeof v === 'object' && v.tokenResponse)?.tokenResponse ?? null`,
  )) as Record<string, unknown>;
}

if (!chromiumAvailable) {
  describe('care-team view in Chromium', () => {
    it.skip(chromiumSkipReason, () => undefined);
  });
} else {
  describe('care-team view in Chromium (SMART EHR launch against the demo authorization server)', () => {
    let server: http.Server;
    let runtime: Runtime;
    let base: string;
    let dataDir: string;
    let browser: TestBrowser;

    beforeAll(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-care-team-'));
      server = http.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const config = loadConfig({
        PUBLIC_BASE_URL: base,
        DATA_DIR: dataDir,
        DEMO_MODE: 'on',
        LOG_LEVEL: 'silent',
        CARE_TEAM_DXA_LSC: `total-hip=${DXA_LSC_HIP}`,
      });
      runtime = await createRuntime(config, { logger: createLogger('silent') });
      server.on('request', runtime.app);
      browser = await launchBrowser();
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      await runtime?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    for (const id of PATIENTS) {
      it(`${id}: the plot shows the patient's points and the procedure's cutoff, the tables the values, no serious axe violation`, async () => {
        const kb = runtime.kb;
        const expected = expectedFor(kb, id);
        const demo = demoPatients().find((p) => p.id === id);
        const topic = demo?.cards[0]?.topic;
        const appContext = JSON.stringify({
          finding: topic,
          procedure: expected.procedureCode,
          card: CARD_UUID,
        });
        const url = await requestDemoLaunchUrl({ serviceBaseUrl: base, patientId: id, appContext });
        const page = await browser.newPage();
        const authorizeRequests: string[] = [];
        page.on('request', (r) => {
          if (r.url().startsWith(`${base}/demo-auth/auth`)) authorizeRequests.push(r.url());
        });
        try {
          await page.goto(url);
          await page.waitForSelector('body[data-ready]', { timeout: 90_000 });
          expect(await page.getAttribute('body', 'data-ready')).toBe('true');

          // The full SMART flow ran: EHR launch with PKCE S256, aud = the FHIR server.
          const authorize = new URL(authorizeRequests[0] ?? 'http://x');
          expect(authorize.searchParams.get('response_type')).toBe('code');
          expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
          expect(authorize.searchParams.get('launch')).toBeTruthy();
          expect(authorize.searchParams.get('aud')).toBe(`${base}/demo-fhir`);
          const token = await tokenResponse(page);
          expect(token.patient).toBe(id);
          expect(token.appContext).toBe(appContext);
          expect(String(token.scope)).toContain('patient/*.rs');

          if (topic) {
            const display = kb.cardTopics.find((t) => t.code === topic)?.display ?? '';
            expect(await page.textContent('.finding')).toContain(display);
          }
          expect(expected.points.size).toBeGreaterThan(0);
          for (const [metric, points] of expected.points) {
            const section = page.locator(`section[data-metric="${metric}"]`);
            await expect(section.count()).resolves.toBe(1);
            // Observable Plot draws one symbol per measurement in the "measurement" mark.
            await expect(section.locator('svg g.mark-measurement > *').count()).resolves.toBe(points.length);
            const values = (await section.locator('table.values').textContent()) ?? '';
            for (const p of points) {
              expect(values).toContain(String(p.value));
              expect(values).toContain(humanDate(p.date));
            }
            const svgText = (await section.locator('svg').first().textContent()) ?? '';
            const primary = kb.cutoffs.filter(
              (c) => c.metric === metric && c.primaryFor?.includes(expected.family as never),
            );
            if (metric === 'dxa-t-score' || metric === 'ct-hu-l1') {
              // The screening cutoffs (WHO T-score, Pickhardt HU) are drawn as dashed rules.
              const screening = kb.cutoffs.filter((c) => c.metric === metric && c.role === 'screening');
              await expect(section.locator('svg g.mark-screening-cutoff line').count()).resolves.toBe(
                screening.length,
              );
              for (const c of screening) expect(svgText).toContain(String(c.threshold).replace('-', '−'));
            } else {
              expect(primary.length).toBeGreaterThan(0);
              await expect(section.locator('svg g.mark-procedure-cutoff line').count()).resolves.toBe(
                primary.length,
              );
              for (const c of primary) expect(svgText).toContain(String(c.threshold));
            }
            if (metric === 'dxa-t-score' && points.some((p) => p.site === 'total-hip')) {
              // The ISCD least-significant-change band of the configured hip precision.
              await expect(section.locator('svg g.mark-lsc line').count()).resolves.toBe(
                points.filter((p) => p.site === 'total-hip').length,
              );
              expect(values).toContain(`± ${DXA_LSC_HIP}`);
            }
          }
          // The full table of published cutoffs names the procedure's own cutoffs with their source.
          const cutoffTable = (await page.locator('table.cutoffs').textContent()) ?? '';
          for (const c of kb.cutoffs.filter((c) => c.primaryFor?.includes(expected.family as never))) {
            expect(cutoffTable).toContain(String(c.threshold));
          }
          if (expected.hasHyperlipidemia) {
            expect(await page.locator('table.confounders').textContent()).toContain('Hyperlipidemia');
            expect(await page.locator('ul.caveats').textContent()).toContain(kb.caveats.hyperlipidemia.text);
          }
          // Every cited paper is a link.
          const refs = page.locator('ol.references li');
          expect(await refs.count()).toBeGreaterThan(0);
          expect(await page.locator('ol.references li a[href^="https://"]').count()).toBe(await refs.count());

          expect(await seriousAxeViolations(page)).toEqual([]);
          await saveScreenshot(page, `care-team-${id}`);
          await saveScreenshot(page, `care-team-${id}-top`, false);
          await page.emulateMedia({ media: 'print' });
          expect(await page.locator('#print').isVisible()).toBe(false);
          await page.emulateMedia({ media: 'screen' });
        } finally {
          await page.close();
        }
      }, 180_000);
    }

    it('the embedded FHIR server holds a launched token to its patient, read-only; calls without a token still work', async () => {
      const id = 'demo-tlif-high-vbq';
      const other = 'demo-tlif-normal-vbq';
      const url = await requestDemoLaunchUrl({ serviceBaseUrl: base, patientId: id });
      const page = await browser.newPage();
      try {
        await page.goto(url);
        await page.waitForSelector('body[data-ready]', { timeout: 90_000 });
        const token = String((await tokenResponse(page)).access_token);
        const fhir = `${base}/demo-fhir`;
        const get = (p: string, auth?: string) =>
          fetch(`${fhir}/${p}`, { headers: auth === undefined ? {} : { authorization: auth } });
        expect((await get(`Patient/${id}`, `Bearer ${token}`)).status).toBe(200);
        expect((await get(`Observation?patient=${id}`, `Bearer ${token}`)).status).toBe(200);
        const code = async (res: Response) =>
          ((await res.json()) as { issue: { details: { coding: { code: string }[] } }[] }).issue[0]?.details
            .coding[0]?.code;
        const cross = await get(`Patient/${other}`, `Bearer ${token}`);
        expect(cross.status).toBe(403);
        expect(await code(cross)).toBe('forbidden');
        expect((await get(`Observation?patient=${other}`, `Bearer ${token}`)).status).toBe(403);
        expect((await get('Observation', `Bearer ${token}`)).status).toBe(403);
        const write = await fetch(`${fhir}/Observation`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
          body: JSON.stringify({ resourceType: 'Observation', status: 'final', code: { text: 'x' } }),
        });
        expect(write.status).toBe(403);
        const bad = await get(`Patient/${id}`, 'Bearer not-a-token');
        expect(bad.status).toBe(401);
        expect(await code(bad)).toBe('unauthorized');
        expect(bad.headers.get('www-authenticate')).toBe('Bearer');
        // The demo EHR's own back-end calls (CDS demo client, simulator) carry no token.
        expect((await get(`Patient/${other}`)).status).toBe(200);
      } finally {
        await page.close();
      }
    }, 180_000);

    it('standalone launch (iss only): the demo server asks which patient, then the view opens on it', async () => {
      const id = 'demo-tlif-borderline-vbq';
      const page = await browser.newPage();
      try {
        await page.goto(`${base}/care-team/launch?iss=${encodeURIComponent(`${base}/demo-fhir`)}`);
        await page.locator(`button[name="patient"][value="${id}"]`).click();
        await page.waitForSelector('body[data-ready]', { timeout: 90_000 });
        expect(await page.getAttribute('body', 'data-ready')).toBe('true');
        const token = await tokenResponse(page);
        expect(token.patient).toBe(id);
        expect(token.need_patient_banner).toBe(true);
        await expect(
          page.locator('section[data-metric="vbq-l1-l4"] svg g.mark-measurement > *').count(),
        ).resolves.toBe(expectedFor(runtime.kb, id).points.get('vbq-l1-l4')?.length);
      } finally {
        await page.close();
      }
    }, 180_000);

    it('refuses a launch without iss and an unknown demo patient with 4xx OperationOutcomes', async () => {
      const noIss = await fetch(`${base}/care-team/launch`);
      expect(noIss.status).toBe(400);
      expect(((await noIss.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
      const unknown = await fetch(`${base}/demo-auth/launch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ patient: 'nobody' }),
      });
      expect(unknown.status).toBe(404);
      const knowledge = (await (await fetch(`${base}/care-team/knowledge.json`)).json()) as {
        cutoffs: unknown[];
      };
      expect(knowledge.cutoffs.length).toBe(runtime.kb.cutoffs.length);
    });
  });
}
