/**
 * The PACS watcher (issue 17): notices ROI reports (DICOM SR TID 1500) saved to the PACS by a viewer,
 * measures the series they are drawn on and writes the results through the write-back outbox (FHIR
 * Observations, and our SR back to the PACS) with no API call from anyone.
 *
 * - Idempotent and safe with replicas: a report is claimed by one row keyed by its SOP Instance UID in the
 *   shared store; whoever wins the claim measures it, the others skip it.
 * - Resumable: discovery moves a checkpoint kept in the store only after every listed report has a row;
 *   a claim left by a crashed process runs out and is taken over.
 * - A corrected report (a new SR on the same study and image series, or one naming an earlier report in
 *   its Predecessor Documents Sequence) amends the earlier Observation (same identifier, status amended).
 * - A malformed report is recorded with the reason and never retried; a report without VBQ ROIs is
 *   recorded as ignored; a transient failure (PACS down) is retried a few times, then recorded as failed.
 * Logs carry outcomes and reasons, never patient or study identifiers.
 */
import { randomUUID } from 'node:crypto';
import type { Observation } from 'fhir/r4.js';
import { retrieveInstance, type DicomwebClientOptions } from '../dicomweb/client.js';
import { AppError } from '../errors.js';
import type { Logger } from '../http/logger.js';
import type { PacsWatchMetrics } from '../http/metrics.js';
import { seq, str } from '../imaging/dicom/attributes.js';
import { parseDicom } from '../imaging/dicom/parse.js';
import type { MeasurementResult } from '../imaging/measurement.js';
import { buildObservation, effectiveDateTime, measurementIdentifier } from '../imaging/observations.js';
import { fetchReferencedImages } from '../imaging/pacs-study.js';
import { readRoisFromSr, type RoiInput } from '../imaging/roi.js';
import { SR_MANUFACTURER } from '../imaging/sr-writer.js';
import { measureStudy } from '../imaging/vbq.js';
import { enqueueMeasurementSr } from '../imaging/write-requests.js';
import type { Store } from '../store/store.js';
import type { WritebackOutbox } from '../writeback/outbox-worker.js';
import type { DiscoveredReport, DiscoveredSeries, ReportSource } from './sources.js';
import { WatchStore, type ReportStatus } from './watch-store.js';
import { judgeSeries } from './worklist.js';

/** One written (or amended) result, as the watcher's hooks see it (e.g. to complete a radiology Task). */
export interface MeasuredEvent {
  studyInstanceUID: string;
  srSopInstanceUID: string;
  patientId?: string;
  observations: { metric: string; identifier: { system: string; value: string }; amended: boolean }[];
}

export interface PacsWatcherOptions {
  store: Store;
  source: ReportSource;
  dicomweb: DicomwebClientOptions;
  writeback: Pick<WritebackOutbox, 'enqueueObservation' | 'enqueueObservationAmendment' | 'enqueueDicomSr'>;
  logger: Logger;
  /** Identifier system under which FHIR Patients carry the DICOM PatientID. */
  patientIdentifierSystem: string;
  defaultTimezone?: string;
  /** PACS_WATCH_INTERVAL_MS. */
  intervalMs: number;
  /** This replica's name in claim rows (default: a random id per process). */
  owner?: string;
  /** How long a claim holds before another replica may take the report over. */
  claimMs?: number;
  /** Attempts at a report that keeps failing for transient reasons before it is recorded as failed. */
  maxAttempts?: number;
  now?: () => Date;
  /** Called after a report's results were queued; its failure is logged, never undoes the measurement. */
  onMeasured?: (event: MeasuredEvent) => Promise<void>;
  /** /metrics counters (cds_pacs_watch_*), when the service exposes them. */
  metrics?: PacsWatchMetrics;
}

export interface PollSummary {
  listed: number;
  measured: number;
  amended: number;
  ignored: number;
  /** Our own measurement SRs seen in the PACS. */
  own: number;
  malformed: number;
  refused: number;
  superseded: number;
  skipped: number;
  retried: number;
  failed: number;
  /** New MR series recorded for the worklist (measurable: VBQ can be measured on them). */
  series: number;
  measurableSeries: number;
  /** True when the poll included a reconciliation sweep. */
  swept: boolean;
}

