/**
 * The drift watch as the service runs it: with a calibration baseline configured (`DRIFT_BASELINE_FILE`,
 * written by `vbq calibrate --baseline`), the bone-quality scores this service measured recently are
 * compared with the calibration cohort per field strength and scanner, at start and then periodically.
 * The result is a status for the console (`status()`), Prometheus gauges and a log line per stratum (a
 * warning when one drifted).
 *
 * Which recent scores: the Observations this service measured and queued for write-back (the outbox),
 * not scores read in hook calls. Those are the site's own measurements, by the same method the cutoff
 * was calibrated with, each counted once, with field strength and scanner from the DICOM headers; scores
 * read from an EHR's prefetch repeat with every hook call, may come from another hospital's scanner or
 * another method, and reading them would put a database write on the hook path. One score per imaging
 * study and metric counts (the latest measurement: a study measured again with corrected ROIs replaces
 * its earlier score). Nothing is copied out of the outbox: each check reads value, metric, field
 * strength, scanner and acquisition date from the queued Observations and keeps only the figures.
 */
import { readFileSync } from 'node:fs';
import type { Observation } from 'fhir/r4.js';
import type { Registry } from 'prom-client';
import type { Logger } from '../http/logger.js';
import { driftGauges } from '../http/metrics.js';
import { outboxPayloadsSince } from '../store/calibration-queries.js';
import type { Store } from '../store/store.js';
import { OBSERVATION_OUTBOX_KIND } from '../writeback/outbox-worker.js';
import {
  createDriftWatch,
  driftBaselineSchema,
  DRIFT_DEFAULTS,
  type DriftBaseline,
  type DriftResult,
  type DriftThresholds,
  type RecentScore,
  type RecentScoresSource,
} from './drift.js';
import { recentScoreOf } from './fhir-input.js';

/** What the console shows (its `driftSource` dependency reads exactly `checkedAt` and `strata`). */
export interface DriftStatus {
  /** When the last check finished (ISO-8601), null before the first. */
  checkedAt: string | null;
  /** One result per baseline stratum, from the last successful check (empty before the first). */
  strata: DriftResult[];
  metric: DriftBaseline['metric'];
  outcome: string;
  /** When the calibration cohort's baseline was derived. */
  baselineDerivedOn: string;
  /** Scores measured within this many days before a check are "recent". */
  windowDays: number;
  thresholds: DriftThresholds;
  /** Where the recent scores come from. */
  source: 'writeback-outbox';
  /** Why the last check failed (the previous results stay), null when it succeeded. */
  lastError: string | null;
}

/** The structural interface the console consumes. */
export interface DriftSource {
  status(): { checkedAt: string | null; strata: DriftResult[] } | null;
}

export interface DriftWatchSettings {
  intervalMs: number;
  windowDays: number;
  thresholds: DriftThresholds;
}

export const DRIFT_WATCH_DEFAULTS: DriftWatchSettings = {
  intervalMs: 86_400_000,
  windowDays: 30,
  thresholds: DRIFT_DEFAULTS,
};

export interface DriftWatchRuntime extends DriftSource {
  status(): DriftStatus;
  /** One check now (the periodic checks call this). Never rejects: a failure is logged and kept. */
  runOnce(): Promise<DriftStatus>;
  /** A first check at once, then every `intervalMs`; the timer never holds the process open. */
  start(): void;
  /** Stops the timer and waits for a check in progress (so the store can close under it). */
  stop(): Promise<void>;
}

/** Reads and validates a baseline file; the error names the file and the problem. */
export function loadDriftBaseline(file: string): DriftBaseline {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`DRIFT_BASELINE_FILE ${file}: ${(err as Error).message}`);
  }
  const parsed = driftBaselineSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(
      `DRIFT_BASELINE_FILE ${file} is not a calibration baseline (vbq calibrate --baseline): ${problems.join('; ')}`,
    );
  }
  return parsed.data;
}

