/**
 * Issue 13 (API documentation, start page, metrics) against the composed service (src/server.ts wiring, as
 * a deployment runs it): the OpenAPI document validates as OpenAPI 3.1 with a maintained validator and
 * matches the routes that exist (both directions); `GET /` answers HTML or JSON; feedback posted through
 * the real feedback endpoint, refused tokens and outbox items show up in /metrics; every metric the
 * Grafana dashboard queries exists.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { validate } from '@readme/openapi-parser';
import type { Express } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CdsCard } from '../../src/cds/types.js';
import { loadConfig } from '../../src/config/config.js';
import { ERRORS } from '../../src/errors.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { CHROMIUM_PATH } from '../helpers/browser.js';
import { startFhirServer, type TestFhirServer } from '../helpers/fhir-server.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { orderSignRequest } from '../helpers/requests.js';

type OpenApi = {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, { 'x-error-codes'?: string[] }> }>>;
};

const DASHBOARD = path.join(import.meta.dirname, '../../docs/grafana/spine-bone-health-cds.json');

/** Value of one sample line of the Prometheus text format, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.lastIndexOf('}'));
    const got = Object.fromEntries(
      [...inner.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => got[k] === v))
      return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

/** Metric names a PromQL expression reads: label matchers, grouping, ranges, strings and functions removed. */
export function metricNames(expr: string): string[] {
  const KEYWORDS = new Set([
    'by',
    'without',
    'on',
    'ignoring',
    'group_left',
    'group_right',
    'bool',
    'and',
    'or',
    'unless',
    'offset',
  ]);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '')
    .replace(/(?<![A-Za-z0-9_:])\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi, '')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, '');
  return [...stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !KEYWORDS.has(m[1]!) && !/^\d/.test(m[1]!))
    .map((m) => m[1]!)
    .filter((n) => !/^(Inf|NaN)$/.test(n));
}

/** Every route path registered on the app (mounted routers included, with their inner paths). */
function registeredPaths(app: Express): string[] {
  const out: string[] = [];
  type Layer = { route?: { path: string | string[] }; handle?: { stack?: Layer[] } };
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.route) out.push(...[layer.route.path].flat());
      else if (layer.handle?.stack) walk(layer.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return out;
}

