/**
 * Real Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core, headless, with
 * a fresh profile per launch, plus axe-core injection and screenshots on request (test-artifacts/, git-ignored).
 * Tests skip with a clear message when the browser is not installed (CI installs it).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium unless `CHROMIUM_PATH` names another build (`.ci/run` sets it). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const chromiumAvailable = fs.existsSync(CHROMIUM_PATH);
export const chromiumSkipReason = `Chromium not found at ${CHROMIUM_PATH}: browser tests skipped (apt-get install chromium)`;

/** Where screenshots and other browser artifacts go (kept by CI, ignored by git). */
export const ARTIFACTS_DIR = path.resolve(import.meta.dirname, '../../test-artifacts');

const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Launches headless Chromium with a throw-away profile directory. */
export async function launchBrowser(): Promise<TestBrowser> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core (WCAG 2.0/2.1 A and AA rules) in the page; returns the serious and critical violations. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol, so the page's CSP (script-src 'self') stays on while testing.
  await page.evaluate(axeSource);
  const result = (await page.evaluate(
    `axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })`,
  )) as { violations: AxeViolation[] };
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
}

/**
 * Whether tests save screenshots of the pages they check: with `TEST_SCREENSHOTS=1`, or when refreshing
 * the README's (`UPDATE_DOCS_SCREENSHOTS=1`). Off by default: nothing asserts on them, and a full-page
 * PNG costs Chromium about a second of CPU, some twenty of them per run.
 */
const screenshotsWanted = process.env.TEST_SCREENSHOTS === '1' || process.env.UPDATE_DOCS_SCREENSHOTS === '1';

/**
 * Saves a screenshot (full page unless told) under test-artifacts/ and returns its path, when
 * screenshots are wanted (`screenshotsWanted`) or `always` (e.g. the page a failing test left behind).
 */
export async function saveScreenshot(
  page: Page,
  name: string,
  fullPage = true,
  always = false,
): Promise<string | undefined> {
  if (!screenshotsWanted && !always) return undefined;
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}
