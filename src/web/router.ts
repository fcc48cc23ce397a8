/**
 * The care-team view (a SMART on FHIR app) served at /care-team: the launch page (EHR launch with
 * `iss` + `launch`, standalone launch with `iss` only), the app page (also the OAuth redirect URL), the
 * bundled scripts, the app's public configuration and the knowledge document. Everything patient-specific
 * is read by the browser from the EHR's FHIR server with the user's token; nothing here sees PHI.
 */
import express, { type Request, type Response, type Router } from 'express';
import { AppError } from '../errors.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import type { CareTeamAssets, StaticFile } from './assets.js';
import { buildKnowledgeView } from './knowledge-view.js';

export interface CareTeamRouterOptions {
  kb: KnowledgeBase;
  /** The bundle; may still be building when the router is made (requests then wait for it). */
  assets: Promise<CareTeamAssets>;
  /** The client id registered with the EHR's authorization server; without it launches are refused. */
  clientId: string | undefined;
  /** Scopes the app asks for (SMART v2 by default; v1 for older EHRs). */
  scope: string;
  /** FHIR servers (iss) the app may be launched against; undefined = any http(s) server. */
  allowedIss: string[] | undefined;
  /** DXA least significant change by site, in T-score units. */
  dxaLsc: Record<string, number>;
}

// Plot writes inline styles into its SVG; scripts only from here; the FHIR server and the EHR's
// authorization server are on other origins (connect-src). EHRs embed SMART apps in frames.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  'connect-src *',
  "base-uri 'none'",
  "form-action 'self'",
  "object-src 'none'",
].join('; ');

async function send(
  res: Response,
  pending: Promise<CareTeamAssets>,
  name: string,
  cache: string,
): Promise<void> {
  let assets: CareTeamAssets;
  try {
    assets = await pending;
  } catch {
    throw new AppError('not-ready', 'The care-team view is not available (its bundle failed to build)');
  }
  const file: StaticFile | undefined = assets.get(name);
  if (!file) throw new AppError('not-found', 'No such file');
  res.set({
    'Content-Type': file.contentType,
    'Cache-Control': cache,
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    // The redirect URL carries the authorization code: never leak it to the cited papers' sites.
    'Referrer-Policy': 'no-referrer',
  });
  res.send(file.body);
}

function single(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

export function createCareTeamRouter(options: CareTeamRouterOptions): Router {
  const router = express.Router();
  const knowledge = JSON.stringify(buildKnowledgeView(options.kb, options.dxaLsc));
  const allowed = options.allowedIss?.map((u) => u.replace(/\/+$/, ''));

  router.get('/knowledge.json', (_req: Request, res: Response) => {
    res.set({ 'Cache-Control': 'public, max-age=300', 'X-Content-Type-Options': 'nosniff' });
    res.type('application/json').send(knowledge);
  });

  router.get('/config.json', (_req: Request, res: Response) => {
    if (!options.clientId) {
      throw new AppError('not-ready', 'The care-team view has no client id (set CARE_TEAM_CLIENT_ID)');
    }
    res.set({ 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    res.json({ clientId: options.clientId, scope: options.scope });
  });

  router.get('/launch', async (req: Request, res: Response) => {
    const iss = single(req.query.iss);
    const launch = req.query.launch;
    if (!iss || !URL.canParse(iss) || !/^https?:$/.test(new URL(iss).protocol)) {
      throw new AppError('invalid-request', 'The launch needs iss: the http(s) base URL of the FHIR server');
    }
    if (launch !== undefined && (typeof launch !== 'string' || launch.length === 0 || launch.length > 4096)) {
      throw new AppError('invalid-request', 'launch must be one non-empty string');
    }
    if (allowed && !allowed.includes(iss.replace(/\/+$/, ''))) {
      throw new AppError(
        'invalid-request',
        'This FHIR server is not one the care-team view is registered with',
      );
    }
    if (!options.clientId) {
      throw new AppError('not-ready', 'The care-team view has no client id (set CARE_TEAM_CLIENT_ID)');
    }
    await send(res, options.assets, 'launch.html', 'no-store');
  });

  router.get(['/', '/index.html'], async (_req: Request, res: Response) => {
    await send(res, options.assets, 'index.html', 'no-store');
  });

  router.get('/assets/:file', async (req: Request, res: Response) => {
    const name = single(req.params.file) ?? '';
    if (!/^[a-z0-9-]+\.(js|css|txt)$/.test(name)) throw new AppError('not-found', 'No such file');
    await send(res, options.assets, `assets/${name}`, 'public, max-age=300');
  });

  return router;
}
