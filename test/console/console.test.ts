/**
 * The informaticist's console in a real browser: the service in demo mode on loopback, Debian's Chromium
 * driven by playwright-core, sign-in through the real OpenID Connect flow against the demo authorization
 * server (oidc-provider; openid-client on our side, code + PKCE) as each demo console user. Cards come from
 * real hook calls signed by the demo client and feedback is posted through the real feedback endpoint; the
 * expected analytics are computed from those responses, not written down. Every page gets an axe-core check.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ServiceRequest } from 'fhir/r4.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsCard } from '../../src/cds/types.js';
import { tryRequest } from '../../src/console/index.js';
import { loadConfig } from '../../src/config/config.js';
import { DEMO_CONSOLE_USERS } from '../../src/demo/auth-server/index.js';
import { signDemoJwt } from '../../src/demo/demo-client.js';
import { readDemoSeed } from '../../src/demo/seed/index.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { ORDER_SIGN_SERVICE_ID } from '../../src/services/order-sign.js';
import {
  chromiumAvailable,
  chromiumSkipReason,
  launchBrowser,
  saveScreenshot,
  seriousAxeViolations,
  type TestBrowser,
} from '../helpers/browser.js';
import { scopedPostgresUrl } from '../helpers/store.js';

/** Demo patients whose order-sign call returns cards (see docs/demo-patients.md). */
const PATIENTS = [
  'demo-tlif-high-vbq',
  'demo-tlif-osteoporosis-critical',
  'demo-low-ct-hu',
  'demo-tlif-borderline-vbq',
  'demo-deformity-osteoporosis',
];
const DOCS_SCREENSHOTS = path.resolve(import.meta.dirname, '../../docs/screenshots');

type Role = (typeof DEMO_CONSOLE_USERS)[number]['role'];

interface Expected {
  shown: number;
  accepted: number;
  overridden: number;
  ignored: number;
}

async function screenshot(page: Page, name: string, fullPage = true): Promise<void> {
  const file = await saveScreenshot(page, name, fullPage);
  // `UPDATE_DOCS_SCREENSHOTS=1 npx vitest run test/console` refreshes the README's screenshots.
  if (file && process.env.UPDATE_DOCS_SCREENSHOTS === '1')
    fs.copyFileSync(file, path.join(DOCS_SCREENSHOTS, `${name}.png`));
}

async function expectAccessible(page: Page): Promise<void> {
  expect(await seriousAxeViolations(page)).toEqual([]);
}

