/**
 * Load generators. closedLoop: autocannon with N connections, each sending its next request when the
 * previous answer arrives (throughput). openLoop: requests sent on a fixed schedule whatever the answers
 * do, latency measured from the scheduled send time, so a stalled server cannot hide its queue
 * (no coordinated omission).
 */
import http from 'node:http';
import autocannon from 'autocannon';
import { percentile, sortedCopy } from './stats.js';

export interface PostSpec {
  url: string;
  /** A fresh body per request (unique hookInstance). */
  body: () => string;
  /** A fresh Authorization header value per request, or undefined for none. */
  authorization: () => string | undefined;
}

export interface ClosedLoopResult {
  /** 2xx answers per second over the measured window. */
  rps: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  durationS: number;
}

export async function closedLoop(
  spec: PostSpec,
  connections: number,
  durationS: number,
): Promise<ClosedLoopResult> {
  const { pathname, search } = new URL(spec.url);
  const result = await autocannon({
    url: spec.url,
    connections,
    duration: durationS,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: pathname + search,
        setupRequest: (req) => {
          const authorization = spec.authorization();
          return {
            ...req,
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...(authorization ? { authorization } : {}),
            },
            body: spec.body(),
          };
        },
      },
    ],
  });
  return {
    rps: result['2xx'] / result.duration,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    durationS: result.duration,
  };
}

export interface OpenLoopResult {
  targetRps: number;
  /** Requests actually sent per second (the schedule kept). */
  sentRps: number;
  sent: number;
  ok: number;
  /** Answered with a non-2xx status, or the connection failed. */
  failed: number;
  /** Still unanswered when the drain deadline passed; counted in the percentiles at that deadline. */
  unanswered: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Sends `rps` requests per second for `durationS` seconds. The first `warmupS` seconds run at the same
 * rate and are not counted. Latency of a request = its answer's arrival - its scheduled send time.
 * Requests still open `drainS` seconds after the last send are abandoned and enter the percentiles with
 * the time they had waited by then (a lower bound), so a server that cannot keep up shows it without
 * making the run last as long as its backlog.
 */
export async function openLoop(
  spec: PostSpec,
  rps: number,
  durationS: number,
  warmupS: number,
  drainS = 10,
): Promise<OpenLoopResult> {
  const url = new URL(spec.url);
  // Enough sockets that a slow server queues at the server, not in the client's pool.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const period = 1000 / rps;
  const total = Math.round((durationS + warmupS) * rps);
  const warmupCount = Math.round(warmupS * rps);
  const latencies: number[] = [];
  let failed = 0;
  const open = new Map<number, number>();
  const pending: Promise<void>[] = [];
  const start = performance.now() + 20;

  const send = (id: number, scheduled: number, counted: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      const body = spec.body();
      const authorization = spec.authorization();
      if (counted) open.set(id, scheduled);
      const done = (ok: boolean): void => {
        if (counted && open.delete(id)) {
          if (ok) latencies.push(performance.now() - scheduled);
          else failed++;
        }
        resolve();
      };
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            ...(authorization ? { authorization } : {}),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300),
          );
          res.on('error', () => done(false));
        },
      );
      req.on('error', () => done(false));
      req.end(body);
    });

  let firstCounted = NaN;
  let lastSent = NaN;
  for (let i = 0; i < total; i++) {
    const scheduled = start + i * period;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (i === warmupCount) firstCounted = performance.now();
    lastSent = performance.now();
    pending.push(send(i, scheduled, i >= warmupCount));
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(pending),
    new Promise<void>((r) => {
      timer = setTimeout(r, drainS * 1000);
    }),
  ]);
  clearTimeout(timer);
  const cutoff = performance.now();
  const unanswered = open.size;
  for (const scheduled of open.values()) latencies.push(cutoff - scheduled);
  open.clear();
  agent.destroy();
  const sorted = sortedCopy(latencies);
  const sent = total - warmupCount;
  return {
    targetRps: rps,
    sentRps: sent > 1 ? (sent - 1) / ((lastSent - firstCounted) / 1000) : NaN,
    sent,
    ok: latencies.length - unanswered,
    failed,
    unanswered,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? NaN,
  };
}
