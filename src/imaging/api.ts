/**
 * The imaging HTTP API (mounted at /imaging): VBQ measurement of an uploaded series (multipart DICOM files
 * plus ROIs) and of a study pulled from the PACS over DICOMweb, with durable write-back of the results as
 * FHIR Observations and, for PACS studies, of our measurement SR to the PACS. Both routes need the same
 * client JWT as the CDS hooks.
 */
import express, { type Request, type Response, type Router } from 'express';
import type { Authenticator } from '../app.js';
import { AppError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import { sendRefused } from './api-refusal.js';
import { DEFAULT_UPLOAD_LIMITS, parseUpload, readRois, tooLarge, wantsWrite } from './api-upload.js';
import type { MeasurementResult } from './measurement.js';
import { fetchStudyFromDicomweb } from './pacs-study.js';
import { measureStudy } from './vbq.js';
import { enqueueMeasurementSr, enqueueObservations } from './write-requests.js';
import type { WriteEntry } from './write-requests.js';

export interface ImagingRouterDeps {
  authenticator: Authenticator;
  logger: Logger;
  /** The write-back outbox, or undefined when FHIR_WRITE_BASE_URL is unset. */
  writeback?: Pick<WritebackOutbox, 'enqueueObservation' | 'enqueueDicomSr'>;
  /** DICOMWEB_BASE_URL; without it the study route answers 503. */
  dicomweb?: { baseUrl: string };
  /** Identifier system under which FHIR Patients carry the DICOM PatientID. */
  patientIdentifierSystem: string;
  /** Largest accepted upload in bytes (all parts together). */
  maxUploadBytes?: number;
  /** Largest single file and most files per upload (defaults in DEFAULT_UPLOAD_LIMITS). */
  maxFileBytes?: number;
  maxFiles?: number;
  now?: () => Date;
  /** UTC offset ("+01:00", "Z") for DICOM times without one; without it only the date is written. */
  defaultTimezone?: string;
  fetchImpl?: typeof fetch;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

function routeLabel(res: Response, label: string): void {
  res.locals.routeLabel = label;
}

async function authenticate(deps: ImagingRouterDeps, req: Request, res: Response): Promise<void> {
  const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
  res.locals.client = await deps.authenticator.authenticate(req.header('authorization'), path);
}

/** One log line per measurement: metrics and outcome only, never patient or study identifiers. */
function logMeasured(
  deps: ImagingRouterDeps,
  res: Response,
  results: MeasurementResult[],
  writes: WriteEntry[] | undefined,
): void {
  const log = (res.locals.log as Logger | undefined) ?? deps.logger;
  log.info(
    {
      valid: results.filter((r) => r.validity.valid).map((r) => r.metric),
      refused: results.filter((r) => !r.validity.valid).map((r) => r.metric),
      writes: writes?.map((w) => `${w.metric}:${w.status}`),
    },
    'vbq measured',
  );
}

/**
 * The imaging router: `POST /vbq` (multipart upload) and `POST /vbq/studies/:studyInstanceUID` (pull from
 * the PACS, measure, queue the Observations and the SR). Mount it at `/imaging`.
 */
export function createImagingRouter(deps: ImagingRouterDeps): Router {
  const router = express.Router();
  const now = deps.now ?? (() => new Date());
  const limits = {
    totalBytes: deps.maxUploadBytes ?? DEFAULT_UPLOAD_LIMITS.totalBytes,
    fileBytes: Math.min(
      deps.maxFileBytes ?? DEFAULT_UPLOAD_LIMITS.fileBytes,
      deps.maxUploadBytes ?? DEFAULT_UPLOAD_LIMITS.totalBytes,
    ),
    files: deps.maxFiles ?? DEFAULT_UPLOAD_LIMITS.files,
  };

  router.post('/vbq', async (req, res) => {
    routeLabel(res, '/imaging/vbq');
    await authenticate(deps, req, res);
    if (!req.is('multipart/form-data')) {
      throw new AppError('unsupported-media-type', 'Content-Type must be multipart/form-data');
    }
    // Refused before reading the body when the client announces its size.
    const declared = Number(req.header('content-length'));
    if (Number.isFinite(declared) && declared > limits.totalBytes + 64 * 1024) throw tooLarge(limits);
    const parts = await parseUpload(req, res, limits);
    const write = wantsWrite(parts.body);
    if (write && !deps.writeback) {
      throw new AppError(
        'invalid-request',
        'write=true needs FHIR write-back, which is not configured on this service (FHIR_WRITE_BASE_URL)',
      );
    }
    if (parts.files.length === 0) {
      throw new AppError('invalid-request', 'missing DICOM files: send one or more "files" parts');
    }
    const { rois, skipped } = readRois(parts);
    const study = await measureStudy({
      files: parts.files.map((f) => f.buffer),
      fileNames: parts.files.map((f, i) => f.originalname || `file #${i + 1}`),
      rois,
    });
    if (!study.results.some((r) => r.validity.valid && r.value !== null)) {
      sendRefused(res, study.results);
      return;
    }
    const body: { results: MeasurementResult[]; skipped?: string[]; writes?: WriteEntry[] } = {
      results: study.results,
    };
    if (skipped.length > 0) body.skipped = skipped;
    if (write && deps.writeback) {
      body.writes = await enqueueObservations(deps.writeback, study.results, deps);
    }
    logMeasured(deps, res, study.results, body.writes);
    res.status(200).json(body);
  });

  router.post('/vbq/studies/:studyInstanceUID', async (req, res) => {
    routeLabel(res, '/imaging/vbq/studies/:studyInstanceUID');
    await authenticate(deps, req, res);
    const studyInstanceUID = req.params.studyInstanceUID ?? '';
    if (!UID.test(studyInstanceUID) || studyInstanceUID.length > 64) {
      throw new AppError('invalid-request', 'the StudyInstanceUID in the path is not a DICOM UID');
    }
    if (!deps.dicomweb) {
      throw new AppError('not-ready', 'no PACS is configured on this service (DICOMWEB_BASE_URL)');
    }
    if (!deps.writeback) {
      throw new AppError(
        'not-ready',
        'the study endpoint writes its results back, but FHIR write-back is not configured (FHIR_WRITE_BASE_URL)',
      );
    }
    const pacs = {
      baseUrl: deps.dicomweb.baseUrl,
      ...(deps.fetchImpl ? { fetchImpl: deps.fetchImpl } : {}),
    };
    const fetched = await fetchStudyFromDicomweb(pacs, studyInstanceUID);
    const study = await measureStudy({ files: fetched.files, rois: fetched.rois });
    const valid = study.results.filter((r) => r.validity.valid && r.value !== null);
    const first = valid[0];
    if (!first) {
      sendRefused(res, study.results);
      return;
    }
    // Both go through the write-back outbox: our SR for the PACS, then one Observation per valid metric.
    const srEntry = await enqueueMeasurementSr(deps.writeback, study, first, {
      pacsBaseUrl: deps.dicomweb.baseUrl,
      now: now(),
    });
    const writes = await enqueueObservations(deps.writeback, study.results, deps);
    logMeasured(deps, res, study.results, writes);
    res.status(200).json({
      results: study.results,
      ...(fetched.skipped.length > 0 ? { skipped: fetched.skipped } : {}),
      roiReport: { sopInstanceUID: fetched.srSopInstanceUID },
      writes,
      sr: srEntry,
    });
  });

  // Any other method on these paths.
  router.all(['/vbq', '/vbq/studies/:studyInstanceUID'], (_req, res) => {
    routeLabel(res, '/imaging/vbq*');
    throw new AppError('method-not-allowed', 'only POST is supported here');
  });

  return router;
}
