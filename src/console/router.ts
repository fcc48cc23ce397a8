/**
 * The informaticist's console at /console: server-rendered pages behind OpenID Connect login (roles from
 * a claim), a server-side session (express-session on the service's database; the cookie is signed,
 * HttpOnly, SameSite=Lax, Secure behind https) and the synchronizer CSRF token on every form. Without a
 * configured identity provider every console path answers 404 `console-not-configured`.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
  type Router,
} from 'express';
import session from 'express-session';
import type { CdsCard } from '../cds/types.js';
import type { CdsClientInput } from '../config/clients.js';
import { AppError, operationOutcome } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { ConsoleQueries } from '../store/console-queries.js';
import { AUDIT_OUTCOME_GROUPS, type AuditOutcomeGroup } from '../store/console-queries.js';
import { analyticsCsv, computeFeedbackAnalytics } from './analytics.js';
import { createClientAuthLog, type ClientAuthLog } from './auth-log.js';
import { createCardLog, type CatalogueCard } from './card-log.js';
import { csrfToken, requireCsrf } from './csrf.js';
import type { ConsoleDriftSource } from './drift.js';
import { CONSOLE_CSS, esc, layout } from './html.js';
import { createConsoleOidc, type PendingLogin } from './oidc.js';
import {
  radiologyPage,
  REPORT_PROBLEM_STATUSES,
  type ConsoleRadiologySource,
  type ConsoleWorklistEntry,
} from './radiology.js';
import {
  auditPage,
  clientsPage,
  feedbackPage,
  knowledgePage,
  overviewPage,
  tryPage,
  writebackPage,
  type OverridesInfo,
  type TryResult,
} from './pages.js';
import { can, roleFromClaims, type ConsoleRole } from './roles.js';
import { DbSessionStore } from './session-store.js';

declare module 'express-session' {
  interface SessionData {
    user?: { sub: string; name: string; role: ConsoleRole };
    csrfToken?: string;
    pendingLogin?: PendingLogin;
  }
}

/** The client identity "Try a patient" calls the hook pipeline with (its reads go to the test server only). */
export const CONSOLE_TRY_ISS = 'urn:spine-bone-health-cds:console-try';

/** A hook endpoint as the app builds it (src/app.ts): the same pipeline the HTTP routes call. */
export interface ConsoleHookEndpoint {
  definition: { id: string; hook: string; title?: string };
  handle(body: unknown, client: { iss: string }): Promise<CdsCard[]>;
}

export interface ConsoleOptions {
  oidc?: { issuer: string; clientId: string; clientSecret?: string; scope: string };
  roleClaim: string;
  /** Signs the session cookie; a random per-process secret when absent. */
  sessionSecret?: string;
  sessionHours: number;
  publicBaseUrl: string;
  queries: ConsoleQueries;
  kb: KnowledgeBase;
  /** The shipped knowledge files (cds-services/), to tell a replaced cutoff from an added one. */
  knowledgeDir: string;
  overridesFile?: string;
  clients: readonly CdsClientInput[];
  testFhirServer?: string;
  drift?: ConsoleDriftSource;
  logger: Logger;
  now?: () => Date;
}

/** What src/app.ts mounts and feeds. */
export interface ConsoleMount {
  router(endpoints: readonly ConsoleHookEndpoint[]): Router;
  /** Called with the cards each hook call returned (cheap: an in-memory queue). */
  onCardsShown(service: string, cards: readonly CatalogueCard[], at: Date): void;
  /** Last authentication per client (fed by the authenticator, see src/server.ts). */
  authLog: ClientAuthLog;
  /** Wires the calibration drift watch in when it is created after the console (src/server.ts). */
  setDriftSource(source: ConsoleDriftSource | undefined): void;
  /** Wires the radiology loop's worklist and watcher reports in (src/server.ts). */
  setRadiologySource(source: ConsoleRadiologySource | undefined): void;
  close(): Promise<void>;
}

const CSP = [
  "default-src 'none'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy': CSP,
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
  });
  next();
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

function single(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 500 ? value : undefined;
}

function parseDay(value: string | undefined, name: string): Date | undefined {
  if (value === undefined || value === '') return undefined;
  const d = new Date(`${value}T00:00:00.000Z`);
  if (!DATE.test(value) || Number.isNaN(d.getTime())) {
    throw new AppError('invalid-request', `${name} must be a date (YYYY-MM-DD)`);
  }
  return d;
}