describe('API documentation, start page and metrics (composed service)', () => {
  let fhir: TestFhirServer;
  let server: http.Server;
  let runtime: Runtime;
  let base: string;
  let client: TestClient;
  let doc: OpenApi;

  const signed = async (url: string) => `Bearer ${await client.sign({ aud: url.split('?')[0] })}`;
  const post = async (p: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(base + p, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: await signed(base + p), ...headers },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    fhir = await startFhirServer();
    client = await createTestClient({ alg: 'ES384', iss: 'urn:test-ehr' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-docs-'));
    const clientsFile = path.join(dir, 'clients.json');
    fs.writeFileSync(clientsFile, JSON.stringify([{ iss: client.iss, jwks: client.jwks }]));
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      PUBLIC_BASE_URL: base,
      DATA_DIR: dir,
      CDS_CLIENTS_FILE: clientsFile,
      // Write-back configured so the writeback_* metrics the dashboard uses are registered.
      FHIR_WRITE_BASE_URL: fhir.baseUrl,
      DICOM_PATIENT_IDENTIFIER_SYSTEM: 'urn:oid:1.2.840.99999.1',
      OUTBOX_POLL_MS: '60000',
      LOG_LEVEL: 'silent',
    });
    runtime = await createRuntime(config, { logger: createLogger('silent') });
    server.on('request', runtime.app);
    doc = (await (await fetch(`${base}/openapi.json`)).json()) as OpenApi;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await runtime?.close();
    await fhir?.stop();
  });

  describe('OpenAPI document', () => {
    it('is served at /openapi.json and validates as OpenAPI 3.1', async () => {
      expect(doc.openapi).toMatch(/^3\.1\./);
      const result = await validate(structuredClone(doc) as never);
      expect(result.valid ? [] : result.errors).toEqual([]);
    });

    it('the validator does refuse a broken document (the check above can fail)', async () => {
      const broken = structuredClone(doc) as Record<string, unknown>;
      (broken.paths as Record<string, unknown>)['/healthz'] = { get: { responses: { '200': { nope: 1 } } } };
      expect((await validate(broken as never)).valid).toBe(false);
    });

    it('documents the request bodies with the schemas the service validates with', () => {
      const json = JSON.stringify(doc);
      // The hookInstance pattern and the feedback outcome enum come from src/cds/types.ts.
      expect(json).toContain('^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}');
      const schemas = (doc as unknown as { components: { schemas: Record<string, { properties?: object }> } })
        .components.schemas;
      expect(Object.keys(schemas)).toEqual(
        expect.arrayContaining([
          'OrderSignRequest',
          'OrderSelectRequest',
          'PatientViewRequest',
          'FeedbackRequest',
          'RoiDocument',
          'OperationOutcome',
        ]),
      );
    });

    it('lists only stable error codes of src/errors.ts, each under its own HTTP status', () => {
      let seen = 0;
      for (const ops of Object.values(doc.paths)) {
        for (const op of Object.values(ops)) {
          for (const [status, response] of Object.entries(op.responses)) {
            for (const code of response['x-error-codes'] ?? []) {
              seen++;
              expect(Object.keys(ERRORS)).toContain(code);
              expect(String(ERRORS[code as keyof typeof ERRORS].status)).toBe(status);
            }
          }
        }
      }
      expect(seen).toBeGreaterThan(20);
    });

    it('every documented operation exists: calling it never reaches the unmatched 404', async () => {
      const paths = Object.entries(doc.paths);
      expect(paths.length).toBeGreaterThan(10);
      for (const [template, ops] of paths) {
        const p = template.replace('{studyInstanceUID}', '1.2.3').replace('{file}', 'styles.css');
        for (const method of Object.keys(ops)) {
          const url = base + p;
          // A route that refuses the body before reading it may close the connection under load
          // ("other side closed"): that is not the unmatched 404 this test looks for, so ask again.
          let answer: { res: Response; body: string } | undefined;
          for (let attempt = 0; answer === undefined; attempt++) {
            try {
              const r = await fetch(url, {
                method: method.toUpperCase(),
                headers: { authorization: await signed(url), 'content-type': 'application/json' },
                ...(method === 'post' ? { body: '{}' } : {}),
              });
              answer = { res: r, body: await r.text() };
            } catch (err) {
              if (attempt >= 2) throw err;
            }
          }
          const { res, body } = answer;
          const code =
            res.status === 404
              ? (JSON.parse(body) as OperationOutcome).issue[0]?.details?.coding?.[0]?.code
              : undefined;
          expect({ path: template, method, unmatched: res.status === 404 && code === 'not-found' }).toEqual({
            path: template,
            method,
            unmatched: false,
          });
        }
      }
    });

    it('every route the app registers is documented', () => {
      const documented = Object.keys(doc.paths).map((p) => p.replace(/\{(\w+)\}/g, ':$1'));
      const registered = registeredPaths(runtime.app);
      expect(registered.length).toBeGreaterThan(10);
      for (const route of new Set(registered)) {
        // The CDS router declares /cds-services/:id; the document lists each service's own path.
        const concrete = route.replace(':id', '[^/]+');
        const matches = documented.filter((d) => new RegExp(`^(/[a-z-]+)?${concrete}$`).test(d));
        expect({ route, documented: matches.length > 0 }).toEqual({ route, documented: true });
      }
    });

    it('/docs renders from local assets only (no CDN) under a restrictive CSP', async () => {
      const page = await fetch(`${base}/docs`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toMatch(/<html lang="en">/);
      const srcs = [...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1]!);
      expect(srcs.length).toBeGreaterThan(0);
      for (const src of srcs) {
        expect(src.startsWith('/')).toBe(true);
        const asset = await fetch(base + src);
        expect(asset.status).toBe(200);
        expect(asset.headers.get('content-type')).toMatch(/javascript/);
      }
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    });

    it.skipIf(!fs.existsSync(CHROMIUM_PATH))(
      '/docs renders every documented operation in a real browser, with no network beyond the service',
      async () => {
        // --dump-dom prints the DOM after the page's scripts ran (Redoc fetched /openapi.json and rendered).
        const dom = await new Promise<string>((resolve, reject) => {
          execFile(
            CHROMIUM_PATH,
            [
              '--headless=new',
              '--no-sandbox',
              '--disable-gpu',
              '--no-first-run',
              // Any request to another host fails: the docs must not need a CDN.
              `--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1`,
              '--virtual-time-budget=20000',
              '--dump-dom',
              `${base}/docs`,
            ],
            { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
            (err, stdout) => (err ? reject(err) : resolve(stdout)),
          );
        });
        for (const template of Object.keys(doc.paths)) {
          expect(dom, template).toContain(template);
        }
      },
      90_000,
    );
  });

  describe('GET /', () => {
    it('answers an accessible HTML page linking discovery, docs, console, care-team view, health, metrics', async () => {
      const res = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const html = await res.text();
      expect(html).toMatch(/<html lang="en">/);
      expect(html).toMatch(/<title>[^<]+<\/title>/);
      expect(html).toMatch(/<h1>[^<]+<\/h1>/);
      const links = [...html.matchAll(/<a href="([^"]+)">([^<]*)<\/a>/g)];
      for (const href of [
        '/cds-services',
        '/docs',
        '/openapi.json',
        '/console',
        '/care-team/',
        '/healthz',
        '/readyz',
        '/metrics',
      ]) {
        const link = links.find((l) => l[1] === href);
        expect(link?.[2]?.trim().length ?? 0, href).toBeGreaterThan(0);
      }
    });

    it('answers JSON for Accept: application/json', async () => {
      const res = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      const body = (await res.json()) as { links: { rel: string; href: string }[] };
      expect(body.links.map((l) => l.rel)).toEqual(
        expect.arrayContaining(['discovery', 'docs', 'console', 'care-team', 'health', 'metrics']),
      );
    });

    it('other methods -> 405 OperationOutcome', async () => {
      const res = await fetch(`${base}/`, { method: 'DELETE' });
      expect(res.status).toBe(405);
      expect(res.headers.get('content-type')).toMatch(/application\/fhir\+json/);
    });
  });

  describe('metrics', () => {
    const SIGN = '/cds-services/spine-surgery-bone-health';
    const metrics = async () => (await fetch(`${base}/metrics`)).text();

    it('counts feedback posted through the feedback endpoint by card topic, outcome and override reason', async () => {
      const hook = await post(SIGN, orderSignRequest('fb-1'));
      expect(hook.status).toBe(200);
      const { cards } = (await hook.json()) as { cards: CdsCard[] };
      const card = cards.find((c) => c.uuid && c.source.topic?.code && (c.overrideReasons?.length ?? 0) > 0);
      expect(card, 'a card with a topic and override reasons').toBeDefined();
      const topic = card!.source.topic!.code!;
      const offered = card!.overrideReasons![0]!.code!;
      const labels = { service: 'spine-surgery-bone-health', topic };
      const before = await metrics();

      const overridden = {
        card: card!.uuid!,
        outcome: 'overridden',
        overrideReason: { reason: { code: offered, system: card!.overrideReasons![0]!.system } },
        outcomeTimestamp: new Date().toISOString(),
      };
      const invented = {
        ...overridden,
        overrideReason: { reason: { code: 'made-up-code' } },
        outcomeTimestamp: new Date(Date.now() + 1).toISOString(),
      };
      const accepted = {
        card: card!.uuid!,
        outcome: 'accepted',
        acceptedSuggestions: [{ id: 'x' }],
        outcomeTimestamp: new Date(Date.now() + 2).toISOString(),
      };
      const unknownCard = { ...accepted, card: '00000000-0000-4000-8000-000000000000' };
      expect(
        (await post(`${SIGN}/feedback`, { feedback: [overridden, invented, accepted, unknownCard] })).status,
      ).toBe(200);
      // An exact retry is stored once and counted once.
      expect((await post(`${SIGN}/feedback`, { feedback: [overridden] })).status).toBe(200);

      const after = await metrics();
      const delta = (l: Record<string, string>) =>
        sample(after, 'cds_feedback_total', l) - sample(before, 'cds_feedback_total', l);
      expect(delta({ ...labels, outcome: 'overridden', reason: offered })).toBe(1);
      // A reason the card did not offer is caller input: counted as "other", never as a label value.
      expect(delta({ ...labels, outcome: 'overridden', reason: 'other' })).toBe(1);
      expect(after).not.toContain('made-up-code');
      expect(delta({ ...labels, outcome: 'accepted', reason: 'none' })).toBe(1);
      expect(delta({ service: labels.service, topic: 'unknown', outcome: 'accepted', reason: 'none' })).toBe(
        1,
      );
    });

    it('counts refused tokens by reason and trusted client, never an untrusted iss', async () => {
      const url = `${base}/cds-services`;
      const before = await metrics();
      const expired = await client.sign({ aud: url, iat: 1_000_000, exp: 1_000_300 });
      expect((await fetch(url, { headers: { authorization: `Bearer ${expired}` } })).status).toBe(401);
      expect((await fetch(url)).status).toBe(401);
      const stranger = await createTestClient({ alg: 'ES384', iss: 'urn:attacker-chosen-string' });
      const foreign = await stranger.sign({ aud: url });
      expect((await fetch(url, { headers: { authorization: `Bearer ${foreign}` } })).status).toBe(401);
      const after = await metrics();
      const delta = (l: Record<string, string>) =>
        sample(after, 'cds_auth_failures_total', l) - sample(before, 'cds_auth_failures_total', l);
      expect(delta({ reason: 'expired', client: client.iss })).toBe(1);
      expect(delta({ reason: 'authorization-missing', client: 'unknown' })).toBe(1);
      expect(delta({ reason: 'iss-unknown', client: 'unknown' })).toBe(1);
      expect(after).not.toContain('attacker-chosen-string');
    });

    it('reports the outbox depth by kind and state, read from the store at scrape time', async () => {
      const later = new Date(Date.now() + 24 * 3600_000);
      const store = runtime.store;
      await store.enqueue('test-kind', 'depth-pending', {}, later);
      const retrying = await store.enqueue('test-kind', 'depth-retrying', {}, later);
      await store.failOutbox(retrying.id, 'upstream 503', later);
      const dead = await store.enqueue('test-kind', 'depth-dead', {}, later);
      await store.failOutbox(dead.id, 'HTTP 422', null);
      const text = await metrics();
      expect(sample(text, 'writeback_outbox_depth', { kind: 'test-kind', state: 'pending' })).toBe(1);
      expect(sample(text, 'writeback_outbox_depth', { kind: 'test-kind', state: 'retrying' })).toBe(1);
      expect(sample(text, 'writeback_outbox_depth', { kind: 'test-kind', state: 'dead' })).toBe(1);
      expect(text).toMatch(/^writeback_outbox_oldest_pending_seconds \d/m);
    });

    it('every metric the Grafana dashboard queries exists in /metrics', async () => {
      const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as {
        panels: { targets?: { expr: string }[] }[];
        templating: { list: { definition?: string }[] };
      };
      const exprs = [
        ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
        ...dashboard.templating.list.flatMap((v) =>
          v.definition ? [v.definition.replace(/^label_values\((.*),\s*\w+\)$/, '$1')] : [],
        ),
      ];
      const names = new Set(exprs.flatMap(metricNames));
      for (const required of [
        'cds_feedback_total',
        'cds_auth_failures_total',
        'writeback_outbox_depth',
        'http_requests_total',
        'http_request_duration_seconds_bucket',
        'fhir_fetch_duration_seconds_bucket',
        'cds_cards_total',
        'writeback_attempts_total',
      ]) {
        expect(names).toContain(required);
      }
      const text = await metrics();
      const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
      for (const name of names) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        const exists =
          types.has(name) || (base !== name && ['histogram', 'summary'].includes(types.get(base) ?? ''));
        expect({ name, exists }).toEqual({ name, exists: true });
      }
    });

    it('the dashboard parser finds metric names and nothing else', () => {
      expect(
        metricNames(
          'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{route=~"/x"}[$__rate_interval]))) / clamp_min(sum(up), 1e-9)',
        ),
      ).toEqual(['http_request_duration_seconds_bucket', 'up']);
    });
  });
});
