/**
 * CSRF protection for every state-changing console request: the synchronizer-token pattern (OWASP's
 * primary recommendation when there is server-side session state). Each session gets a random token,
 * rendered as a hidden field in every form; a POST whose field does not equal the session's token (compared
 * in constant time) is refused with 403 `csrf-invalid` before any handler runs. With the session already
 * server-side this needs no extra cookie and no library: the double-submit-cookie libraries exist for
 * stateless apps. SameSite=Lax on the session cookie is a second layer, not the defence.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors.js';

export const CSRF_FIELD = '_csrf';

interface CsrfSession {
  csrfToken?: string;
}

/** The session's token, created on first use. */
export function csrfToken(session: CsrfSession): string {
  session.csrfToken ??= randomBytes(32).toString('base64url');
  return session.csrfToken;
}

/** Refuses unsafe methods whose form field does not carry the session's token. */
export function requireCsrf(req: Request, _res: Response, next: NextFunction): void {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') {
    next();
    return;
  }
  const expected = (req.session as CsrfSession | undefined)?.csrfToken;
  const body = req.body as Record<string, unknown> | undefined;
  const sent = typeof body?.[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : '';
  const a = Buffer.from(sent);
  const b = Buffer.from(expected ?? '');
  if (expected === undefined || a.length !== b.length || !timingSafeEqual(a, b)) {
    next(new AppError('csrf-invalid', 'The form is stale or did not come from the console; reload the page'));
    return;
  }
  next();
}
