/**
 * `GET /imaging/worklist`: the radiology worklist as JSON, behind the same client JWT as the other
 * /imaging routes (signed for the exact URL called).
 */
import express, { type Router } from 'express';
import type { Authenticator } from '../app.js';
import { AppError } from '../errors.js';
import type { WorklistEntry } from './worklist.js';

export interface WorklistRouterDeps {
  authenticator: Authenticator;
  /** Undefined when no PACS is configured: the route answers 503 not-ready. */
  worklist?: (opts: { limit?: number }) => Promise<{ entries: WorklistEntry[] }>;
}

export function createWorklistRouter(deps: WorklistRouterDeps): Router {
  const router = express.Router();
  router.get('/worklist', async (req, res) => {
    res.locals.routeLabel = '/imaging/worklist';
    const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
    res.locals.client = await deps.authenticator.authenticate(req.header('authorization'), path);
    const raw = req.query.limit;
    let limit: number | undefined;
    if (raw !== undefined) {
      if (typeof raw !== 'string' || !/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
        throw new AppError('invalid-request', 'limit must be a whole number from 1 to 1000');
      }
      limit = Number(raw);
    }
    if (!deps.worklist) {
      throw new AppError('not-ready', 'no PACS is configured on this service (DICOMWEB_BASE_URL)');
    }
    res.status(200).json(await deps.worklist(limit === undefined ? {} : { limit }));
  });
  router.all('/worklist', (_req, res) => {
    res.locals.routeLabel = '/imaging/worklist';
    throw new AppError('method-not-allowed', 'only GET is supported here');
  });
  return router;
}
