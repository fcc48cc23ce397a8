/**
 * The calibration HTTP API (for the console): `POST /calibration` with the cohort CSV as the body and the
 * options as query parameters; same client JWT as the hooks. 200 `{figures, overrides, report?}` when at
 * least one cutoff was accepted; 422 `calibration-refused` with one coded issue per refusal when every
 * stratum was refused; 400 `invalid-cohort` naming row and column; 400 `invalid-request` for bad options;
 * 413 above the body limit; 415 when the body is not CSV; 503 while another calibration runs.
 * Nothing is written: the console (or an operator) decides what to do with the overrides document.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { OperationOutcome } from 'fhir/r4.js';
import type { Authenticator } from '../app.js';
import { AppError, ERROR_CODE_SYSTEM } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { KnowledgeBase } from '../knowledge/index.js';
import { SCORE_METRICS, type ScoreMetric } from '../knowledge/schema.js';
import { CALIBRATION_DEFAULTS, type CalibrationOptions, type CalibrationResult } from './calibrate.js';
import { CohortError, parseCohortCsv } from './cohort.js';
import type { CalibrationOutcomesFile } from './outcomes.js';
import { runCalibration } from './run.js';

/** System of the coded refusal reasons in a 422 OperationOutcome (codes: `RefusalCode`). */
export const CALIBRATION_REFUSAL_SYSTEM =
  'https://spine-bone-health-cds.org/fhir/CodeSystem/calibration-refusal-reason';

export const CALIBRATION_API_LIMITS = {
  /** Largest CSV body (a 50,000-row cohort is about 5 MB). */
  bodyBytes: 10 * 1024 * 1024,
  /** Most bootstrap replicates a request may ask for. */
  replicates: 5000,
} as const;

export interface CalibrationRouterDeps {
  authenticator: Authenticator;
  logger: Logger;
  kb: KnowledgeBase;
  outcomes: CalibrationOutcomesFile;
  /** Recorded in the provenance (e.g. the hospital's name). */
  site: string;
  maxBodyBytes?: number;
  now?: () => Date;
}

function routeLabel(res: Response, label: string): void {
  res.locals.routeLabel = label;
}

function queryString(req: Request, name: string): string | undefined {
  const v = (req.query as Record<string, unknown>)[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw new AppError('invalid-request', `query parameter ${name} must be given once`);
  return v;
}

function queryNumber(req: Request, name: string, check: (v: number) => boolean): number | undefined {
  const text = queryString(req, name);
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v)) {
    throw new AppError('invalid-request', `query parameter ${name} has an invalid value`);
  }
  return v;
}

function readOptions(req: Request, outcomes: CalibrationOutcomesFile): CalibrationOptions {
  const metric = queryString(req, 'metric');
  if (metric === undefined || !(SCORE_METRICS as readonly string[]).includes(metric)) {
    throw new AppError(
      'invalid-request',
      `query parameter metric must be one of ${SCORE_METRICS.join(', ')}`,
    );
  }
  const outcome = queryString(req, 'outcome');
  if (outcome === undefined || outcomes.outcomes[outcome] === undefined) {
    throw new AppError(
      'invalid-request',
      `query parameter outcome must be one of ${Object.keys(outcomes.outcomes).join(', ')}`,
    );
  }
  const options: CalibrationOptions = { metric: metric as ScoreMetric, outcome };
  const set = <K extends keyof CalibrationOptions>(key: K, v: CalibrationOptions[K] | undefined): void => {
    if (v !== undefined) options[key] = v;
  };
  set(
    'fieldStrengthT',
    queryNumber(req, 'fieldStrength', (v) => v > 0 && v <= 12),
  );
  set(
    'minEvents',
    queryNumber(req, 'minEvents', (v) => Number.isInteger(v) && v >= 2),
  );
  set(
    'maxGapMonths',
    queryNumber(req, 'maxGapMonths', (v) => v > 0),
  );
  set(
    'maxCutoffCiWidth',
    queryNumber(req, 'maxCiWidth', (v) => v > 0),
  );
  set(
    'replicates',
    queryNumber(
      req,
      'replicates',
      (v) => Number.isInteger(v) && v >= 200 && v <= CALIBRATION_API_LIMITS.replicates,
    ),
  );
  set(
    'seed',
    queryNumber(req, 'seed', (v) => Number.isInteger(v) && v >= 1 && v <= 4294967295),
  );
  return options;
}