/** The key under which a later measurement of the same study replaces an earlier one. */
function studyKey(obs: Observation, metric: string): string | undefined {
  const study = obs.derivedFrom?.find(
    (d) => d.type === 'ImagingStudy' || d.reference?.startsWith('ImagingStudy/'),
  );
  const id =
    study?.reference ??
    (study?.identifier ? `${study.identifier.system}|${study.identifier.value}` : undefined);
  return id === undefined ? undefined : `${metric} ${id}`;
}

/** Recent scores of `metric` measured by this service: its queued write-back Observations. */
export function outboxRecentScores(store: Store, metric: DriftBaseline['metric']): RecentScoresSource {
  return async (since) => {
    const sinceDay = since.toISOString().slice(0, 10);
    const byStudy = new Map<string, RecentScore>();
    const unkeyed: RecentScore[] = [];
    for (const payload of await outboxPayloadsSince(store, OBSERVATION_OUTBOX_KIND, since)) {
      const obs = payload as Observation;
      if (obs?.resourceType !== 'Observation') continue;
      const score = recentScoreOf(obs, metric);
      // The acquisition date decides "recent"; an old study measured today is not a new score.
      if (score === undefined || score.measuredOn === null || score.measuredOn === undefined) continue;
      if (score.measuredOn < sinceDay) continue;
      const key = studyKey(obs, metric);
      if (key === undefined) unkeyed.push(score);
      else byStudy.set(key, score); // oldest first: the latest measurement wins
    }
    return [...byStudy.values(), ...unkeyed];
  };
}

export interface DriftWatchRuntimeOptions {
  baseline: DriftBaseline;
  source: RecentScoresSource;
  logger: Logger;
  /** The app's metrics registry: the gauges go there. */
  registry?: Registry;
  settings?: Partial<DriftWatchSettings>;
  now?: () => Date;
}

export function createDriftWatchRuntime(options: DriftWatchRuntimeOptions): DriftWatchRuntime {
  const now = options.now ?? (() => new Date());
  const settings: DriftWatchSettings = {
    ...DRIFT_WATCH_DEFAULTS,
    ...options.settings,
    thresholds: { ...DRIFT_DEFAULTS, ...options.settings?.thresholds },
  };
  const watch = createDriftWatch({
    baseline: options.baseline,
    source: options.source,
    logger: options.logger,
    gauges: options.registry ? driftGauges(options.registry) : undefined,
    thresholds: settings.thresholds,
    windowDays: settings.windowDays,
    now,
  });
  let checkedAt: string | null = null;
  let lastError: string | null = null;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<DriftStatus> | undefined;

  const status = (): DriftStatus => ({
    checkedAt,
    strata: watch.latest(),
    metric: options.baseline.metric,
    outcome: options.baseline.outcome,
    baselineDerivedOn: options.baseline.derivedOn,
    windowDays: settings.windowDays,
    thresholds: settings.thresholds,
    source: 'writeback-outbox',
    lastError,
  });

  const check = async (): Promise<DriftStatus> => {
    try {
      await watch.runOnce();
      checkedAt = now().toISOString();
      lastError = null;
    } catch (err) {
      // The database may be briefly unavailable: the last results stay, the next check tries again.
      lastError = err instanceof Error ? err.message : String(err);
      options.logger.error({ err: { message: lastError } }, 'calibration drift check failed');
    }
    return status();
  };

  const runOnce = (): Promise<DriftStatus> => {
    // One check at a time: a slow check is joined, not doubled.
    running ??= check().finally(() => {
      running = undefined;
    });
    return running;
  };

  return {
    status,
    runOnce,
    start() {
      if (timer) return;
      options.logger.info(
        {
          metric: options.baseline.metric,
          outcome: options.baseline.outcome,
          strata: options.baseline.strata.length,
          intervalMs: settings.intervalMs,
          windowDays: settings.windowDays,
        },
        'calibration drift watch started',
      );
      void runOnce();
      timer = setInterval(() => void runOnce(), settings.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
