/**
 * Prometheus metrics, one registry per app (so several apps in one test process never collide).
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  fhirFetchDuration: Histogram<'key' | 'outcome'>;
  cards: Counter<'service' | 'indicator'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    fhirFetchDuration: new Histogram({
      name: 'fhir_fetch_duration_seconds',
      help: "Latency of the service's own FHIR fetches during prefetch hydration, by prefetch key and outcome",
      labelNames: ['key', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    cards: new Counter({
      name: 'cds_cards_total',
      help: 'Cards returned, by service and indicator',
      labelNames: ['service', 'indicator'],
      registers: [registry],
    }),
  };
}

/**
 * Records count and latency per route *template* (never the raw path, which may hold ids) once the
 * response is finished.
 */
export function metricsMiddleware(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (res.locals.routeLabel as string | undefined) ?? 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

// ---- Feedback, outbox depth and authentication failures (issue 13) --------------------------------

/** Label for a card the service did not show from this process (restart, another replica, expired). */
export const UNKNOWN_TOPIC = 'unknown';

/** What the feedback counter needs to know about a card that was shown. */
export interface ShownCard {
  service: string;
  topic: string;
  /** The override reason codes the card offered: only these become label values (bounded cardinality). */
  overrideReasons: ReadonlySet<string>;
}

/**
 * Card uuid -> topic of the cards this process showed, so feedback (which carries only the card uuid) can be
 * counted by topic. A bounded LRU in memory rather than a table: the counters it feeds are per-process
 * Prometheus counters anyway (reset on restart, summed over replicas by Prometheus), it adds no database
 * write to the hook response path, and it cannot grow without bound. Feedback for a card shown by another
 * replica or before a restart is counted with topic `unknown`; durable per-topic analytics belong to the
 * store (audit + feedback tables), not to metrics.
 */
export class ShownCardCache {
  private readonly entries = new Map<string, ShownCard>();

  constructor(readonly maxEntries = 20_000) {}

  remember(uuid: string, card: ShownCard): void {
    // Re-inserting moves the uuid to the young end (Map keeps insertion order).
    this.entries.delete(uuid);
    this.entries.set(uuid, card);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  get(uuid: string): ShownCard | undefined {
    return this.entries.get(uuid);
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface FeedbackMetrics {
  feedback: Counter<'service' | 'topic' | 'outcome' | 'reason'>;
  authFailures: Counter<'reason' | 'client'>;
  shownCards: ShownCardCache;
}

/** One stored feedback entry as the counter sees it. */
export interface CountedFeedback {
  card: string;
  outcome: 'accepted' | 'overridden';
  overrideReason?: { reason?: { code: string } };
}

/**
 * `create` memoised per registry: metrics are registered once on a registry (prom-client refuses a second
 * metric of the same name), however many parts of an app ask for them.
 */
function oncePerRegistry<T>(create: (registry: Registry) => T): (registry: Registry) => T {
  const made = new WeakMap<Registry, T>();
  return (registry) => {
    let value = made.get(registry);
    if (value === undefined) {
      value = create(registry);
      made.set(registry, value);
    }
    return value;
  };
}

const feedbackMetricsOf = oncePerRegistry((registry): FeedbackMetrics => ({
  feedback: new Counter({
    name: 'cds_feedback_total',
    help:
      'Feedback entries stored (duplicates not counted), by service, card topic (unknown when the card was not ' +
      'shown by this process), outcome and override reason code (one the card offered, other, or none)',
    labelNames: ['service', 'topic', 'outcome', 'reason'],
    registers: [registry],
  }),
  authFailures: new Counter({
    name: 'cds_auth_failures_total',
    help:
      'Refused client JWTs by stable reason code and client (the iss of a trusted client, or unknown before ' +
      'the token names one: an untrusted iss is never a label value)',
    labelNames: ['reason', 'client'],
    registers: [registry],
  }),
  shownCards: new ShownCardCache(),
}));

/** The feedback and authentication-failure metrics of an app's registry (created once per registry). */
export function feedbackMetrics(metrics: Metrics): FeedbackMetrics {
  return feedbackMetricsOf(metrics.registry);
}

/** Remembers the cards a hook returned, for counting their feedback by topic. */
export function rememberShownCards(
  metrics: Metrics,
  service: string,
  cards: readonly {
    uuid?: string;
    source: { topic?: { code?: string } };
    overrideReasons?: { code?: string }[];
  }[],
): void {
  const { shownCards } = feedbackMetrics(metrics);
  for (const card of cards) {
    if (!card.uuid) continue;
    shownCards.remember(card.uuid, {
      service,
      topic: card.source.topic?.code ?? UNKNOWN_TOPIC,
      overrideReasons: new Set(
        (card.overrideReasons ?? []).flatMap((r) => (r.code === undefined ? [] : [r.code])),
      ),
    });
  }
}

/** Counts stored feedback entries by the topic of their card and the override reason. */
export function countFeedback(metrics: Metrics, service: string, entries: readonly CountedFeedback[]): void {
  const { feedback, shownCards } = feedbackMetrics(metrics);
  for (const entry of entries) {
    const remembered = shownCards.get(entry.card);
    // Only the service that showed the card may credit its topic (a uuid sent to another service is not it).
    const shown = remembered?.service === service ? remembered : undefined;
    const topic = shown?.topic ?? UNKNOWN_TOPIC;
    const code = entry.overrideReason?.reason?.code;
    // A reason code is caller input: only a code the card offered may become a label value.
    const reason =
      entry.outcome !== 'overridden' || code === undefined
        ? 'none'
        : shown?.overrideReasons.has(code)
          ? code
          : 'other';
    feedback.inc({ service, topic, outcome: entry.outcome, reason });
  }
}

/** Counts one refused client JWT (the authenticator's `onFailure` hook). */
export function countAuthFailure(metrics: Metrics, reason: string, trustedIss: string | undefined): void {
  feedbackMetrics(metrics).authFailures.inc({ reason, client: trustedIss ?? 'unknown' });
}

/** The write-back queue as the store reports it: items by kind and state. */
export interface OutboxDepthSource {
  outboxDepth(): Promise<{
    items: { kind: string; state: 'pending' | 'retrying' | 'dead' | 'done'; count: number }[];
    oldestPendingAt: Date | null;
  }>;
}

/**
 * `writeback_outbox_depth{kind,state}` and `writeback_outbox_oldest_pending_seconds`, read from the store
 * at scrape time (every replica reports the shared queue). Registered whether or not FHIR write-back is
 * configured: DICOM SR items and items left from an earlier configuration are in the same table.
 */
export function registerOutboxDepth(
  metrics: Metrics,
  store: OutboxDepthSource,
  now: () => Date = () => new Date(),
): void {
  const registry = metrics.registry;
  if (registry.getSingleMetric('writeback_outbox_depth')) return;
  // One store query per scrape feeds both gauges.
  let pending: ReturnType<OutboxDepthSource['outboxDepth']> | undefined;
  const read = () => {
    pending ??= store.outboxDepth().finally(() => {
      pending = undefined;
    });
    return pending;
  };
  new Gauge({
    name: 'writeback_outbox_depth',
    help: 'Write-back outbox items by kind and state (pending: not yet tried; retrying: failed, next attempt scheduled; dead: given up; done)',
    labelNames: ['kind', 'state'],
    registers: [registry],
    async collect() {
      try {
        const { items } = await read();
        this.reset();
        for (const i of items) this.set({ kind: i.kind, state: i.state }, i.count);
      } catch {
        // A scrape while the database is unavailable reports the last known values.
      }
    },
  });
  new Gauge({
    name: 'writeback_outbox_oldest_pending_seconds',
    help: 'Age of the oldest pending or retrying outbox item (0 when none): a stuck queue grows it',
    registers: [registry],
    async collect() {
      try {
        const { oldestPendingAt } = await read();
        this.set(oldestPendingAt ? Math.max(0, (now().getTime() - oldestPendingAt.getTime()) / 1000) : 0);
      } catch {
        // As above.
      }
    },
  });
}

// ---- Calibration drift watch (issue 16) -----------------------------------------------------------

type DriftLabel = 'metric' | 'field_strength' | 'scanner';

/** The drift watch's gauges, labelled by metric, field strength (T) and scanner (or `any`). */
export interface DriftGauges {
  drift: Gauge<DriftLabel>;
  pValue: Gauge<DriftLabel>;
  ksStatistic: Gauge<DriftLabel>;
  medianShift: Gauge<DriftLabel>;
  recentScores: Gauge<DriftLabel>;
  lastCheck: Gauge;
}

/**
 * Gauges of the drift watch (src/calibration/drift-watch.ts), on an app's registry, created once per
 * registry. The test's own figures (p-value, D, median shift) are reported only for strata with enough
 * recent scores; the watch resets them at every check so a stratum never shows a stale figure.
 */
export const driftGauges = oncePerRegistry((registry): DriftGauges => {
  const labelNames = ['metric', 'field_strength', 'scanner'] as const;
  return {
    drift: new Gauge({
      name: 'cds_calibration_drift',
      help: 'Recent scores drifted from the calibration cohort (1), stable (0), too few recent scores to tell (-1)',
      labelNames,
      registers: [registry],
    }),
    pValue: new Gauge({
      name: 'cds_calibration_drift_p_value',
      help: 'Two-sample Kolmogorov-Smirnov p-value, recent scores against the calibration cohort',
      labelNames,
      registers: [registry],
    }),
    ksStatistic: new Gauge({
      name: 'cds_calibration_drift_ks_statistic',
      help: 'Two-sample Kolmogorov-Smirnov D between recent scores and the calibration cohort',
      labelNames,
      registers: [registry],
    }),
    medianShift: new Gauge({
      name: 'cds_calibration_drift_median_shift',
      help: 'Median of recent scores minus median of the calibration cohort (score units)',
      labelNames,
      registers: [registry],
    }),
    recentScores: new Gauge({
      name: 'cds_calibration_drift_recent_scores',
      help: 'Recent scores compared with the calibration cohort',
      labelNames,
      registers: [registry],
    }),
    lastCheck: new Gauge({
      name: 'cds_calibration_drift_last_check_timestamp_seconds',
      help: 'When the drift watch last compared recent scores with the calibration cohort (Unix time)',
      registers: [registry],
    }),
  };
});

// ---- PACS watcher (issue 17) ------------------------------------------------------------------------

/** The PACS watcher's counters (src/pacs-watch/watcher.ts), on an app's registry. */
export interface PacsWatchMetrics {
  /** Polls by result: `ok`, or `error` (the PACS or the store could not be read). */
  polls: Counter<'result'>;
  /** ROI reports by what became of them (measured, amended, ignored, malformed, superseded, ...). */
  reports: Counter<'outcome'>;
  /** New MR series the watcher recorded for the worklist, by verdict (measurable, not-measurable). */
  series: Counter<'verdict'>;
  /** Errors by where they happened: `poll` (discovery), `report` (a transient failure, retried). */
  errors: Counter<'stage'>;
  /** When the last poll finished without error (Unix time). */
  lastPoll: Gauge;
}

/** The watcher's metrics on `registry`, created once per registry. */
export const pacsWatchMetrics = oncePerRegistry((registry): PacsWatchMetrics => ({
  polls: new Counter({
    name: 'cds_pacs_watch_polls_total',
    help: 'PACS watcher polls, by result (ok, error)',
    labelNames: ['result'],
    registers: [registry],
  }),
  reports: new Counter({
    name: 'cds_pacs_watch_reports_total',
    help: 'ROI reports the PACS watcher processed, by outcome (measured, amended, ignored, malformed, refused, superseded, own, failed, retry)',
    labelNames: ['outcome'],
    registers: [registry],
  }),
  series: new Counter({
    name: 'cds_pacs_watch_series_total',
    help: 'New MR series the PACS watcher recorded for the worklist, by verdict (measurable: a spine sagittal T1 series VBQ can be measured on)',
    labelNames: ['verdict'],
    registers: [registry],
  }),
  errors: new Counter({
    name: 'cds_pacs_watch_errors_total',
    help: 'PACS watcher errors, by stage (poll: discovery failed; report: a report failed transiently and will be retried)',
    labelNames: ['stage'],
    registers: [registry],
  }),
  lastPoll: new Gauge({
    name: 'cds_pacs_watch_last_poll_timestamp_seconds',
    help: 'When the PACS watcher last finished a poll without error (Unix time)',
    registers: [registry],
  }),
}));
