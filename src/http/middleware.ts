/**
 * Cross-cutting HTTP middleware: request ids and per-request logging, CORS, content-type and body-size
 * checks, and the one error handler that turns every failure into an OperationOutcome.
 */
import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, operationOutcome } from '../errors.js';
import { bodyError, databaseDataError } from './body.js';
import type { Logger } from './logger.js';

const REQUEST_ID = /^[A-Za-z0-9\-_.]{1,64}$/;

/**
 * A request's logger and its one log line: handlers add fields to that line (`annotate`) and may give it
 * its message, rather than writing a second line about the same request.
 */
export interface CallLog {
  log: Logger;
  annotate(fields: Record<string, unknown>, message?: string): void;
}

/** The CallLog of the request `res` answers (the root logger's, outside requestContext). */
export function requestLog(res: Response, root: Logger): CallLog {
  const locals = res.locals as { log?: Logger; logFields?: Record<string, unknown>; logMessage?: string };
  return {
    log: locals.log ?? root,
    annotate: (fields, message) => {
      locals.logFields = { ...locals.logFields, ...fields };
      if (message !== undefined) locals.logMessage = message;
    },
  };
}

/**
 * Assigns a request id (a sane incoming X-Request-Id is kept), a child logger, and the request's one log
 * line, written when the response is sent. The logger travels in `res.locals` rather than in
 * AsyncLocalStorage, whose promise hooks would tax every await of every request.
 */
export function requestContext(root: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const log = root.child({ requestId });
    res.locals.log = log;
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // Only method, route template and status (plus what handlers annotated, never PHI): paths can hold
      // patient ids, bodies hold PHI.
      const locals = res.locals as { logFields?: Record<string, unknown>; logMessage?: string };
      log.info(
        {
          method: req.method,
          route: (res.locals.routeLabel as string | undefined) ?? 'unmatched',
          status: res.statusCode,
          ...(typeof res.locals.errorCode === 'string' ? { code: res.locals.errorCode } : {}),
          ...locals.logFields,
          durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
        },
        locals.logMessage ?? 'request',
      );
    });
    next();
  };
}

/** Labels the request with its route template for logs and metrics. */
export function routeLabel(label: string): RequestHandler {
  return (_req, res, next) => {
    res.locals.routeLabel = label;
    next();
  };
}

/**
 * CORS for browser-based CDS clients: any origin (authentication is by bearer JWT, never cookies),
 * preflight answered with the headers the spec needs.
 */
export const cors: RequestHandler = (req, res, next) => {
  res.setHeader('Access-Control-Allow-Origin', '*');
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
  res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id');
  res.setHeader('Access-Control-Max-Age', '600');
  if (req.method === 'OPTIONS') {
    res.locals.routeLabel ??= 'preflight';
    res.status(204).end();
    return;
  }
  next();
};

/** Refuses a body that is not JSON (415) before it is parsed. */
export const requireJson: RequestHandler = (req, _res, next) => {
  const type = req.header('content-type');
  if (!type || !/^application\/(fhir\+)?json\b/i.test(type)) {
    next(new AppError('unsupported-media-type', 'Content-Type must be application/json'));
    return;
  }
  next();
};

/** Maps any error to a status and an OperationOutcome. Nothing leaks a stack trace, a token or PHI. */
export function errorHandler(root: Logger): ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const log = (res.locals.log as Logger | undefined) ?? root;
    let appError: AppError;
    if (err instanceof AppError) {
      appError = err;
    } else {
      const mapped = bodyError(err) ?? databaseDataError(err);
      if (mapped) {
        appError = mapped;
      } else {
        // Log the error's name and message only: messages from our code carry no PHI by convention.
        log.error(
          { err: { name: (err as Error)?.name, message: (err as Error)?.message } },
          'unhandled error',
        );
        appError = new AppError(
          'internal',
          'Internal error; the request id identifies it in the service log',
        );
      }
    }
    res.locals.errorCode = appError.code;
    if (appError.status >= 500) log.warn({ code: appError.code }, 'request failed');
    // Every refusal is logged with its stable code (a 401 also with the reason the authenticator found),
    // on the request's one line; never the message details, which may name fields of the request.
    else {
      const locals = res.locals as { logMessage?: string };
      requestLog(res, root).annotate(
        err instanceof AppError && 'reason' in err && typeof err.reason === 'string'
          ? { reason: err.reason }
          : {},
        locals.logMessage ?? 'request refused',
      );
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    if (appError.code === 'unauthorized') res.setHeader('WWW-Authenticate', 'Bearer');
    res
      .status(appError.status)
      .type('application/fhir+json')
      .send(JSON.stringify(operationOutcome(appError.code, appError.message, appError.details)));
  };
}