/** The rows of a table as text cells (row header first). */
async function tableRows(page: Page, selector: string): Promise<string[][]> {
  return page.$$eval(`${selector} tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('th, td')].map((c) => (c.textContent ?? '').trim())),
  );
}

if (!chromiumAvailable) {
  describe('console in Chromium', () => {
    it.skip(chromiumSkipReason, () => undefined);
  });
} else {
  describe('console in Chromium (OIDC sign-in against the demo authorization server)', () => {
    let server: http.Server;
    let runtime: Runtime;
    let base: string;
    let dataDir: string;
    let browser: TestBrowser;
    const expected = new Map<string, Expected>();
    const suggestionExpect = new Map<string, { offered: number; accepted: number }>();
    const reasonsExpected = new Map<string, number>();
    let deadItem: number;
    let overridesFile: string;
    let replacedCutoff: string;
    let addedCutoffs: string[];

    const callHook = async (patient: string): Promise<{ status: number; body: { cards: CdsCard[] } }> => {
      const order = readDemoSeed(patient).draftOrders.find(
        (r): r is ServiceRequest => r.resourceType === 'ServiceRequest',
      );
      const coding = order!.code!.coding![0]!;
      const url = `${base}/cds-services/${ORDER_SIGN_SERVICE_ID}`;
      const body = tryRequest({
        hook: 'order-sign',
        patient,
        procedure: { system: coding.system!, code: coding.code!, display: coding.display ?? '' },
        fhirServer: `${base}/demo-fhir`,
      });
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await signDemoJwt(dataDir, url)}`,
        },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: (await res.json()) as { cards: CdsCard[] } };
    };

    const postFeedback = async (feedback: unknown[]) => {
      const url = `${base}/cds-services/${ORDER_SIGN_SERVICE_ID}/feedback`;
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await signDemoJwt(dataDir, url)}`,
        },
        body: JSON.stringify({ feedback }),
      });
      expect(res.status).toBe(200);
    };

    async function signIn(role: Role): Promise<Page> {
      await browser.context.clearCookies();
      const user = DEMO_CONSOLE_USERS.find((u) => u.role === role)!;
      const page = await browser.newPage();
      await page.goto(`${base}/console/`);
      // The demo authorization server's own sign-in form (we were redirected there by the console).
      await page.waitForURL(/\/demo-auth\/interaction\//);
      await page.getByLabel('User name').fill(user.username);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(`${base}/console/`);
      expect(await page.getByTestId('role').textContent()).toBe(role);
      return page;
    }

    beforeAll(async () => {
      dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-console-'));
      // A site overrides file: the shipped example (adds a site-calibrated cutoff) plus a replacement of
      // the first shipped cutoff, so the knowledge page has both kinds to show.
      const root = path.resolve(import.meta.dirname, '../..');
      const example = JSON.parse(
        fs.readFileSync(path.join(root, 'cds-services/overrides.example.json'), 'utf8'),
      ) as {
        cutoffs: { id: string }[];
      };
      const shipped = JSON.parse(fs.readFileSync(path.join(root, 'cds-services/cutoffs.json'), 'utf8')) as {
        cutoffs: { id: string; threshold: number }[];
      };
      const first = shipped.cutoffs[0]!;
      replacedCutoff = first.id;
      addedCutoffs = example.cutoffs.map((c) => c.id);
      overridesFile = path.join(dataDir, 'overrides.json');
      fs.writeFileSync(
        overridesFile,
        JSON.stringify({
          ...example,
          cutoffs: [...example.cutoffs, { ...first, threshold: first.threshold + 0.1 }],
        }),
      );
      server = http.createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      // On PostgreSQL too when TEST_DATABASE_URL is set (sessions, card catalogue, queries in that dialect).
      const pgUrl = process.env.TEST_DATABASE_URL;
      runtime = await createRuntime(
        loadConfig({
          PUBLIC_BASE_URL: base,
          DATA_DIR: dataDir,
          DEMO_MODE: 'on',
          LOG_LEVEL: 'silent',
          KNOWLEDGE_OVERRIDES_FILE: overridesFile,
          ...(pgUrl ? { DATABASE_URL: await scopedPostgresUrl(pgUrl) } : {}),
        }),
        { logger: createLogger('silent') },
      );
      server.on('request', runtime.app);
      browser = await launchBrowser();

      // Real hook calls, then feedback through the real endpoint: in turn, a card accepted (its first
      // suggestion), the next overridden (its first offered reason), the next ignored.
      const now = new Date().toISOString();
      let turn = 0;
      for (const patient of PATIENTS) {
        const { status, body } = await callHook(patient);
        expect(status).toBe(200);
        expect(body.cards.length).toBeGreaterThan(0);
        const feedback: unknown[] = [];
        body.cards.forEach((card) => {
          const i = turn++ % 3;
          const key = `${card.source.topic?.code}|${card.indicator}`;
          const e = expected.get(key) ?? { shown: 0, accepted: 0, overridden: 0, ignored: 0 };
          e.shown += 1;
          const suggestion = card.suggestions?.find((s) => s.uuid);
          const reason = card.overrideReasons?.[0];
          for (const s of card.suggestions ?? []) {
            if (!s.uuid) continue;
            const se = suggestionExpect.get(`${card.source.topic?.code}|${s.label}`) ?? {
              offered: 0,
              accepted: 0,
            };
            se.offered += 1;
            if (i === 0 && s === suggestion) se.accepted += 1;
            suggestionExpect.set(`${card.source.topic?.code}|${s.label}`, se);
          }
          if (i === 0 && suggestion) {
            e.accepted += 1;
            feedback.push({
              card: card.uuid,
              outcome: 'accepted',
              acceptedSuggestions: [{ id: suggestion.uuid }],
              outcomeTimestamp: now,
            });
          } else if (i === 1 && reason) {
            e.overridden += 1;
            reasonsExpected.set(reason.code!, (reasonsExpected.get(reason.code!) ?? 0) + 1);
            feedback.push({
              card: card.uuid,
              outcome: 'overridden',
              overrideReason: { reason },
              outcomeTimestamp: now,
            });
          } else e.ignored += 1;
          expected.set(key, e);
        });
        if (feedback.length > 0) await postFeedback(feedback);
      }
      // The data set exercises every outcome (else the analytics checks below could pass vacuously).
      const totals = [...expected.values()];
      expect(totals.some((e) => e.accepted > 0) && totals.some((e) => e.ignored > 0)).toBe(true);
      expect(reasonsExpected.size).toBeGreaterThan(0);
      // A dead write-back item (as the worker leaves one after a permanent refusal).
      const { id } = await runtime.store.enqueue('fhir-observation', 'console-test-item', { test: true });
      await runtime.store.failOutbox(id, 'HTTP 422 from the FHIR server: profile validation failed', null);
      deadItem = id;
      // A refused token from the demo client, for the Clients page.
      const url = `${base}/cds-services`;
      const refused = await fetch(url, {
        headers: { authorization: `Bearer ${await signDemoJwt(dataDir, `${base}/elsewhere`)}` },
      });
      expect(refused.status).toBe(401);
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      server?.closeAllConnections();
      await new Promise((r) => server?.close(r));
      await runtime?.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    });

    it('without a session the console sends the browser to the identity provider; no page is served', async () => {
      const res = await fetch(`${base}/console/audit`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('location')).toBe('/console/login?returnTo=%2Fconsole%2Faudit');
      const login = await fetch(`${base}/console/login`, { redirect: 'manual' });
      const target = new URL(login.headers.get('location')!);
      expect(target.origin + target.pathname).toBe(`${base}/demo-auth/auth`);
      expect(target.searchParams.get('code_challenge_method')).toBe('S256');
      expect(target.searchParams.get('client_id')).toBe('console-demo');
      const cookie = login.headers.getSetCookie().find((c) => c.startsWith('sbh_console='));
      expect(cookie).toMatch(/HttpOnly/i);
      expect(cookie).toMatch(/SameSite=Lax/i);
      expect(cookie).toMatch(/Path=\/console/);
    });

    it('a wrong password is refused by the demo authorization server', async () => {
      await browser.context.clearCookies();
      const page = await browser.newPage();
      await page.goto(`${base}/console/`);
      await page.waitForURL(/\/demo-auth\/interaction\//);
      await page.getByLabel('User name').fill('demo-admin');
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('alert').textContent()).resolves.toMatch(/wrong password/);
      await page.close();
    }, 120_000);

    it('viewer: knowledge, analytics and CSV, audit without patient ids, no retry, no "try a patient"', async () => {
      const page = await signIn('viewer');
      expect(await page.getByTestId('drift-status').textContent()).toBe('Drift watch not configured.');
      await expectAccessible(page);
      await screenshot(page, 'console-overview');

      await page.goto(`${base}/console/knowledge`);
      const cutoffs = await tableRows(page, '#cutoffs');
      expect(cutoffs.map((r) => r[0])).toEqual(runtime.kb.cutoffs.map((c) => c.id));
      for (const row of cutoffs) {
        const source =
          row[0] === replacedCutoff
            ? 'replaced by site override'
            : addedCutoffs.includes(row[0]!)
              ? 'added by site override'
              : 'shipped';
        expect({ id: row[0], source: row[11] }).toEqual({ id: row[0], source });
      }
      const main = (await page.textContent('main'))!;
      expect(main).toContain(createHash('sha256').update(fs.readFileSync(overridesFile)).digest('hex'));
      const provenance = await tableRows(
        page,
        'table:has(caption:text("Provenance of the site-calibrated cutoffs"))',
      );
      expect(provenance.map((r) => r[0])).toEqual(addedCutoffs);
      expect(main).toContain(runtime.kb.version.split('; ')[0]!.split(' ')[1]!);
      await expectAccessible(page);
      await screenshot(page, 'console-knowledge', false);

      // The card catalogue and audit rows are written in batches: wait until the analytics show them.
      await expect
        .poll(
          async () => {
            await page.goto(`${base}/console/feedback`);
            return (await tableRows(page, '#topics')).filter((r) => r[0] !== 'unknown').length;
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe(expected.size);
      const rows = await tableRows(page, '#topics');
      for (const [key, e] of expected) {
        const [topic, indicator] = key.split('|');
        const row = rows.find((r) => r[0] === topic && r[2] === indicator);
        expect(row?.slice(3, 8)).toEqual([
          String(e.shown),
          String(e.shown),
          String(e.accepted),
          String(e.overridden),
          String(e.ignored),
        ]);
      }
      const reasons = await tableRows(page, '#reasons');
      expect(new Map(reasons.map((r) => [r[0], Number(r[2])]))).toEqual(reasonsExpected);
      const suggestions = await tableRows(page, '#suggestions');
      for (const [key, s] of suggestionExpect) {
        const [topic, label] = key.split('|');
        const row = suggestions.find((r) => r[0] === label && r[1] === topic);
        expect(row?.slice(2, 4)).toEqual([String(s.offered), String(s.accepted)]);
      }
      expect(await page.locator('.plot svg[role="img"]').count()).toBe(1);
      await expectAccessible(page);
      await screenshot(page, 'console-feedback');

      // CSV export: same numbers, one line per topic and indicator.
      const csv = await page.request.get(`${base}/console/feedback.csv`);
      expect(csv.status()).toBe(200);
      expect(csv.headers()['content-type']).toMatch(/^text\/csv/);
      const lines = (await csv.text()).trim().split('\r\n');
      expect(lines[0]).toBe(
        'period_start,period_end,service,topic,indicator,shown,presentations,accepted,overridden,ignored,acceptance_rate',
      );
      const csvRows = lines.slice(1).map((l) => l.split(','));
      for (const [key, e] of expected) {
        const [topic, indicator] = key.split('|');
        const row = csvRows.find((r) => r[3] === topic && r[4] === indicator);
        expect(row?.slice(2, 11)).toEqual([
          ORDER_SIGN_SERVICE_ID,
          topic,
          indicator,
          String(e.shown),
          String(e.shown),
          String(e.accepted),
          String(e.overridden),
          String(e.ignored),
          (e.accepted / e.shown).toFixed(4),
        ]);
      }

      await page.goto(`${base}/console/audit?outcome=cards`);
      const audit = await tableRows(page, '#audit');
      expect(audit.length).toBeGreaterThanOrEqual(PATIENTS.length);
      const headers = await page.$$eval('#audit thead th', (ths) => ths.map((t) => t.textContent));
      expect(headers).not.toContain('Patient');
      const html = await page.content();
      for (const patient of PATIENTS) expect(html).not.toContain(patient);
      await expectAccessible(page);

      await page.goto(`${base}/console/writeback`);
      expect(await page.getByTestId(`state-${deadItem}`).textContent()).toBe('dead');
      expect(await page.getByRole('button', { name: /Retry/ }).count()).toBe(0);
      expect(await page.textContent('main')).toContain('profile validation failed');
      await expectAccessible(page);

      // A forged retry from the viewer's own session (valid CSRF token) is still refused: role, not UI.
      const token = await page.$eval('input[name="_csrf"]', (i) => (i as unknown as { value: string }).value);
      const forged = await page.request.post(`${base}/console/writeback/${deadItem}/retry`, {
        form: { _csrf: token },
        headers: { accept: 'application/json' },
        maxRedirects: 0,
      });
      expect(forged.status()).toBe(403);
      expect(await runtime.store.outboxStatus(deadItem)).toMatchObject({ status: 'dead' });

      const tryPage = await page.goto(`${base}/console/try`);
      expect(tryPage?.status()).toBe(403);
      expect(await page.getByTestId('error-code').textContent()).toBe('forbidden');

      // Last authentication per client: the demo client's success and its refused token (reason code).
      await expect
        .poll(
          async () => {
            await page.goto(`${base}/console/clients`);
            return (await tableRows(page, '#clients')).find(
              (r) => r[0] === 'urn:spine-bone-health-cds:demo-ehr',
            )?.[7];
          },
          { timeout: 15_000, interval: 500 },
        )
        .toBe('aud-mismatch');
      const client = (await tableRows(page, '#clients')).find(
        (r) => r[0] === 'urn:spine-bone-health-cds:demo-ehr',
      )!;
      expect(client[5]).toMatch(/^\d{4}-\d{2}-\d{2} /);
      expect(client[4]).toContain('/demo-fhir');
      expect(await page.content()).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
      await expectAccessible(page);
      await screenshot(page, 'console-clients');
      await page.close();
    }, 120_000);

    it('analyst: audit with patient ids; "try a patient" shows the cards exactly as the API returns them', async () => {
      const page = await signIn('analyst');
      await page.goto(`${base}/console/audit?outcome=cards`);
      const headers = await page.$$eval('#audit thead th', (ths) => ths.map((t) => t.textContent));
      expect(headers).toContain('Patient');
      const patients = (await tableRows(page, '#audit')).map((r) => r[7]);
      for (const patient of PATIENTS) expect(patients).toContain(patient);
      await expectAccessible(page);
      await screenshot(page, 'console-audit');

      await page.goto(`${base}/console/try`);
      const patient = PATIENTS[1]!;
      const order = readDemoSeed(patient).draftOrders.find(
        (r): r is ServiceRequest => r.resourceType === 'ServiceRequest',
      )!;
      const coding = order.code!.coding![0]!;
      await page.locator('#patient').selectOption(patient);
      await page.locator('#procedure').selectOption(`${coding.system}|${coding.code}`);
      await page.locator('#service').selectOption(ORDER_SIGN_SERVICE_ID);
      await page.getByRole('button', { name: 'Run the hook' }).click();
      await page.waitForSelector('#response-json');
      const shown = JSON.parse((await page.textContent('#response-json'))!) as { cards: CdsCard[] };
      const request = JSON.parse((await page.textContent('#request-json'))!) as {
        hook: string;
        context: { patientId: string };
      };
      expect(request.hook).toBe('order-sign');
      expect(request.context.patientId).toBe(patient);
      const direct = await callHook(patient);
      // Equal but for the time the draft orders in the suggestions were authored (now, at each call).
      const timeless = (cards: CdsCard[]) =>
        JSON.parse(JSON.stringify(cards).replace(/"authoredOn":"[^"]+"/g, '"authoredOn":"T"')) as unknown;
      expect(shown.cards.length).toBeGreaterThan(0);
      expect(timeless(shown.cards)).toEqual(timeless(direct.body.cards));
      const rendered = await page.$$eval('#cards article h3', (hs) => hs.map((h) => h.textContent));
      expect(rendered).toEqual(direct.body.cards.map((c) => c.summary));
      await expectAccessible(page);
      await screenshot(page, 'console-try');

      // The radiology loop is not configured in this demo runtime (no PACS): the page says so.
      await page.goto(`${base}/console/radiology`);
      expect(await page.textContent('main')).toContain('radiology loop is not configured');
      await expectAccessible(page);

      await page.goto(`${base}/console/writeback`);
      expect(await page.getByRole('button', { name: /Retry/ }).count()).toBe(0);
      expect(await page.textContent('main')).toContain('console-test-item');
      await page.close();
    }, 120_000);

    it('admin: retries a dead outbox item (it moves to pending); a form without the CSRF token is refused', async () => {
      const page = await signIn('admin');
      await page.goto(`${base}/console/writeback`);
      expect(await page.getByTestId(`state-${deadItem}`).textContent()).toBe('dead');

      // CSRF: the admin's own session, a form without (or with a wrong) token: 403 csrf-invalid, no change.
      for (const form of [{} as Record<string, string>, { _csrf: 'forged-token' }]) {
        const res = await page.request.post(`${base}/console/writeback/${deadItem}/retry`, {
          form,
          headers: { accept: 'application/json' },
          maxRedirects: 0,
        });
        expect(res.status()).toBe(403);
        const outcome = (await res.json()) as { issue: { details: { coding: { code: string }[] } }[] };
        expect(outcome.issue[0]!.details.coding[0]!.code).toBe('csrf-invalid');
      }
      // And with no session at all: 401, not a redirect.
      const anonymous = await fetch(`${base}/console/writeback/${deadItem}/retry`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: '_csrf=x',
        redirect: 'manual',
      });
      expect(anonymous.status).toBe(401);
      expect(await runtime.store.outboxStatus(deadItem)).toMatchObject({ status: 'dead' });

      await expectAccessible(page);
      await screenshot(page, 'console-writeback');
      await page.getByRole('button', { name: `Retry item ${deadItem}` }).click();
      await page.waitForURL(/retried=/);
      expect(await page.getByRole('status').textContent()).toContain(`#${deadItem}`);
      expect(await page.getByTestId(`state-${deadItem}`).textContent()).toBe('pending');
      expect(await runtime.store.outboxStatus(deadItem)).toMatchObject({ status: 'pending', attempts: 0 });

      // Sign-out ends the session: the console asks for sign-in again.
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.waitForURL(`${base}/console/signed-out`);
      const after = await page.request.get(`${base}/console/`, { maxRedirects: 0 });
      expect(after.status()).toBe(302);
      await page.close();
    }, 120_000);
  });
}