export interface PacsWatcher {
  /** One poll: discover, claim, measure; then move the checkpoint. */
  runOnce(): Promise<PollSummary>;
  start(): void;
  stop(): Promise<void>;
  readonly store: WatchStore;
}

const EMPTY: PollSummary = {
  listed: 0,
  measured: 0,
  amended: 0,
  ignored: 0,
  own: 0,
  malformed: 0,
  refused: 0,
  superseded: 0,
  skipped: 0,
  retried: 0,
  failed: 0,
  series: 0,
  measurableSeries: 0,
  swept: false,
};

/** What processing one report came to. */
type Outcome = {
  status: Exclude<ReportStatus, 'claimed'>;
  reason?: string;
  lineageKey?: string;
  contentKey?: string;
  result?: unknown;
  event?: MeasuredEvent;
};

/**
 * A reason as it is logged and shown on the console to every role: DICOM UIDs in it (e.g. an ROI's
 * tracking UID in a reader's message) are replaced, because UIDs can lead back to a patient's images.
 */
function withoutUids(reason: string): string {
  return reason.replace(/\b\d+(?:\.\d+){2,}\b/g, '[uid]');
}

class Malformed extends Error {
  constructor(message: string) {
    super(withoutUids(message));
  }
}

/** True when the ROI set is a VBQ measurement: a vertebral body (or endplate) ROI or a CSF ROI. */
function hasVbqRois(rois: RoiInput): boolean {
  return rois.rois.some(
    (r) => r.kind === 'csf' || ((r.kind === 'body' || r.kind === 'endplate') && !!r.level),
  );
}

function contentKeyOf(ds: Record<string, unknown>): string {
  const d = typeof ds.ContentDate === 'string' ? ds.ContentDate : '';
  const t = typeof ds.ContentTime === 'string' ? ds.ContentTime : '';
  return `${d}${t}`;
}

/**
 * When the report was made, as a FHIR instant (ContentDate/ContentTime in TimezoneOffsetFromUTC, else the
 * site's DICOM_DEFAULT_TIMEZONE, else UTC): written as the Observation's `issued`, which an amendment
 * compares so that an older report never replaces a newer one's value (see ObservationWriter.amend).
 */
export function reportIssued(ds: Record<string, unknown>, defaultTimezone?: string): string | undefined {
  const d = typeof ds.ContentDate === 'string' ? ds.ContentDate.trim() : '';
  const date = /^(\d{4})(\d{2})(\d{2})$/.exec(d);
  if (!date) return undefined;
  const t = typeof ds.ContentTime === 'string' ? ds.ContentTime.trim() : '';
  const time = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(t);
  const hh = time?.[1] ?? '00';
  const mm = time?.[2] ?? '00';
  const ss = time?.[3] ?? '00';
  const ms = time?.[4] ? `.${time[4].padEnd(3, '0').slice(0, 3)}` : '';
  const offset = typeof ds.TimezoneOffsetFromUTC === 'string' ? ds.TimezoneOffsetFromUTC.trim() : '';
  const tz = /^[+-]\d{4}$/.test(offset)
    ? `${offset.slice(0, 3)}:${offset.slice(3)}`
    : (defaultTimezone ?? 'Z');
  const instant = `${date[1]}-${date[2]}-${date[3]}T${hh}:${mm}:${ss}${ms}${tz}`;
  return Number.isNaN(Date.parse(instant)) ? undefined : instant;
}

