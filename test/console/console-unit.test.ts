/**
 * The console's parts without a browser: the disabled console (404 OperationOutcome), role claims, the
 * analytics definitions and CSV, and the console queries on the embedded database and, when
 * TEST_DATABASE_URL is set (.ci/run), on PostgreSQL.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isoWeekStart } from '../../src/console/analytics.js';
import { createClientAuthLog } from '../../src/console/auth-log.js';
import { cardMarkdown, driftPanel } from '../../src/console/pages.js';
import { radiologyPage } from '../../src/console/radiology.js';
import {
  analyticsCsv,
  computeFeedbackAnalytics,
  createConsole,
  roleFromClaims,
} from '../../src/console/index.js';
import { loadConfig } from '../../src/config/config.js';
import { createLogger } from '../../src/http/logger.js';
import { errorHandler, requestContext } from '../../src/http/middleware.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { projectRoot } from '../../src/server.js';
import { ConsoleQueries } from '../../src/store/console-queries.js';
import { openDb, type Db } from '../../src/store/db.js';
import type { Store } from '../../src/store/store.js';
import { storeBackends } from '../helpers/store.js';
import path from 'node:path';

describe('console without an identity provider', () => {
  let server: http.Server;
  let base: string;
  let db: Db;

  beforeAll(async () => {
    db = await openDb({ dataDir: 'memory://' });
    const logger = createLogger('silent');
    const mount = createConsole({
      roleClaim: 'roles',
      sessionHours: 8,
      publicBaseUrl: 'http://127.0.0.1',
      queries: new ConsoleQueries(db),
      kb: loadKnowledgeBase({ dir: path.join(projectRoot(), 'cds-services') }),
      knowledgeDir: path.join(projectRoot(), 'cds-services'),
      clients: [],
      logger,
    });
    const app = express();
    app.use(requestContext(logger));
    app.use('/console', mount.router([]));
    app.use(errorHandler(logger));
    server = http.createServer(app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await mount.close();
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await db.close();
  });

  it('answers every path with 404 console-not-configured (an OperationOutcome), GET or POST', async () => {
    for (const [method, p] of [
      ['GET', '/console/'],
      ['GET', '/console/login'],
      ['POST', '/console/writeback/1/retry'],
    ] as const) {
      const res = await fetch(base + p, { method, redirect: 'manual' });
      expect(res.status).toBe(404);
      const body = (await res.json()) as OperationOutcome;
      expect(body.resourceType).toBe('OperationOutcome');
      expect(body.issue[0]?.details?.coding?.[0]?.code).toBe('console-not-configured');
    }
  });
});

describe('roles from the identity provider claim', () => {
  it('takes the highest role, accepts "administrator", reads nested claims and space/comma lists', () => {
    expect(roleFromClaims({ roles: ['viewer', 'analyst'] }, 'roles')).toBe('analyst');
    expect(roleFromClaims({ roles: 'viewer Administrator' }, 'roles')).toBe('admin');
    expect(roleFromClaims({ realm_access: { roles: ['viewer'] } }, 'realm_access.roles')).toBe('viewer');
    expect(roleFromClaims({ groups: ['cds-admins'] }, 'groups')).toBeUndefined();
    expect(roleFromClaims({}, 'roles')).toBeUndefined();
  });
});

describe('feedback analytics', () => {
  const at = (s: string) => new Date(s);
  const catalogue = [
    {
      cardUuid: 'a',
      serviceId: 's',
      topic: 't1',
      indicator: 'warning',
      summary: 'A',
      suggestions: [{ uuid: 'sa', label: 'Order DXA' }],
      firstShownAt: at('2026-11-02T10:00:00Z'),
    },
    {
      cardUuid: 'b',
      serviceId: 's',
      topic: 't1',
      indicator: 'warning',
      summary: 'B',
      suggestions: [{ uuid: 'sb', label: 'Order DXA' }],
      firstShownAt: at('2026-11-03T10:00:00Z'),
    },
    {
      cardUuid: 'c',
      serviceId: 's',
      topic: 't2',
      indicator: 'info',
      summary: 'C',
      suggestions: [],
      firstShownAt: at('2026-11-10T10:00:00Z'),
    },
  ];
  const a = computeFeedbackAnalytics({
    from: at('2026-11-01T00:00:00Z'),
    to: at('2026-11-30T00:00:00Z'),
    presentations: [
      { at: at('2026-11-02T10:00:00Z'), serviceId: 's', cardIds: ['a', 'b'] },
      { at: at('2026-11-03T10:00:00Z'), serviceId: 's', cardIds: ['a'] },
      { at: at('2026-11-10T10:00:00Z'), serviceId: 's', cardIds: ['c'] },
    ],
    catalogue,
    feedback: [
      // b first overridden, then accepted: its latest feedback counts.
      {
        cardUuid: 'b',
        serviceId: 's',
        outcome: 'overridden',
        acceptedSuggestions: [],
        overrideReason: { code: 'urgent-surgery', display: 'Urgent' },
        outcomeTimestamp: at('2026-11-03T11:00:00Z'),
      },
      {
        cardUuid: 'b',
        serviceId: 's',
        outcome: 'accepted',
        acceptedSuggestions: ['sb'],
        overrideReason: null,
        outcomeTimestamp: at('2026-11-04T11:00:00Z'),
      },
      {
        cardUuid: 'c',
        serviceId: 's',
        outcome: 'overridden',
        acceptedSuggestions: [],
        overrideReason: { code: 'patient-declined' },
        outcomeTimestamp: at('2026-11-10T11:00:00Z'),
      },
      // Feedback on a card not shown in the period is not counted.
      {
        cardUuid: 'zzz',
        serviceId: 's',
        outcome: 'accepted',
        acceptedSuggestions: ['x'],
        overrideReason: null,
        outcomeTimestamp: at('2026-11-10T11:00:00Z'),
      },
    ],
  });

  it('counts each card once per period with its latest outcome; ignored = no feedback', () => {
    expect(a.topics).toEqual([
      {
        serviceId: 's',
        topic: 't1',
        indicator: 'warning',
        shown: 2,
        presentations: 3,
        accepted: 1,
        overridden: 0,
        ignored: 1,
        acceptanceRate: 0.5,
      },
      {
        serviceId: 's',
        topic: 't2',
        indicator: 'info',
        shown: 1,
        presentations: 1,
        accepted: 0,
        overridden: 1,
        ignored: 0,
        acceptanceRate: 0,
      },
    ]);
    expect(a.reasons).toEqual([{ code: 'patient-declined', display: '', count: 1, topics: ['t2'] }]);
  });

  it('rates each suggestion by the cards offering it; weeks are ISO weeks (Monday, UTC)', () => {
    expect(a.suggestions).toEqual([
      { topic: 't1', label: 'Order DXA', offered: 2, accepted: 1, acceptanceRate: 0.5 },
    ]);
    expect(a.weekly.filter((w) => w.series === 'shown')).toEqual([
      // 2 and 3 November 2026 are a Monday and a Tuesday: one week; 10 November the next.
      { week: '2026-11-02', series: 'shown', count: 2 },
      { week: '2026-11-09', series: 'shown', count: 1 },
    ]);
  });

  it('starts a week on Monday (UTC): a Sunday belongs to the week before', () => {
    expect(isoWeekStart(new Date('2026-11-01T23:59:59Z'))).toBe('2026-10-26');
    expect(isoWeekStart(new Date('2026-11-02T00:00:00Z'))).toBe('2026-11-02');
  });

  it('writes RFC 4180 CSV and neutralises spreadsheet formulas', () => {
    const csv = analyticsCsv({ ...a, topics: [{ ...a.topics[0]!, topic: '=HYPERLINK("x")' }] });
    const lines = csv.split('\r\n');
    expect(lines[1]).toContain(`"'=HYPERLINK(""x"")"`);
    expect(lines[1]!.endsWith(',0.5000')).toBe(true);
  });
});

describe.each(storeBackends())('console queries on $name', (backend) => {
  let store: Store;
  let q: ConsoleQueries;

  beforeAll(async () => {
    store = await backend.open();
    q = new ConsoleQueries(store.db);
  });
  afterAll(async () => store.close());

  it('retries only dead items, back to pending with a fresh attempt budget', async () => {
    const { id } = await store.enqueue('dicom-sr', 'k1', { x: 1 });
    expect(await q.retryDeadOutboxItem(id, new Date())).toBe(false);
    await store.failOutbox(id, 'HTTP 409', null);
    expect((await q.outboxItems()).find((i) => i.id === id)).toMatchObject({
      state: 'dead',
      lastError: 'HTTP 409',
      attempts: 1,
    });
    expect(await q.retryDeadOutboxItem(id, new Date())).toBe(true);
    expect((await q.outboxItems()).find((i) => i.id === id)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(await q.retryDeadOutboxItem(id, new Date())).toBe(false);
    await store.failOutbox(id, 'HTTP 503', new Date());
    expect(await q.outboxStateCounts()).toEqual([{ kind: 'dicom-sr', state: 'retrying', count: 1 }]);
  });

  it('keeps the first catalogue row of a card uuid and reads rows by uuid, in chunks', async () => {
    const card = (uuid: string, topic: string) => ({
      cardUuid: uuid,
      serviceId: 's',
      topic,
      indicator: 'info',
      summary: 'S',
      suggestions: [{ uuid: `${uuid}-s`, label: 'L' }],
      firstShownAt: new Date('2026-11-01T10:00:00.000Z'),
    });
    const many = Array.from({ length: 1200 }, (_, i) => card(`u${i}`, 't'));
    await q.recordShownCards(many.slice(0, 600));
    await q.recordShownCards([...many.slice(600), card('u0', 'changed')]);
    const rows = await q.shownCards([...many.map((c) => c.cardUuid), 'missing']);
    expect(rows).toHaveLength(1200);
    expect(rows.find((r) => r.cardUuid === 'u0')).toEqual(card('u0', 't'));
  });

  it('searches the audit trail by outcome group, service and client', async () => {
    const row = { hookInstance: 'h', patientId: 'p1', cardIds: [], durationMs: 12 };
    await store.recordAudits([
      {
        ...row,
        at: new Date('2026-11-01T10:00:00Z'),
        serviceId: 's1',
        clientIss: 'c1',
        outcome: 'cards',
        cardIds: ['u'],
      },
      {
        ...row,
        at: new Date('2026-11-01T11:00:00Z'),
        serviceId: 's1',
        clientIss: 'c2',
        outcome: 'not-triggered',
      },
      {
        ...row,
        at: new Date('2026-11-02T10:00:00Z'),
        serviceId: 's2',
        clientIss: 'c1',
        outcome: 'prefetch-unavailable',
      },
      {
        ...row,
        at: new Date('2026-11-03T10:00:00Z'),
        serviceId: 's2',
        clientIss: 'c1',
        outcome: 'invalid-request',
      },
    ]);
    const search = async (f: object) =>
      (await q.searchAudit({ limit: 50, offset: 0, ...f })).rows.map((r) => r.outcome);
    expect(await search({ outcome: 'cards' })).toEqual(['cards']);
    expect(await search({ outcome: 'no-cards' })).toEqual(['not-triggered']);
    expect(await search({ outcome: '412' })).toEqual(['prefetch-unavailable']);
    expect(await search({ outcome: 'errors' })).toEqual(['invalid-request']);
    expect(await search({ client: 'c1', service: 's2' })).toEqual([
      'invalid-request',
      'prefetch-unavailable',
    ]);
    expect(
      await search({ from: new Date('2026-11-02T00:00:00Z'), to: new Date('2026-11-03T00:00:00Z') }),
    ).toEqual(['prefetch-unavailable']);
    expect((await q.searchAudit({ limit: 1, offset: 1 })).total).toBe(4);
  });

  it('keeps the newest authentication success and failure per client across flushes', async () => {
    let clock = new Date('2026-11-01T10:00:00Z');
    const log = createClientAuthLog(q, { now: () => clock, flushMs: 60_000 });
    log.success('c1');
    log.failure('signature-invalid', 'c1');
    log.failure('iss-unknown', undefined);
    await log.flush();
    clock = new Date('2026-11-01T11:00:00Z');
    log.failure('jti-replayed', 'c1');
    await log.flush();
    // An older event flushed late (another replica) does not replace the newer one.
    await q.recordClientAuth([
      {
        clientIss: 'c1',
        lastFailureAt: new Date('2026-11-01T09:00:00Z'),
        lastFailureReason: 'old',
        failures: 1,
      },
    ]);
    await log.close();
    const rows = await q.clientAuth();
    expect(rows).toEqual([
      {
        clientIss: 'c1',
        lastSuccessAt: new Date('2026-11-01T10:00:00Z'),
        lastFailureAt: new Date('2026-11-01T11:00:00Z'),
        lastFailureReason: 'jti-replayed',
        failureCount: 3,
      },
      {
        clientIss: 'unknown',
        lastSuccessAt: null,
        lastFailureAt: new Date('2026-11-01T10:00:00Z'),
        lastFailureReason: 'iss-unknown',
        failureCount: 1,
      },
    ]);
  });

  it('stores sessions until they expire', async () => {
    await q.setSession('sid', { user: { role: 'viewer' } }, new Date('2026-11-01T12:00:00Z'));
    expect(await q.getSession('sid', new Date('2026-11-01T11:00:00Z'))).toEqual({ user: { role: 'viewer' } });
    expect(await q.getSession('sid', new Date('2026-11-01T12:00:01Z'))).toBeUndefined();
    await q.purgeSessions(new Date('2026-11-02T00:00:00Z'));
    expect(await q.getSession('sid', new Date('2026-11-01T11:00:00Z'))).toBeUndefined();
  });
});

describe('card detail as an EHR renders it', () => {
  it('renders bold, italic, paragraphs and lists, and escapes everything else', () => {
    expect(cardMarkdown('**DXA T -2.8** (hip)\n\n_Caveat:_ field <b>strength</b>\n\n- one\n- two')).toBe(
      '<p><strong>DXA T -2.8</strong> (hip)</p>\n<p><em>Caveat:</em> field &#60;b&#62;strength&#60;/b&#62;</p>\n<ul><li>one</li><li>two</li></ul>',
    );
  });
});

describe('drift panel', () => {
  it('says when the drift watch is not configured, has not run, or shows each stratum', () => {
    expect(driftPanel(undefined)).toContain('Drift watch not configured.');
    expect(driftPanel({ status: () => null })).toContain('no check has run yet');
    const html = driftPanel({
      status: () => ({
        checkedAt: '2026-11-30T10:00:00Z',
        strata: [
          {
            metric: 'vbq-l1-l4',
            fieldStrengthT: 3,
            scanner: null,
            baselineN: 120,
            recentN: 40,
            status: 'drift',
            ksStatistic: 0.41,
            pValue: 0.0004,
            baselineMedian: 2.9,
            recentMedian: 3.3,
            medianShift: 0.4,
          },
        ],
      }),
    });
    expect(html).toContain('<strong>1 stratum(s) drifting</strong>');
    expect(html).toContain('<span class="badge bad">drift</span>');
    expect(html).toContain('0.0004');
  });
});

describe('console configuration', () => {
  it('is off by default, needs a client id with an issuer, and a session secret in production', () => {
    expect(loadConfig({ DEMO_MODE: 'off' }).console).toEqual({ roleClaim: 'roles', sessionHours: 8 });
    expect(() => loadConfig({ CONSOLE_OIDC_ISSUER: 'https://idp.example.org/realms/h' })).toThrow(
      /CONSOLE_OIDC_CLIENT_ID is required/,
    );
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        CDS_CLIENTS_FILE: '/clients.json',
        CONSOLE_OIDC_ISSUER: 'https://idp.example.org/realms/h',
        CONSOLE_OIDC_CLIENT_ID: 'cds-console',
      }),
    ).toThrow(/CONSOLE_SESSION_SECRET is required/);
    expect(() => loadConfig({ CONSOLE_SESSION_SECRET: 'short' })).toThrow(/at least 32 characters/);
    const config = loadConfig({
      CONSOLE_OIDC_ISSUER: 'https://idp.example.org/realms/h',
      CONSOLE_OIDC_CLIENT_ID: 'cds-console',
      CONSOLE_OIDC_CLIENT_SECRET: 's3cret',
      CONSOLE_ROLE_CLAIM: 'realm_access.roles',
      CONSOLE_TEST_FHIR_SERVER: 'https://fhir-test.example.org/r4/',
    });
    expect(config.console).toMatchObject({
      oidc: {
        issuer: 'https://idp.example.org/realms/h',
        clientId: 'cds-console',
        clientSecret: 's3cret',
        scope: 'openid profile',
      },
      roleClaim: 'realm_access.roles',
      testFhirServer: 'https://fhir-test.example.org/r4',
    });
  });
});

describe('the Radiology page (worklist and watcher reports)', () => {
  const entry = {
    studyInstanceUID: '1.2.826.0.1.3680043.8.498.11',
    studyDate: '2026-11-20',
    studyDescription: 'MR LUMBAR SPINE',
    series: { description: 'SAG T1', region: 'lumbar' },
    requested: { task: 'Task/t1', plannedSurgeryDate: '2026-12-10' },
    viewerUrl: 'http://viewer.example/viewer?StudyInstanceUIDs=1.2.826.0.1.3680043.8.498.11',
  };
  const report = {
    sopInstanceUID: '1.2.826.0.1.3680043.8.498.99',
    status: 'malformed',
    attempts: 1,
    reason: 'no ROI content item references an image',
    updatedAt: new Date('2026-11-21T08:00:00Z'),
  };

  it('a viewer sees the worklist and the reasons, never the study or SR instance UIDs', () => {
    const html = radiologyPage({ configured: true, worklist: [entry], reports: [report], showIds: false });
    expect(html).toContain('MR LUMBAR SPINE');
    expect(html).toContain('yes (2026-12-10)');
    expect(html).toContain('no ROI content item references an image');
    expect(html).toContain('href="http://viewer.example/viewer?StudyInstanceUIDs=');
    // The viewer link carries the study UID by necessity; no table cell does.
    expect(html.replace(/href="[^"]*"/g, '')).not.toMatch(/1\.2\.826\.0\.1\.3680043\.8\.498\.(11|99)/);
  });

  it('an analyst sees the UIDs; an unreadable PACS and an unconfigured loop are said, not hidden', () => {
    const html = radiologyPage({ configured: true, worklist: [entry], reports: [report], showIds: true });
    expect(html).toContain('<code>1.2.826.0.1.3680043.8.498.11</code>');
    expect(html).toContain('<code>1.2.826.0.1.3680043.8.498.99</code>');
    expect(
      radiologyPage({ configured: true, worklist: { error: 'timed out' }, reports: [], showIds: true }),
    ).toContain('The PACS could not be read: timed out');
    expect(radiologyPage({ configured: false, worklist: undefined, reports: [], showIds: true })).toContain(
      'not configured',
    );
  });
});
