/**
 * The imaging HTTP API (mounted at /imaging): VBQ measurement of an uploaded series (multipart DICOM files
 * plus ROIs) and of a study pulled from the PACS over DICOMweb, with durable write-back of the results as
 * FHIR Observations and, for PACS studies, of our measurement SR to the PACS. Both routes need the same
 * client JWT as the CDS hooks.
 */
import express, { type Request, type Response, type Router } from 'express';
import multer from 'multer';
import type { OperationOutcome } from 'fhir/r4.js';
import type { Authenticator } from '../app.js';
import { AppError, ERROR_CODE_SYSTEM } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { Store } from '../store/store.js';
import { dicomSrDedupeKey, dicomSrPayload, DICOM_SR_OUTBOX_KIND } from '../writeback/dicom-sr.js';
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import { parseDicom } from './dicom.js';
import { fetchStudyFromDicomweb } from './pacs-study.js';
import { seededUidGenerator } from './uids.js';
import { buildObservation, effectiveDateTime, measurementIdentifier } from './observations.js';
import { parseRoiJson, readRoisFromSr } from './roi.js';
import type { RoiInput } from './roi.js';
import { writeMeasurementSr } from './sr-writer.js';
import { measureStudy } from './vbq.js';
import type { MeasurementResult, Metric } from './vbq.js';

/** System of the coded refusal reasons carried in a 422 OperationOutcome (codes: `RefusalCode`). */
export const REFUSAL_REASON_SYSTEM = 'https://spine-bone-health-cds.org/fhir/CodeSystem/vbq-refusal-reason';

/** Default upload limits: a lumbar series is tens of files of well under 1 MB each. */
export const DEFAULT_UPLOAD_LIMITS = {
  /** All parts together. */
  totalBytes: 256 * 1024 * 1024,
  /** One DICOM file (a large multi-frame file included). */
  fileBytes: 64 * 1024 * 1024,
  /** DICOM files in one request (plus the ROI part). */
  files: 1000,
} as const;