export function createPacsWatcher(options: PacsWatcherOptions): PacsWatcher {
  const ws = new WatchStore(options.store.db);
  const { logger, source, dicomweb, writeback } = options;
  const now = options.now ?? (() => new Date());
  const owner = options.owner ?? `watcher-${randomUUID()}`;
  const claimMs = options.claimMs ?? 10 * 60_000;
  const maxAttempts = options.maxAttempts ?? 5;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let started = false;
  let stopping = false;

  async function lineageOf(
    ds: Record<string, unknown>,
    studyInstanceUID: string,
    seriesInstanceUIDs: string[],
  ): Promise<string> {
    // An SR that names its predecessor continues that report's lineage, whatever series it references.
    const predecessors = seq(ds, 'PredecessorDocumentsSequence')
      .flatMap((st) => seq(st, 'ReferencedSeriesSequence'))
      .flatMap((se) => seq(se, 'ReferencedSOPSequence'))
      .map((r) => str(r, 'ReferencedSOPInstanceUID'))
      .filter((u): u is string => !!u);
    for (const uid of predecessors) {
      const earlier = await ws.report(uid);
      if (earlier?.lineageKey) return earlier.lineageKey;
    }
    return `${studyInstanceUID}|${seriesInstanceUIDs.join(',')}`;
  }

  async function measure(report: DiscoveredReport): Promise<Outcome> {
    const file = await retrieveInstance(
      dicomweb,
      report.studyInstanceUID,
      report.seriesInstanceUID,
      report.sopInstanceUID,
    );
    let ds: Record<string, unknown>;
    let rois: ReturnType<typeof readRoisFromSr>;
    try {
      ds = parseDicom(file, { fileName: 'SR from PACS' }).dataset;
      if (str(ds, 'Manufacturer') === SR_MANUFACTURER) {
        return { status: 'own', reason: 'our own measurement SR' };
      }
      rois = readRoisFromSr(ds);
    } catch (err) {
      if (err instanceof AppError) throw new Malformed(err.message);
      throw new Malformed('the SR could not be parsed');
    }
    if (!hasVbqRois(rois)) {
      return {
        status: 'ignored',
        reason: `no VBQ ROIs (${rois.rois.length} usable ROI(s), ${rois.skipped.length} group(s) without a level or CSF label)`,
      };
    }
    let study: Awaited<ReturnType<typeof measureStudy>>;
    const images = await fetchReferencedImages(dicomweb, report.studyInstanceUID, ds, rois);
    try {
      study = await measureStudy({ files: images.files, rois });
    } catch (err) {
      if (err instanceof AppError) throw new Malformed(err.message);
      throw err;
    }
    const valid = study.results.filter((r) => r.validity.valid && r.value !== null);
    const first = valid[0];
    if (!first) {
      const reasons = study.results.flatMap((r) => r.validity.reasons.map((x) => `${r.metric}: ${x.code}`));
      return { status: 'refused', reason: `no valid measurement (${[...new Set(reasons)].join('; ')})` };
    }
    const lineageKey = await lineageOf(ds, report.studyInstanceUID, images.seriesInstanceUIDs);
    const contentKey = contentKeyOf(ds);
    const earlier = await ws.lineage(lineageKey);
    // A newer report of the same lineage was already measured (reports seen out of order): it stands.
    if (earlier.some((e) => e.contentKey > contentKey && e.srSopInstanceUID !== report.sopInstanceUID)) {
      return {
        status: 'superseded',
        reason: 'a newer report on the same images was measured already',
        lineageKey,
        contentKey,
      };
    }
    const written: MeasuredEvent['observations'] = [];
    const refusedWrites: string[] = [];
    const issued = reportIssued(ds, options.defaultTimezone);
    for (const r of valid) {
      const obs = observationFor(r, issued);
      if (typeof obs === 'string') {
        refusedWrites.push(`${r.metric}: ${obs}`);
        continue;
      }
      const prior = earlier.find((e) => e.metric === r.metric);
      const identifier = measurementIdentifier(r);
      // The same report again (its process stopped between queueing and recording): the same writes,
      // which the outbox deduplicates.
      const again = prior?.srSopInstanceUID === report.sopInstanceUID;
      if (prior && (!again || prior.revision > 0)) {
        const id = { system: identifier.system, value: prior.identifierValue };
        const amended: Observation = { ...obs, identifier: [id], status: 'amended' };
        await writeback.enqueueObservationAmendment(amended, report.sopInstanceUID);
        if (!again) {
          await ws.saveLineage(
            lineageKey,
            report.studyInstanceUID,
            { ...prior, srSopInstanceUID: report.sopInstanceUID, contentKey, revision: prior.revision + 1 },
            now(),
          );
        }
        written.push({ metric: r.metric, identifier: id, amended: true });
      } else {
        await writeback.enqueueObservation(obs);
        await ws.saveLineage(
          lineageKey,
          report.studyInstanceUID,
          {
            metric: r.metric,
            identifierValue: identifier.value,
            srSopInstanceUID: report.sopInstanceUID,
            contentKey,
            revision: 0,
          },
          now(),
        );
        written.push({ metric: r.metric, identifier, amended: false });
      }
    }
    const sr = await enqueueMeasurementSr(writeback, study, first, {
      pacsBaseUrl: dicomweb.baseUrl,
      now: now(),
    });
    const amended = written.some((w) => w.amended);
    const event: MeasuredEvent = {
      studyInstanceUID: report.studyInstanceUID,
      srSopInstanceUID: report.sopInstanceUID,
      observations: written,
    };
    if (first.patient.dicomPatientId) event.patientId = first.patient.dicomPatientId;
    return {
      status: amended ? 'amended' : 'measured',
      ...(refusedWrites.length > 0 ? { reason: `not written: ${refusedWrites.join('; ')}` } : {}),
      lineageKey,
      contentKey,
      result: {
        metrics: valid.map((r) => ({ metric: r.metric, value: r.value })),
        observations: written.map((w) => ({
          metric: w.metric,
          identifier: w.identifier.value,
          amended: w.amended,
        })),
        sr: { sopInstanceUID: sr.sopInstanceUID, outboxId: sr.outboxId },
      },
      event,
    };
  }

  /** The Observation for a valid result, or why it cannot be written. */
  function observationFor(r: MeasurementResult, issued: string | undefined): Observation | string {
    if (!effectiveDateTime(r, options.defaultTimezone)) return 'no acquisition, series or study date';
    const pid = r.patient.dicomPatientId;
    if (!pid) return 'no PatientID';
    const obs = buildObservation(r, {
      patientReference: { identifier: { system: options.patientIdentifierSystem, value: pid } },
      ...(options.defaultTimezone ? { defaultTimezone: options.defaultTimezone } : {}),
    });
    return issued ? { ...obs, issued } : obs;
  }

  async function handle(report: DiscoveredReport, summary: PollSummary): Promise<void> {
    const at = now();
    const attempt = await ws.claim(report, owner, at, new Date(at.getTime() + claimMs));
    if (attempt === undefined) {
      summary.skipped++;
      return;
    }
    let outcome: Outcome;
    try {
      outcome = await measure(report);
    } catch (err) {
      if (err instanceof Malformed) {
        outcome = { status: 'malformed', reason: err.message };
      } else {
        // Transient (PACS or store unreachable, ...): retried with backoff, a few times only.
        const reason =
          err instanceof AppError
            ? `${err.code}: ${withoutUids(err.message)}`
            : `unexpected ${(err as Error).name ?? 'error'}`;
        if (attempt >= maxAttempts) {
          outcome = { status: 'failed', reason: `gave up after ${attempt} attempts; last: ${reason}` };
        } else {
          const retryAt = new Date(now().getTime() + Math.min(options.intervalMs * 2 ** attempt, 3600_000));
          await ws.finish(report.sopInstanceUID, owner, { status: 'retry', reason, retryAt }, now());
          logger.warn({ attempt, reason }, 'pacs watch: report not measured, will retry');
          options.metrics?.reports.inc({ outcome: 'retry' });
          options.metrics?.errors.inc({ stage: 'report' });
          summary.retried++;
          return;
        }
      }
    }
    const { event, ...recorded } = outcome;
    await ws.finish(report.sopInstanceUID, owner, recorded, now());
    options.metrics?.reports.inc({ outcome: outcome.status });
    const log = { status: outcome.status, ...(outcome.reason ? { reason: outcome.reason } : {}) };
    if (outcome.status === 'malformed' || outcome.status === 'failed')
      logger.warn(log, 'pacs watch: report skipped');
    else logger.info(log, 'pacs watch: report processed');
    switch (outcome.status) {
      case 'measured':
        summary.measured++;
        break;
      case 'amended':
        summary.amended++;
        break;
      case 'ignored':
        summary.ignored++;
        break;
      case 'own':
        summary.own++;
        break;
      case 'malformed':
        summary.malformed++;
        break;
      case 'refused':
        summary.refused++;
        break;
      case 'superseded':
        summary.superseded++;
        break;
      default:
        summary.failed++;
    }
    if (event && options.onMeasured) {
      await options
        .onMeasured(event)
        .catch((err: unknown) =>
          logger.warn({ err: { name: (err as Error).name } }, 'pacs watch: after-measurement hook failed'),
        );
    }
  }

  /** Judges and records new MR series (no measurement): the worklist reads them from the store. */
  async function recordSeries(series: DiscoveredSeries[], summary: PollSummary): Promise<void> {
    const known = await ws.knownSeries(series.map((s) => s.seriesInstanceUID));
    for (const s of series) {
      if (stopping) return;
      if (known.has(s.seriesInstanceUID)) continue;
      const verdict = await judgeSeries(dicomweb, s.studyInstanceUID, s.seriesInstanceUID);
      const recorded = await ws.recordSeries(
        {
          studyInstanceUID: s.studyInstanceUID,
          seriesInstanceUID: s.seriesInstanceUID,
          ...(verdict ? { region: verdict.region } : {}),
          ...(s.description ? { description: s.description } : {}),
        },
        now(),
      );
      if (!recorded) continue;
      summary.series++;
      if (verdict) summary.measurableSeries++;
      options.metrics?.series.inc({ verdict: verdict ? 'measurable' : 'not-measurable' });
    }
  }

  async function runOnce(): Promise<PollSummary> {
    try {
      const summary = await poll();
      options.metrics?.polls.inc({ result: 'ok' });
      options.metrics?.lastPoll.set(now().getTime() / 1000);
      return summary;
    } catch (err) {
      options.metrics?.polls.inc({ result: 'error' });
      options.metrics?.errors.inc({ stage: 'poll' });
      throw err;
    }
  }

  async function poll(): Promise<PollSummary> {
    const summary: PollSummary = { ...EMPTY };
    const polled = await source.poll(now());
    summary.listed = polled.reports.length;
    summary.swept = polled.swept === true;
    await recordSeries(polled.series, summary);
    const known = await ws.known(polled.reports.map((r) => r.sopInstanceUID));
    for (const report of polled.reports) {
      // Stopping: what is left has no row yet and the checkpoint stays, so the next start lists it again.
      if (stopping) return summary;
      if (known.has(report.sopInstanceUID)) continue;
      await handle(report, summary);
    }
    // Every listed report now has a row (done, or claimed/retry and picked up below): move on.
    await polled.commit();
    for (const row of await ws.dueRetries(now(), 50)) {
      if (stopping) break;
      await handle(row, summary);
    }
    return summary;
  }

  function schedule(delayMs: number): void {
    if (!started || stopping) return;
    timer = setTimeout(() => {
      timer = undefined;
      running = runOnce()
        .then((s) => {
          if (s.measured + s.amended + s.malformed + s.failed + s.refused > 0)
            logger.info({ ...s }, 'pacs watch poll');
        })
        .catch((err: unknown) =>
          logger.warn(
            { err: { code: err instanceof AppError ? err.code : (err as Error).name } },
            'pacs watch poll failed',
          ),
        )
        .finally(() => {
          running = undefined;
          schedule(options.intervalMs);
        });
    }, delayMs);
    timer.unref();
  }

  return {
    store: ws,
    runOnce,
    start() {
      if (started) return;
      started = true;
      schedule(0);
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
      started = false;
      stopping = false;
    },
  };
}
