/**
 * A Router whose real handler is still being built (bundling the care-team view, starting the demo
 * authorization server): start-up does not wait for it, and requests that come early wait instead. If the
 * build failed, requests get 503 `not-ready` (the failure itself is logged once by whoever started it).
 */
import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { AppError } from '../errors.js';

export function deferredRouter(pending: Promise<Router>, what: string): Router {
  const settled = pending.then(
    (router) => ({ router }),
    () => ({ router: undefined }),
  );
  const outer = express.Router();
  outer.use((req: Request, res: Response, next: NextFunction) => {
    settled.then(({ router }) => {
      if (!router) {
        next(new AppError('not-ready', `${what} is not available`));
        return;
      }
      router(req, res, next);
    }, next);
  });
  return outer;
}