/** The analytics period: whole UTC days, `to` inclusive; default the last 28 days. At most 366 days. */
function period(req: Request, now: Date): { from: Date; to: Date; fromText: string; toText: string } {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const toDay = parseDay(single(req.query.to), 'to') ?? today;
  const fromDay = parseDay(single(req.query.from), 'from') ?? new Date(toDay.getTime() - 27 * DAY_MS);
  if (fromDay.getTime() > toDay.getTime()) throw new AppError('invalid-request', 'from must not be after to');
  if (toDay.getTime() - fromDay.getTime() > 366 * DAY_MS) {
    throw new AppError('invalid-request', 'The period is at most 366 days');
  }
  return {
    from: fromDay,
    to: new Date(toDay.getTime() + DAY_MS),
    fromText: fromDay.toISOString().slice(0, 10),
    toText: toDay.toISOString().slice(0, 10),
  };
}

function overridesInfo(file: string | undefined): { info?: OverridesInfo; problem?: string } {
  if (!file) return {};
  try {
    const text = fs.readFileSync(file);
    const parsed = JSON.parse(text.toString('utf8')) as {
      version?: unknown;
      description?: unknown;
      cutoffs?: { id?: unknown }[];
    };
    return {
      info: {
        path: file,
        sha256: createHash('sha256').update(text).digest('hex'),
        modifiedAt: fs.statSync(file).mtime,
        version: typeof parsed.version === 'string' ? parsed.version : undefined,
        description: typeof parsed.description === 'string' ? parsed.description : undefined,
        cutoffIds: (parsed.cutoffs ?? []).flatMap((c) => (typeof c.id === 'string' ? [c.id] : [])),
      },
    };
  } catch {
    // The service loaded it at start; it may have been moved since. Say so rather than fail the page.
    return { problem: `The overrides file ${file} loaded at start can no longer be read.` };
  }
}

function shippedCutoffIds(dir: string): Set<string> {
  try {
    const file = JSON.parse(fs.readFileSync(path.join(dir, 'cutoffs.json'), 'utf8')) as {
      cutoffs?: { id?: unknown }[];
    };
    return new Set((file.cutoffs ?? []).flatMap((c) => (typeof c.id === 'string' ? [c.id] : [])));
  } catch {
    return new Set();
  }
}