export interface ImagingRouterDeps {
  authenticator: Authenticator;
  logger: Logger;
  store: Store;
  /** The write-back outbox, or undefined when FHIR_WRITE_BASE_URL is unset. */
  writeback?: Pick<WritebackOutbox, 'enqueueObservation'>;
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

/** One Observation write requested for a valid result: queued, or refused with a reason. */
export interface WriteEntry {
  metric: Metric;
  status: 'queued' | 'already-queued' | 'refused';
  /** Outbox item id (poll the store / metrics for its progress). */
  outboxId?: number;
  identifier?: { system: string; value: string };
  /** Why the write was refused: `no-effective-date` or `no-patient-id`. */
  reason?: { code: 'no-effective-date' | 'no-patient-id'; message: string };
}

export interface SrWriteEntry {
  sopInstanceUID: string;
  seriesInstanceUID: string;
  status: 'queued' | 'already-queued';
  outboxId: number;
}

const UID = /^[0-9]+(\.[0-9]+)*$/;

function routeLabel(res: Response, label: string): void {
  res.locals.routeLabel = label;
}

async function authenticate(deps: ImagingRouterDeps, req: Request, res: Response): Promise<void> {
  const path = req.originalUrl.split('?')[0] ?? req.originalUrl;
  res.locals.client = await deps.authenticator.authenticate(req.header('authorization'), path);
}

/** The 422 body: one issue per refusal reason of each refused metric, carrying the coded reason. */
export function refusalOutcome(results: MeasurementResult[]): OperationOutcome {
  const issue: OperationOutcome['issue'] = results.flatMap((r) =>
    r.validity.reasons.map((reason) => ({
      severity: 'error' as const,
      code: 'business-rule' as const,
      details: {
        coding: [
          { system: ERROR_CODE_SYSTEM, code: 'measurement-refused' },
          { system: REFUSAL_REASON_SYSTEM, code: reason.code },
        ],
        text: `${r.metric}: ${reason.message}`,
      },
      diagnostics: `${r.metric} refused (${reason.code}): ${reason.message}`,
      expression: [r.metric],
    })),
  );
  if (issue.length === 0) {
    issue.push({
      severity: 'error',
      code: 'business-rule',
      details: {
        coding: [{ system: ERROR_CODE_SYSTEM, code: 'measurement-refused' }],
        text: 'no metric could be measured from these ROIs',
      },
      diagnostics: 'no metric could be measured from these ROIs',
    });
  }
  return { resourceType: 'OperationOutcome', issue };
}

function sendRefused(res: Response, results: MeasurementResult[]): void {
  res
    .status(422)
    .type('application/fhir+json')
    .send(JSON.stringify(refusalOutcome(results)));
}

/**
 * Queues one Observation per valid result, subject = the DICOM PatientID as a Patient identifier (the
 * writer resolves it). A result without a date or a PatientID cannot become a conforming Observation: its
 * write is refused with a reason instead.
 */
async function enqueueObservations(
  deps: ImagingRouterDeps,
  writeback: Pick<WritebackOutbox, 'enqueueObservation'>,
  results: MeasurementResult[],
): Promise<WriteEntry[]> {
  const out: WriteEntry[] = [];
  for (const r of results.filter((x) => x.validity.valid && x.value !== null)) {
    const identifier = measurementIdentifier(r);
    if (!effectiveDateTime(r, deps.defaultTimezone)) {
      out.push({
        metric: r.metric,
        status: 'refused',
        identifier,
        reason: {
          code: 'no-effective-date',
          message:
            'the images carry no acquisition, series or study date; the Observation profile requires effectiveDateTime',
        },
      });
      continue;
    }
    const pid = r.patient.dicomPatientId;
    if (!pid) {
      out.push({
        metric: r.metric,
        status: 'refused',
        identifier,
        reason: {
          code: 'no-patient-id',
          message: 'the images carry no PatientID to find the FHIR Patient by',
        },
      });
      continue;
    }
    // Subject by identifier: the outbox writer resolves it to the FHIR Patient at write time.
    const obs = buildObservation(r, {
      patientReference: { identifier: { system: deps.patientIdentifierSystem, value: pid } },
      ...(deps.defaultTimezone ? { defaultTimezone: deps.defaultTimezone } : {}),
    });
    const queued = await writeback.enqueueObservation(obs);
    out.push({
      metric: r.metric,
      status: queued.created ? 'queued' : 'already-queued',
      outboxId: queued.id,
      identifier,
    });
  }
  return out;
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

interface UploadParts {
  files: Express.Multer.File[];
  roiFile?: Express.Multer.File;
  srFile?: Express.Multer.File;
  body: Record<string, unknown>;
}

const MULTER_LIMIT_CODES = new Set([
  'LIMIT_PART_COUNT',
  'LIMIT_FILE_SIZE',
  'LIMIT_FILE_COUNT',
  'LIMIT_FIELD_KEY',
  'LIMIT_FIELD_VALUE',
  'LIMIT_FIELD_COUNT',
]);

/** Parses the multipart upload into memory within the limits, mapping every failure to an AppError. */
function parseUpload(
  req: Request,
  res: Response,
  limits: { totalBytes: number; fileBytes: number; files: number },
): Promise<UploadParts> {
  const options: multer.Options & { streamHandler: (req: Request, busboy: NodeJS.WritableStream) => void } = {
    storage: multer.memoryStorage(),
    // Counts the body as it streams: without a Content-Length (chunked) the total is enforced here, before
    // memory holds more than the limit. Multer then stops parsing, drains the rest and reports the error.
    streamHandler: (incoming, busboy) => {
      let seen = 0;
      let over = false;
      incoming.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (!over && seen > limits.totalBytes) {
          over = true;
          // Multer treats a request error as fatal at once (no wait for the file being received).
          incoming.emit('error', tooLarge(limits));
        }
      });
      incoming.pipe(busboy);
    },
    limits: {
      fileSize: limits.fileBytes,
      files: limits.files + 2,
      fields: 20,
      fieldSize: Math.min(limits.fileBytes, 16 * 1024 * 1024),
      parts: limits.files + 30,
    },
  };
  const upload = multer(options).fields([
    { name: 'files', maxCount: limits.files },
    { name: 'rois', maxCount: 1 },
    { name: 'sr', maxCount: 1 },
  ]);
  return new Promise((resolve, reject) => {
    upload(req, res, (err: unknown) => {
      if (err) {
        reject(uploadError(err, limits));
        return;
      }
      const files = (req.files ?? {}) as Record<string, Express.Multer.File[] | undefined>;
      const parts: UploadParts = {
        files: files.files ?? [],
        body: (req.body ?? {}) as Record<string, unknown>,
      };
      const roiFile = files.rois?.[0];
      const srFile = files.sr?.[0];
      if (roiFile) parts.roiFile = roiFile;
      if (srFile) parts.srFile = srFile;
      const total = [...parts.files, ...(roiFile ? [roiFile] : []), ...(srFile ? [srFile] : [])].reduce(
        (n, f) => n + f.size,
        0,
      );
      if (total > limits.totalBytes) {
        reject(tooLarge(limits));
        return;
      }
      resolve(parts);
    });
  });
}

