/**
 * express-session's store on the service's database (src/store/console-queries.ts), so console sessions
 * survive a restart and are shared by replicas; the cookie carries only the signed session id.
 */
import session from 'express-session';
import type { ConsoleQueries } from '../store/console-queries.js';

export class DbSessionStore extends session.Store {
  constructor(
    private readonly queries: ConsoleQueries,
    private readonly ttlMs: number,
    private readonly now: () => Date = () => new Date(),
  ) {
    super();
  }

  private expiry(sess: session.SessionData): Date {
    const expires = sess.cookie?.expires;
    return expires ? new Date(expires) : new Date(this.now().getTime() + this.ttlMs);
  }

  override get(sid: string, callback: (err: unknown, session?: session.SessionData | null) => void): void {
    this.queries.getSession(sid, this.now()).then(
      (data) => callback(null, (data as session.SessionData | undefined) ?? null),
      (err: unknown) => callback(err),
    );
  }

  override set(sid: string, sess: session.SessionData, callback?: (err?: unknown) => void): void {
    this.queries.setSession(sid, sess, this.expiry(sess)).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.queries.destroySession(sid).then(
      () => callback?.(),
      (err: unknown) => callback?.(err),
    );
  }

  override touch(sid: string, sess: session.SessionData, callback?: () => void): void {
    this.queries.touchSession(sid, this.expiry(sess)).then(
      () => callback?.(),
      () => callback?.(),
    );
  }
}