/** The 422 body: one issue per refusal of each stratum, carrying the coded reason. */
export function refusalOutcome(result: CalibrationResult): OperationOutcome {
  const issue: OperationOutcome['issue'] = result.strata.flatMap((s) =>
    s.refusals.map((r) => ({
      severity: 'error' as const,
      code: 'business-rule' as const,
      details: {
        coding: [
          { system: ERROR_CODE_SYSTEM, code: 'calibration-refused' },
          { system: CALIBRATION_REFUSAL_SYSTEM, code: r.code },
        ],
        text: `${s.label}: ${r.message}`,
      },
      diagnostics: `${s.label} refused (${r.code}): ${r.message}`,
    })),
  );
  return { resourceType: 'OperationOutcome', issue };
}

/** The calibration router: `POST /calibration`. Mount it at the application root (or under /console). */
export function createCalibrationRouter(deps: CalibrationRouterDeps): Router {
  const router = express.Router();
  const limit = deps.maxBodyBytes ?? CALIBRATION_API_LIMITS.bodyBytes;
  const now = deps.now ?? (() => new Date());
  let running = false;

  router.post('/calibration', async (req, res) => {
    routeLabel(res, '/calibration');
    const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
    res.locals.client = await deps.authenticator.authenticate(req.header('authorization'), path);
    if (!req.is(['text/csv', 'text/plain'])) {
      throw new AppError('unsupported-media-type', 'send the cohort as text/csv');
    }
    const declared = Number(req.header('content-length'));
    if (Number.isFinite(declared) && declared > limit) {
      throw new AppError('payload-too-large', `the cohort CSV exceeds ${limit} bytes`);
    }
    const options = readOptions(req, deps.outcomes);
    const wantReport = queryString(req, 'report') === 'true';
    const text = await readBody(req, limit);
    let rows;
    try {
      rows = parseCohortCsv(text);
    } catch (err) {
      if (err instanceof CohortError) throw new AppError('invalid-cohort', err.message, err.problems);
      throw err;
    }
    // One calibration at a time: each takes a CPU core for a while (the bootstrap yields between slices).
    if (running) throw new AppError('not-ready', 'another calibration is running; try again shortly');
    running = true;
    let run;
    try {
      run = await runCalibration({
        rows,
        kb: deps.kb,
        outcomes: deps.outcomes,
        options,
        site: deps.site,
        now: now(),
        report: wantReport,
      });
    } catch (err) {
      if (err instanceof CohortError) throw new AppError('invalid-cohort', err.message, err.problems);
      throw err;
    } finally {
      running = false;
    }
    const log = (res.locals.log as Logger | undefined) ?? deps.logger;
    // Figures only: never patient data.
    log.info(
      {
        metric: run.result.metric,
        outcome: run.result.outcome,
        strata: run.result.strata.map((s) => `${s.label}:${s.status}`),
      },
      'calibration run',
    );
    if (!run.overrides) {
      res
        .status(422)
        .type('application/fhir+json')
        .send(JSON.stringify(refusalOutcome(run.result)));
      return;
    }
    res.status(200).json({
      figures: run.figures,
      overrides: run.overrides,
      ...(run.report !== undefined ? { report: run.report } : {}),
    });
  });

  router.all('/calibration', (_req, res) => {
    routeLabel(res, '/calibration');
    throw new AppError('method-not-allowed', 'only POST is supported here');
  });
  return router;
}

/** Reads the body as UTF-8 text within the limit (counting bytes as they arrive, with or without a length). */
function readBody(req: Request, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        req.resume();
        reject(new AppError('payload-too-large', `the cohort CSV exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks).toString('utf8'));
      }
    });
    req.on('error', () => {
      if (!done) {
        done = true;
        reject(new AppError('invalid-request', 'the request body could not be read'));
      }
    });
  });
}

export { CALIBRATION_DEFAULTS };