function tooLarge(limits: { totalBytes: number; fileBytes: number; files: number }): AppError {
  return new AppError('payload-too-large', 'the upload exceeds the documented limits', [
    `at most ${limits.files} files, ${limits.fileBytes} bytes per file, ${limits.totalBytes} bytes in all`,
  ]);
}

function uploadError(
  err: unknown,
  limits: { totalBytes: number; fileBytes: number; files: number },
): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof multer.MulterError) {
    if (MULTER_LIMIT_CODES.has(err.code)) return tooLarge(limits);
    // Multer reports a field over its maxCount as an unexpected file.
    if (err.code === 'LIMIT_UNEXPECTED_FILE' && err.field === 'files') return tooLarge(limits);
    if (err.code === 'LIMIT_UNEXPECTED_FILE') {
      return new AppError(
        'invalid-request',
        `unexpected file part "${err.field ?? '?'}" (expected files, rois or sr, rois and sr once)`,
      );
    }
  }
  // Busboy's messages describe the framing only ("Unexpected end of form", "Malformed part header").
  return new AppError('invalid-request', 'the multipart body is malformed', [
    err instanceof Error ? err.message.slice(0, 200) : 'unreadable multipart body',
  ]);
}

function readRois(parts: UploadParts): { rois: RoiInput; skipped: string[] } {
  const roiField = parts.body.rois;
  const hasJson = parts.roiFile !== undefined || roiField !== undefined;
  if (hasJson && parts.srFile) {
    throw new AppError('invalid-request', 'send either "rois" (JSON) or "sr" (DICOM SR), not both');
  }
  if (parts.srFile) {
    const name = parts.srFile.originalname || 'sr';
    const sr = parseDicom(parts.srFile.buffer, { fileName: name });
    const read = readRoisFromSr(sr.dataset);
    if (read.rois.length === 0) {
      throw new AppError('invalid-roi', `the SR ${name} holds no usable ROI`, read.skipped);
    }
    return { rois: { source: read.source, rois: read.rois }, skipped: read.skipped };
  }
  if (!hasJson) {
    throw new AppError('invalid-request', 'missing ROIs: send a "rois" JSON part or an "sr" DICOM SR file');
  }
  const text = parts.roiFile ? parts.roiFile.buffer.toString('utf8') : roiField;
  if (typeof text !== 'string')
    throw new AppError('invalid-roi', 'the "rois" part must be one JSON document');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new AppError('invalid-roi', 'the "rois" part is not valid JSON', [
      err instanceof Error ? err.message.slice(0, 200) : 'parse error',
    ]);
  }
  return { rois: parseRoiJson(json), skipped: [] };
}

function wantsWrite(body: Record<string, unknown>): boolean {
  const w = body.write;
  if (w === undefined) return false;
  if (w === 'true' || w === '1') return true;
  if (w === 'false' || w === '0' || w === '') return false;
  throw new AppError('invalid-request', 'the "write" field must be true or false');
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
    if (write && deps.writeback) body.writes = await enqueueObservations(deps, deps.writeback, study.results);
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
    // Seeded from the measurement identifier: the same ROI report always yields the same SR UIDs, so a
    // re-run is deduplicated in the outbox and the PACS keeps a single copy.
    const sr = writeMeasurementSr({
      ...study,
      uid: seededUidGenerator(`${measurementIdentifier(first).value}|sr`),
      now: now(),
    });
    const srQueued = await deps.store.enqueue(
      DICOM_SR_OUTBOX_KIND,
      dicomSrDedupeKey(sr.sopInstanceUID),
      dicomSrPayload({
        baseUrl: deps.dicomweb.baseUrl,
        studyInstanceUID: sr.studyInstanceUID,
        sopInstanceUID: sr.sopInstanceUID,
        buffer: sr.buffer,
      }),
    );
    // Observations last: enqueueing one wakes the worker, which then finds the SR item too.
    const writes = await enqueueObservations(deps, deps.writeback, study.results);
    const srEntry: SrWriteEntry = {
      sopInstanceUID: sr.sopInstanceUID,
      seriesInstanceUID: sr.seriesInstanceUID,
      status: srQueued.created ? 'queued' : 'already-queued',
      outboxId: srQueued.id,
    };
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