async function readTestPatients(server: string): Promise<{ id: string; label: string }[]> {
  const res = await fetch(`${server}/Patient?_count=100`, {
    headers: { accept: 'application/fhir+json' },
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const bundle = (await res.json()) as {
    entry?: { resource?: { id?: string; name?: { given?: string[]; family?: string; text?: string }[] } }[];
  };
  return (bundle.entry ?? [])
    .flatMap((e) => (e.resource?.id ? [e.resource] : []))
    .map((p) => {
      const n = p.name?.[0];
      const name = n?.text ?? [...(n?.given ?? []), n?.family ?? ''].join(' ').trim();
      return { id: p.id!, label: name ? `${p.id} (${name})` : p.id! };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** A hook request for "Try a patient": what an EHR would send, without prefetch (the service reads). */
export function tryRequest(options: {
  hook: string;
  patient: string;
  procedure: { system: string; code: string; display: string };
  fhirServer: string;
}): Record<string, unknown> {
  const base = {
    hookInstance: randomUUID(),
    fhirServer: options.fhirServer,
    hook: options.hook,
  };
  const userId = 'Practitioner/console-try';
  if (options.hook === 'patient-view') return { ...base, context: { userId, patientId: options.patient } };
  const order = {
    resourceType: 'ServiceRequest',
    id: 'console-try-order',
    status: 'draft',
    intent: 'order',
    code: { coding: [options.procedure] },
    subject: { reference: `Patient/${options.patient}` },
  };
  const draftOrders = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: order }] };
  return {
    ...base,
    context: {
      userId,
      patientId: options.patient,
      draftOrders,
      ...(options.hook === 'order-select' ? { selections: ['ServiceRequest/console-try-order'] } : {}),
    },
  };
}

const PERMISSION_TEXT: Record<string, string> = {
  'see-patient-ids': 'see patient ids in the audit trail and write-back keys',
  'try-patient': 'try a test patient',
  'retry-outbox': 'retry dead write-back items',
};

export function createConsole(options: ConsoleOptions): ConsoleMount {
  const now = options.now ?? (() => new Date());
  const { queries, logger } = options;
  let drift = options.drift;
  let radiology: ConsoleRadiologySource | undefined;
  const onError = (what: string) => (err: Error) =>
    logger.warn({ err: { message: err.message } }, `console: ${what} write failed; will retry`);
  const cardLog = createCardLog(queries, { onError: onError('card catalogue') });
  const authLog = createClientAuthLog(queries, { now, onError: onError('client authentication') });
  const purge = setInterval(() => {
    queries.purgeSessions(now()).catch(onError('session purge'));
  }, 15 * 60_000);
  purge.unref();

  function disabledRouter(): Router {
    const router = express.Router();
    router.use(() => {
      throw new AppError(
        'console-not-configured',
        'The console is not configured: set CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_ID (see the README)',
      );
    });
    return router;
  }

  function buildRouter(endpoints: readonly ConsoleHookEndpoint[]): Router {
    if (!options.oidc) return disabledRouter();
    const secure = options.publicBaseUrl.startsWith('https:');
    const oidc = createConsoleOidc({
      ...options.oidc,
      redirectUri: `${options.publicBaseUrl}/console/callback`,
    });
    const ttlMs = options.sessionHours * 3600_000;
    const baseCutoffIds = shippedCutoffIds(options.knowledgeDir);
    const router = express.Router();
    router.use(securityHeaders);
    router.get('/assets/console.css', (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300');
      res.type('text/css').send(CONSOLE_CSS);
    });
    router.use(
      session({
        name: 'sbh_console',
        secret: options.sessionSecret ?? randomBytes(32).toString('base64url'),
        store: new DbSessionStore(queries, ttlMs, now),
        resave: false,
        saveUninitialized: false,
        rolling: true,
        // Behind a TLS-terminating proxy the request is http: trust its X-Forwarded-Proto for the cookie.
        proxy: secure,
        cookie: { httpOnly: true, sameSite: 'lax', secure, path: '/console', maxAge: ttlMs },
      }),
    );
    router.use((req, _res, next) => {
      if (req.method === 'POST') {
        express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 })(req, _res, next);
      } else next();
    });

    const saveSession = (req: Request) =>
      new Promise<void>((resolve, reject) => req.session.save((err) => (err ? reject(err) : resolve())));

    const page = (req: Request, res: Response, title: string, active: string, body: string) => {
      const user = req.session.user!;
      res.type('html').send(layout({ title, active, user, csrf: csrfToken(req.session), body }));
    };
    const signedOutPage = (title: string, text: string) =>
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · Console</title><link rel="stylesheet" href="/console/assets/console.css"></head><body><main id="main"><h1>${esc(title)}</h1>${text}<p><a href="/console/login">Sign in</a></p></main></body></html>`;

    router.get('/login', async (req, res) => {
      const wanted = single(req.query.returnTo);
      const returnTo =
        wanted && /^\/console(\/[^/\\]|\/?$)/.test(wanted) && !wanted.includes('//') ? wanted : '/console/';
      let started: Awaited<ReturnType<typeof oidc.start>>;
      try {
        started = await oidc.start(returnTo);
      } catch (err) {
        logger.warn(
          { err: { message: (err as Error).message } },
          'console: identity provider discovery failed',
        );
        throw new AppError(
          'upstream-unavailable',
          'The identity provider cannot be reached; try again shortly',
        );
      }
      req.session.pendingLogin = started.pending;
      await saveSession(req);
      res.redirect(302, started.url);
    });

    router.get('/callback', async (req, res) => {
      const pending = req.session.pendingLogin;
      if (!pending) throw new AppError('invalid-request', 'No sign-in in progress in this browser');
      let claims: Record<string, unknown>;
      try {
        claims = await oidc.finish(new URL(`${options.publicBaseUrl}${req.originalUrl}`), pending);
      } catch (err) {
        // The library's message names the failed check (state, nonce, signature...), never a token.
        logger.info({ err: { message: (err as Error).message } }, 'console: sign-in refused');
        req.session.pendingLogin = undefined;
        res
          .status(401)
          .type('html')
          .send(
            signedOutPage('Sign-in failed', "<p>The identity provider's answer could not be verified.</p>"),
          );
        return;
      }
      const role = roleFromClaims(claims, options.roleClaim);
      if (!role) {
        req.session.pendingLogin = undefined;
        res
          .status(403)
          .type('html')
          .send(
            signedOutPage(
              'No console role',
              `<p>Your account has no console role in the <code>${esc(options.roleClaim)}</code> claim (viewer, analyst or admin). Ask your identity administrator.</p>`,
            ),
          );
        return;
      }
      // A new session id at sign-in: a session fixed before login is worth nothing after it.
      await new Promise<void>((resolve, reject) =>
        req.session.regenerate((err) => (err ? reject(err) : resolve())),
      );
      const sub = typeof claims.sub === 'string' ? claims.sub : 'unknown';
      req.session.user = { sub, name: typeof claims.name === 'string' ? claims.name : sub, role };
      csrfToken(req.session);
      await saveSession(req);
      logger.info({ consoleUser: sub, role }, 'console: signed in');
      res.redirect(302, pending.returnTo);
    });

    router.get('/signed-out', (_req, res) => {
      res.type('html').send(signedOutPage('Signed out', '<p>You have signed out of the console.</p>'));
    });

    // Everything below needs a signed-in user.
    router.use((req, res, next) => {
      if (req.session.user) {
        next();
        return;
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        res.redirect(302, `/console/login?returnTo=${encodeURIComponent(req.originalUrl)}`);
        return;
      }
      next(new AppError('unauthorized', 'Sign in to the console first'));
    });
    router.use(requireCsrf);

    router.post('/logout', async (req, res) => {
      await new Promise<void>((resolve, reject) =>
        req.session.destroy((err) => (err ? reject(err) : resolve())),
      );
      res.clearCookie('sbh_console', { path: '/console' });
      res.redirect(303, '/console/signed-out');
    });

    const roleOf = (req: Request): ConsoleRole => req.session.user!.role;
    const need = (req: Request, permission: Parameters<typeof can>[1]) => {
      if (!can(roleOf(req), permission)) throw new AppError('forbidden', 'Your console role may not do this');
    };

    router.get('/', async (req, res) => {
      const counts = new Map<string, number>();
      for (const c of await queries.outboxStateCounts())
        counts.set(c.state, (counts.get(c.state) ?? 0) + c.count);
      const role = roleOf(req);
      page(
        req,
        res,
        'Overview',
        '/',
        overviewPage({
          role,
          permissions: (['see-patient-ids', 'try-patient', 'retry-outbox'] as const)
            .filter((p) => can(role, p))
            .map((p) => PERMISSION_TEXT[p]!),
          outbox: [...counts].map(([state, count]) => ({ state, count })),
          drift,
          knowledgeVersion: options.kb.version,
        }),
      );
    });

    router.get('/knowledge', (req, res) => {
      const o = overridesInfo(options.overridesFile);
      page(
        req,
        res,
        'Knowledge in use',
        '/knowledge',
        knowledgePage({ kb: options.kb, baseCutoffIds, overrides: o.info, overridesProblem: o.problem }),
      );
    });

    const analytics = async (req: Request) => {
      const p = period(req, now());
      const [presentations, catalogue, feedback] = await Promise.all([
        queries.cardPresentations(p.from, p.to),
        queries.feedbackSince(p.from),
      ]).then(
        async ([presentations, feedback]) =>
          [
            presentations,
            await queries.shownCards(presentations.flatMap((x) => x.cardIds)),
            feedback,
          ] as const,
      );
      return {
        p,
        a: computeFeedbackAnalytics({ from: p.from, to: p.to, presentations, catalogue, feedback }),
      };
    };

    router.get('/feedback', async (req, res) => {
      const { p, a } = await analytics(req);
      page(req, res, 'Cards and feedback', '/feedback', feedbackPage(a, { from: p.fromText, to: p.toText }));
    });

    router.get('/feedback.csv', async (req, res) => {
      const { p, a } = await analytics(req);
      res.set(
        'Content-Disposition',
        `attachment; filename="cards-feedback-${p.fromText}-to-${p.toText}.csv"`,
      );
      res.type('text/csv; charset=utf-8').send(analyticsCsv(a));
    });

    router.get('/audit', async (req, res) => {
      const pageSize = 50;
      const pageText = single(req.query.page);
      const pageNo = pageText && /^\d{1,5}$/.test(pageText) ? Math.max(1, Number(pageText)) : 1;
      const outcome = single(req.query.outcome);
      if (outcome && !(AUDIT_OUTCOME_GROUPS as readonly string[]).includes(outcome)) {
        throw new AppError('invalid-request', `outcome must be one of ${AUDIT_OUTCOME_GROUPS.join(', ')}`);
      }
      const from = parseDay(single(req.query.from), 'from');
      const to = parseDay(single(req.query.to), 'to');
      const service = single(req.query.service) || undefined;
      const client = single(req.query.client) || undefined;
      const result = await queries.searchAudit({
        from,
        to: to && new Date(to.getTime() + DAY_MS),
        service,
        client,
        outcome: outcome as AuditOutcomeGroup | undefined,
        limit: pageSize,
        offset: (pageNo - 1) * pageSize,
      });
      // The choices come from configuration, not from scanning the audit table.
      const facets = {
        services: endpoints.map((e) => e.definition.id),
        clients: [...options.clients.map((c) => c.iss), CONSOLE_TRY_ISS],
      };
      const query = Object.fromEntries(
        Object.entries({
          from: single(req.query.from),
          to: single(req.query.to),
          service,
          client,
          outcome,
        }).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
      );
      const showPatients = can(roleOf(req), 'see-patient-ids');
      page(
        req,
        res,
        'Audit',
        '/audit',
        auditPage({
          // The rows a viewer gets carry no patient id at all, not merely a hidden column.
          rows: showPatients ? result.rows : result.rows.map((r) => ({ ...r, patientId: null })),
          total: result.total,
          showPatients,
          facets,
          query,
          page: pageNo,
          pageSize,
        }),
      );
    });

    router.get('/writeback', async (req, res) => {
      const [items, counts] = await Promise.all([queries.outboxItems(), queries.outboxStateCounts()]);
      const role = roleOf(req);
      const retried = single(req.query.retried);
      const skipped = single(req.query.notdead);
      page(
        req,
        res,
        'Write-back',
        '/writeback',
        writebackPage({
          items,
          counts,
          canRetry: can(role, 'retry-outbox'),
          showKeys: can(role, 'see-patient-ids'),
          csrf: csrfToken(req.session),
          notice:
            retried && /^\d+$/.test(retried)
              ? `Item #${retried} is pending again.`
              : skipped && /^\d+$/.test(skipped)
                ? `Item #${skipped} was not dead: nothing changed.`
                : undefined,
        }),
      );
    });

    router.post('/writeback/:item/retry', async (req, res) => {
      need(req, 'retry-outbox');
      const item = single(req.params.item);
      if (!item || !/^\d{1,15}$/.test(item))
        throw new AppError('invalid-request', 'item must be an outbox item id');
      const retried = await queries.retryDeadOutboxItem(Number(item), now());
      logger.info(
        { consoleUser: req.session.user!.sub, outboxItem: Number(item), retried },
        'console: outbox retry',
      );
      res.redirect(303, `/console/writeback?${retried ? 'retried' : 'notdead'}=${item}`);
    });

    const procedures = options.kb.codeLists['spine-surgery-procedures'].codes.map((c) => ({
      system: c.system,
      code: c.code,
      display: c.display,
    }));
    const services = endpoints.map((e) => ({
      id: e.definition.id,
      hook: e.definition.hook,
      title: e.definition.title ?? e.definition.id,
    }));

    const tryForm = async (
      req: Request,
      selected: { patient?: string; procedure?: string; service?: string },
    ) => {
      let patients: { id: string; label: string }[] = [];
      let patientsProblem: string | undefined;
      if (options.testFhirServer) {
        try {
          patients = await readTestPatients(options.testFhirServer);
        } catch (err) {
          patientsProblem = `The test FHIR server did not list its patients (${(err as Error).message}).`;
        }
      }
      return {
        patients,
        patientsProblem,
        procedures,
        services,
        testFhirServer: options.testFhirServer,
        selected,
        csrf: csrfToken(req.session),
      };
    };

    router.get('/try', async (req, res) => {
      need(req, 'try-patient');
      page(req, res, 'Try a patient', '/try', tryPage(await tryForm(req, {})));
    });

    router.post('/try', async (req, res) => {
      need(req, 'try-patient');
      if (!options.testFhirServer) throw new AppError('not-ready', 'No test FHIR server is configured');
      const body = req.body as Record<string, unknown>;
      const patient = single(body.patient);
      const procedureKey = single(body.procedure);
      const serviceId = single(body.service);
      const endpoint = endpoints.find((e) => e.definition.id === serviceId);
      const procedure = procedures.find((p) => `${p.system}|${p.code}` === procedureKey);
      if (!patient || !/^[A-Za-z0-9\-.]{1,64}$/.test(patient) || !endpoint || !procedure) {
        throw new AppError('invalid-request', 'Choose a patient, a procedure code and a hook from the lists');
      }
      const request = tryRequest({
        hook: endpoint.definition.hook,
        patient,
        procedure,
        fhirServer: options.testFhirServer,
      });
      let result: TryResult;
      try {
        const cards = await endpoint.handle(request, { iss: CONSOLE_TRY_ISS });
        result = { status: 200, request, response: { cards }, cards };
      } catch (err) {
        // As the API would answer: the stable code's status and OperationOutcome; anything else a 500.
        const e = err instanceof AppError ? err : new AppError('internal', 'Internal error');
        result = {
          status: e.status,
          request,
          response: operationOutcome(e.code, e.message, e.details),
          cards: [],
        };
      }
      page(
        req,
        res,
        'Try a patient',
        '/try',
        tryPage(await tryForm(req, { patient, procedure: procedureKey, service: serviceId }), result),
      );
    });

    router.get('/radiology', async (req, res) => {
      let worklist: ConsoleWorklistEntry[] | { error: string } | undefined;
      if (radiology?.worklist) {
        try {
          worklist = (await radiology.worklist()).entries;
        } catch (err) {
          // The page still shows the watcher's reports; the reason names the failure, never patient data.
          worklist = { error: err instanceof AppError ? err.message : 'the PACS did not answer' };
        }
      }
      const reports = radiology
        ? await radiology.reports({ statuses: REPORT_PROBLEM_STATUSES, limit: 200 })
        : [];
      page(
        req,
        res,
        'Radiology',
        '/radiology',
        radiologyPage({
          configured: radiology !== undefined,
          worklist,
          reports,
          showIds: can(roleOf(req), 'see-patient-ids'),
        }),
      );
    });

    router.get('/clients', async (req, res) => {
      const auth = await queries.clientAuth();
      page(
        req,
        res,
        'Clients',
        '/clients',
        clientsPage({
          clients: options.clients.map((c) => ({
            iss: c.iss,
            label: c.label,
            jwksKids: (c.jwks?.keys ?? []).map((k) => String(k.kid ?? '(no kid)')),
            jku: c.jku ?? [],
            fhirServers: c.fhirServers,
            ehr: c.ehr,
          })),
          auth,
        }),
      );
    });

    // Errors on console pages are pages for a browser (the stable code stays visible); API callers
    // (Accept: application/json or anything not preferring HTML) get the usual OperationOutcome.
    router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
      if (!(err instanceof AppError) || req.accepts(['application/json', 'text/html']) !== 'text/html') {
        next(err);
        return;
      }
      res
        .status(err.status)
        .type('html')
        .send(
          `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Error · Console</title><link rel="stylesheet" href="/console/assets/console.css"></head><body><main id="main"><h1>${esc(err.status === 403 ? 'Not allowed' : 'Something is wrong with this request')}</h1><p>${esc(err.message)}</p><p>Code: <code data-testid="error-code">${esc(err.code)}</code> (HTTP ${err.status})</p><p><a href="/console/">Back to the console</a></p></main></body></html>`,
        );
    });
    return router;
  }

  return {
    router: buildRouter,
    onCardsShown: (service, cards, at) => cardLog.shown(service, cards, at),
    authLog,
    setDriftSource(source) {
      drift = source;
    },
    setRadiologySource(source) {
      radiology = source;
    },
    async close() {
      clearInterval(purge);
      await cardLog.close();
      await authLog.close();
    },
  };
}
