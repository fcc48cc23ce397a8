/**
 * The calibration report in a real browser: Debian's Chromium driven by playwright-core (headless), the
 * page checked with axe-core (WCAG 2.1 A/AA) and printed to PDF. Skipped, saying why, when Chromium is
 * not installed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCohortCsv } from '../../src/calibration/cohort.js';
import { runCalibration } from '../../src/calibration/run.js';
import { CHROMIUM_PATH, saveScreenshot, seriousAxeViolations } from '../helpers/browser.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { shippedOutcomes } from './helpers.js';

const available = fs.existsSync(CHROMIUM_PATH);
if (!available)
  console.warn(`Chromium not found at ${CHROMIUM_PATH}: calibration report browser test skipped`);

const EXAMPLE = path.resolve(import.meta.dirname, '../../examples/calibration/cohort.csv');

describe.skipIf(!available)('calibration report in Chromium', () => {
  let context: BrowserContext;
  let dir: string;
  let file: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'calibration-report-'));
    const run = await runCalibration({
      rows: parseCohortCsv(fs.readFileSync(EXAMPLE, 'utf8')),
      kb: shippedKnowledgeBase(),
      outcomes: shippedOutcomes(),
      options: { metric: 'vbq-l1-l4', outcome: 'osteoporosis-dxa', replicates: 500 },
      site: 'Example <Hospital> & "Clinic"',
      now: new Date('2026-11-30T10:00:00Z'),
      report: true,
    });
    file = path.join(dir, 'report.html');
    fs.writeFileSync(file, run.report!);
    context = await chromium.launchPersistentContext(path.join(dir, 'profile'), {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
      viewport: { width: 1100, height: 900 },
      timeout: 60_000,
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('renders the ROC and distribution plots per field strength with text alternatives, escaping input text', async () => {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(`file://${file}`);
    expect(await page.title()).toBe(
      'Site calibration: vbq-l1-l4 for Osteoporosis on DXA — Example <Hospital> & "Clinic"',
    );
    const charts = page.locator('figure.chart svg[role="img"]');
    const labels = await charts.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(labels).toEqual([
      'ROC curves at 1.5 T',
      'Score distributions at 1.5 T',
      'ROC curves at 3 T',
      'Score distributions at 3 T',
    ]);
    // Each plot really drew its data: a ROC path per stratum, histogram bars.
    expect(
      await page.locator('figure.chart svg[aria-label="ROC curves at 3 T"] path').count(),
    ).toBeGreaterThanOrEqual(3);
    expect(
      await page.locator('figure.chart svg[aria-label="Score distributions at 1.5 T"] rect').count(),
    ).toBeGreaterThan(10);
    const box = await charts.first().boundingBox();
    expect(box!.width).toBeGreaterThan(300);
    expect(box!.height).toBeGreaterThan(200);
    const captions = await page.locator('figure.chart figcaption').allTextContents();
    expect(captions[0]).toMatch(/^ROC curves at 1\.5 T\. 1\.5 T: AUC 0\.\d{3} \(95% CI 0\.\d{3}–0\.\d{3}\)/);
    expect(captions[1]).toMatch(
      /90 patients with osteoporosis on DXA \(median score \d\.\d\d\) and 210 without/,
    );
    await expect(page.locator('text=field-strength-unknown').first()).toBeDefined();
    expect(await page.locator('td.refused').count()).toBe(1);
    expect(await page.locator('header').textContent()).toContain('Example <Hospital> & "Clinic"');
    expect(errors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    await saveScreenshot(page, 'calibration-report');
    await page.close();
  }, 60_000);

  it('has no serious or critical axe-core violations (WCAG 2.1 A/AA)', async () => {
    const page = await context.newPage();
    await page.goto(`file://${file}`);
    expect(await seriousAxeViolations(page)).toEqual([]);
    await page.close();
  }, 60_000);

  it('prints: the PDF has the report on A4 pages', async () => {
    const page = await context.newPage();
    await page.goto(`file://${file}`);
    await page.emulateMedia({ media: 'print' });
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    expect(pages).toBeGreaterThanOrEqual(2);
    await page.close();
  }, 60_000);
});
