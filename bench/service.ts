/**
 * The service benchmark suite (`npm run bench`; `-- --json` for a machine-readable summary on stdout,
 * `-- --check` to exit 1 when a target is missed). Everything runs as separate processes on loopback:
 * the compiled service started as production starts it (`node dist/src/index.js`, NODE_ENV=production,
 * CDS_CLIENTS_FILE with the bench client, no demo), the baseline handlers (bench/baseline-server.ts) and
 * the embedded demo FHIR server (bench/fhir-server.ts). Requests are signed as a real CDS client signs
 * them: one ES384 JWT per request, unique jti, aud = the URL called.
 *
 * 1. Throughput, order-sign with full prefetch (spine order), N connections: the service vs an express
 *    handler that parses the same body and verifies the same JWT (target ratio >= 0.60), both up at once
 *    and measured in alternating rounds so drift in the machine's speed hits both alike; a bare express
 *    JSON handler for context.
 * 2. Open loop at a steady rate (default 200 req/s), latency from the scheduled send time: p50/p99 for
 *    the service (target p99 < 50 ms) and for the baseline handler.
 * 3. Self-fetching order-sign (no prefetch, the service reads the FHIR server itself): p50 vs the same
 *    queries sent at once straight to the FHIR server (target <= 1.3x + 5 ms).
 * 4. Production process: RSS idle and after load 1 (targets 150 / 200 MiB), start to first /readyz 200
 *    (target 3 s); demo mode's RSS and start time for the README.
 *
 * Environment: BENCH_DURATION_S (15) seconds per load phase, BENCH_ROUNDS (5) alternating rounds sharing
 * it in the throughput comparison, BENCH_WARMUP_S (3), BENCH_CONNECTIONS (50),
 * BENCH_RATE (200), BENCH_SELF_FETCH_N (100), BENCH_PATIENT (demo-tlif-high-vbq), BENCH_SERVICE_ID (default:
 * the order-sign service whose id mentions spine), BENCH_SKIP_BUILD=1 to use the existing dist/,
 * BENCH_NODE_ARGS (extra node flags for the production service, e.g. `--cpu-prof --cpu-prof-dir=<dir>`),
 * BENCH_LOG_LEVEL (the service's LOG_LEVEL; default its own), BENCH_DATABASE_URL (run the service on
 * PostgreSQL instead of the embedded SQLite), BENCH_SKIP_DEMO=1 to leave out the demo-mode start, BENCH_KEEP=1 to keep
 * the working directory with the processes' logs.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { parseClients } from '../src/config/clients.js';
import { readDemoSeed } from '../src/demo/seed/index.js';
import {
  closedLoop,
  openLoop,
  type ClosedLoopResult,
  type OpenLoopResult,
  type PostSpec,
} from './lib/load.js';
import {
  announcement,
  cleanEnv,
  freePort,
  readCpuMs,
  readMainThreadCpuMs,
  readMemory,
  spawnNode,
  waitFor200,
  type Child,
  type Memory,
} from './lib/processes.js';
import { MiB, percentile, round, sortedCopy } from './lib/stats.js';
import { createBenchClient, TokenPool, type BenchClient } from './lib/tokens.js';

const args = new Set(process.argv.slice(2));
const JSON_OUT = args.has('--json');
const CHECK = args.has('--check');
/** With --json, stdout carries only the JSON summary; the human report goes to stderr. */
const say = (line = ''): void => {
  (JSON_OUT ? process.stderr : process.stdout).write(`${line}\n`);
};

function envNumber(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}`);
  return n;
}

const DURATION_S = envNumber('BENCH_DURATION_S', 15, 1);
const WARMUP_S = envNumber('BENCH_WARMUP_S', Math.min(3, DURATION_S), 0);
const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 50, 1);
const RATE = envNumber('BENCH_RATE', 200, 1);
const SELF_FETCH_N = envNumber('BENCH_SELF_FETCH_N', 100, 5);
/** Extra node flags for the production service, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
const PATIENT = process.env.BENCH_PATIENT ?? 'demo-tlif-high-vbq';
const SERVICE_ID = process.env.BENCH_SERVICE_ID;
/** Idle means start-up work is over: memory is read this long after the first /readyz 200. */
const IDLE_SETTLE_MS = 2000;
const START_TIMEOUT_MS = 180_000;
const ROOT = path.resolve(import.meta.dirname, '..');

const TARGETS = {
  throughputRatio: 0.6,
  openLoopP99Ms: 50,
  selfFetchFactor: 1.3,
  selfFetchSlackMs: 5,
  idleRssMiB: 150,
  loadedRssMiB: 200,
  readyS: 3,
} as const;

interface Figure {
  id: string;
  label: string;
  value: number;
  unit: string;
  target: string;
  pass: boolean;
  baseline: string;
}

// ---------------------------------------------------------------------------------------------------------
// The hook request

interface Discovery {
  services: { id: string; hook: string; prefetch?: Record<string, string> }[];
}

/** Fills `{{context.x}}` and `{{userPractitionerId}}`-style tokens the way the CDS Hooks spec describes. */
function renderTemplate(template: string, context: Record<string, unknown>): string {
  return template.replace(/\{\{\s*([A-Za-z.]+)\s*\}\}/g, (_m, token: string) => {
    if (token.startsWith('context.')) return encodeURIComponent(String(context[token.slice(8)] ?? ''));
    const [type, id] = String(context.userId ?? '').split('/');
    const wanted: Record<string, string> = {
      userPractitionerId: 'Practitioner',
      userPractitionerRoleId: 'PractitionerRole',
      userPatientId: 'Patient',
      userRelatedPersonId: 'RelatedPerson',
    };
    if (wanted[token] !== type || !id) throw new Error(`prefetch token {{${token}}} cannot be filled`);
    return encodeURIComponent(id);
  });
}

/** GET one prefetch query from the FHIR server, following `next` links as the service does. */
async function readAll(fhirBase: string, query: string): Promise<FhirResource | null> {
  const get = async (url: string): Promise<FhirResource | null> => {
    const res = await fetch(url, { headers: { accept: 'application/fhir+json' } });
    if (res.status === 404 && !query.includes('?')) {
      await res.arrayBuffer();
      return null;
    }
    if (!res.ok) throw new Error(`FHIR server answered ${res.status} to ${url}`);
    return (await res.json()) as FhirResource;
  };
  const first = await get(`${fhirBase}/${query}`);
  if (first?.resourceType !== 'Bundle') return first;
  const entries = [...(first.entry ?? [])];
  let page: Bundle = first;
  for (let i = 1; i < 20; i++) {
    const next = page.link?.find((l) => l.relation === 'next')?.url;
    if (!next) break;
    const res = (await get(next)) as Bundle;
    entries.push(...(res.entry ?? []));
    page = res;
  }
  const { link: _link, ...rest } = first;
  return { ...rest, total: first.total ?? entries.length, entry: entries };
}

interface HookRequests {
  serviceUrl: string;
  queries: string[];
  /** Full prefetch: a fresh body (new hookInstance) per call. */
  withPrefetch: () => string;
  /** No prefetch, fhirServer set: the service reads everything itself. */
  selfFetching: () => string;
}

const PLACEHOLDER = '00000000-0000-4000-8000-00000000b0b0';

function bodyFactory(request: Record<string, unknown>): () => string {
  const [head, tail] = JSON.stringify({ ...request, hookInstance: PLACEHOLDER }).split(PLACEHOLDER);
  return () => `${head}${randomUUID()}${tail}`;
}

async function buildRequests(base: string, bench: BenchClient, fhirBase: string): Promise<HookRequests> {
  const discoveryUrl = `${base}/cds-services`;
  const res = await fetch(discoveryUrl, {
    headers: { authorization: `Bearer ${bench.signSync(discoveryUrl)}` },
  });
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  const discovery = (await res.json()) as Discovery;
  const service =
    discovery.services.find((s) => s.id === SERVICE_ID) ??
    discovery.services.find((s) => SERVICE_ID === undefined && s.hook === 'order-sign' && /spine/.test(s.id));
  if (!service) throw new Error(`no order-sign service ${SERVICE_ID ?? 'for spine surgery'} in discovery`);
  const seed = readDemoSeed(PATIENT);
  const context = {
    userId: 'Practitioner/bench-surgeon',
    patientId: PATIENT,
    draftOrders: {
      resourceType: 'Bundle',
      type: 'collection',
      entry: seed.draftOrders.map((resource) => ({ resource })),
    },
  };
  const templates = service.prefetch ?? {};
  const queries = Object.values(templates).map((t) => renderTemplate(t, context));
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, template] of Object.entries(templates)) {
    prefetch[key] = await readAll(fhirBase, renderTemplate(template, context));
  }
  return {
    serviceUrl: `${base}/cds-services/${service.id}`,
    queries,
    withPrefetch: bodyFactory({ hook: 'order-sign', context, prefetch }),
    selfFetching: bodyFactory({ hook: 'order-sign', fhirServer: fhirBase, context }),
  };
}

async function postOnce(
  url: string,
  token: string,
  body: string,
): Promise<{ status: number; cards: number }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body,
  });
  const json = (await res.json()) as { cards?: unknown[] };
  return { status: res.status, cards: json.cards?.length ?? 0 };
}

// ---------------------------------------------------------------------------------------------------------
// Phases

interface ServiceRun {
  readyMs: number;
  idle: Memory;
  afterLoad: Memory;
  load: ClosedLoopResult;
  /** The service process's CPU per answered request during load 1, ms. */
  loadCpuMsPerRequest: CpuPerRequest;
  openLoop: OpenLoopResult;
  selfFetch: SelfFetch;
  cards: number;
  tokensSignedDuringLoad: number;
}

interface BaselineRun {
  bare: ClosedLoopResult;
  verify: ClosedLoopResult;
  /** The baseline process's CPU per answered request (express + JWT), ms. */
  verifyCpuMsPerRequest: CpuPerRequest;
  openLoop: OpenLoopResult;
  tokensSignedDuringLoad: number;
  /** service / baseline req/s in each round of the interleaved comparison. */
  roundRatios: number[];
}

/** CPU, ms: the whole process, and its main thread (the event loop) alone. */
interface Cpu {
  total: number;
  mainThread: number;
}
/** The same, divided by the requests answered. */
type CpuPerRequest = Cpu;

/** The CPU the process `pid` spent while `phase` ran. */
async function cpuDuring<T>(pid: number, phase: () => Promise<T>): Promise<[T, Cpu]> {
  const before = readCpuMs(pid);
  const mainBefore = readMainThreadCpuMs(pid);
  const result = await phase();
  return [result, { total: readCpuMs(pid) - before, mainThread: readMainThreadCpuMs(pid) - mainBefore }];
}

function fmtCpu(cpu: CpuPerRequest): string {
  return `${cpu.total.toFixed(2)} ms CPU per request (main thread ${cpu.mainThread.toFixed(2)} ms)`;
}

function serviceEnv(
  port: number,
  dataDir: string,
  extra: Record<string, string | undefined>,
): NodeJS.ProcessEnv {
  return cleanEnv({
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL,
    ...extra,
  });
}

/**
 * The closed-loop warm-up (JIT, caches, connection set-up); its rate sizes the token stock of the
 * measured phase. Tokens it needs beyond the stock are signed on the spot, which only slows the warm-up.
 */
async function warmUp(spec: PostSpec): Promise<number | undefined> {
  if (WARMUP_S <= 0) return undefined;
  return (await closedLoop(spec, CONNECTIONS, WARMUP_S)).rps;
}

/**
 * Tokens for one measured closed-loop phase: three times the warm-up rate (warm code runs faster: a
 * service that has just started warms up at half its steady rate or less), at least 300 req/s. Tokens
 * signed during the phase would cost the load generator CPU the server under test then lacks.
 */
function tokensFor(warmUpRps: number | undefined): number {
  return Math.ceil(DURATION_S * Math.max(300, 3 * (warmUpRps ?? 0)));
}

function openLoopTokens(): number {
  return Math.ceil((DURATION_S + Math.min(WARMUP_S, 2)) * RATE) + 10;
}

interface SelfFetch {
  serviceP50Ms: number;
  serviceP90Ms: number;
  directP50Ms: number;
  directP90Ms: number;
  queries: number;
  /** Why it could not be measured (the other sections still run). */
  error?: string;
}

/**
 * Self-fetching order-sign, one call at a time, each followed by the same queries sent at once straight
 * to the FHIR server (following next links as the service does), so both see the same server state.
 */
async function measureSelfFetch(
  requests: HookRequests,
  bench: BenchClient,
  fhirBase: string,
  expectedCards: number,
): Promise<SelfFetch> {
  const result: SelfFetch = {
    serviceP50Ms: NaN,
    serviceP90Ms: NaN,
    directP50Ms: NaN,
    directP90Ms: NaN,
    queries: requests.queries.length,
  };
  const first = await postOnce(
    requests.serviceUrl,
    bench.signSync(requests.serviceUrl),
    requests.selfFetching(),
  );
  if (first.status !== 200) return { ...result, error: `the service answered ${first.status}` };
  if (first.cards !== expectedCards)
    say('  ! self-fetching and prefetch calls gave different numbers of cards');
  const serviceTimes: number[] = [];
  const directTimes: number[] = [];
  const warmCalls = Math.min(10, Math.ceil(SELF_FETCH_N / 5));
  for (let i = 0; i < warmCalls + SELF_FETCH_N; i++) {
    const token = bench.signSync(requests.serviceUrl);
    const body = requests.selfFetching();
    let t = performance.now();
    const r = await postOnce(requests.serviceUrl, token, body);
    const serviceMs = performance.now() - t;
    if (r.status !== 200) return { ...result, error: `the service answered ${r.status}` };
    t = performance.now();
    await Promise.all(requests.queries.map((q) => readAll(fhirBase, q)));
    const directMs = performance.now() - t;
    if (i >= warmCalls) {
      serviceTimes.push(serviceMs);
      directTimes.push(directMs);
    }
  }
  const sorted = sortedCopy(serviceTimes);
  const direct = sortedCopy(directTimes);
  return {
    ...result,
    serviceP50Ms: percentile(sorted, 50),
    serviceP90Ms: percentile(sorted, 90),
    directP50Ms: percentile(direct, 50),
    directP90Ms: percentile(direct, 90),
  };
}

/**
 * The bench client's CDS_CLIENTS_FILE entry. Where the service keeps a per-client allow-list of FHIR
 * servers (private addresses such as the loopback FHIR server are refused unless listed), the bench's
 * FHIR server is listed; the service's own schema tells whether that member exists.
 */
function clientsEntry(bench: BenchClient, fhirBase: string): Record<string, unknown> {
  const entry = { ...bench.clientsFileEntry, fhirServers: [fhirBase] };
  try {
    parseClients([entry], 'bench');
    return entry;
  } catch {
    return bench.clientsFileEntry;
  }
}

function checkClean(name: string, r: ClosedLoopResult | OpenLoopResult): void {
  const bad = 'non2xx' in r ? r.non2xx + r.errors + r.timeouts : r.failed;
  if (bad > 0)
    say(`  ! ${name}: ${bad} requests failed (non-2xx, errors or timeouts); figures count 2xx only`);
  if ('unanswered' in r && r.unanswered > 0) {
    say(
      `  ! ${name}: ${r.unanswered} requests still unanswered 10 s after the last send (counted at that wait)`,
    );
  }
}

function fmtLoad(r: ClosedLoopResult): string {
  return `${r.rps.toFixed(0)} req/s (p50 ${r.latencyP50Ms.toFixed(1)} ms, p99 ${r.latencyP99Ms.toFixed(1)} ms, ${r.ok} ok)`;
}

function fmtOpen(r: OpenLoopResult): string {
  return `p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(1)} ms (${r.sentRps.toFixed(0)} req/s sent, ${r.ok}/${r.sent} ok)`;
}

/** Rounds of the interleaved throughput comparison (BENCH_ROUNDS), each DURATION_S / ROUNDS per server. */
const ROUNDS = envNumber('BENCH_ROUNDS', 5, 1);

interface Started {
  child: Child;
  base: string;
  readyMs: number;
  idle: Memory;
  requests: HookRequests;
  selfFetch: SelfFetch;
  cards: number;
}

/** Starts the production service: ready time, idle memory, the hook requests and the self-fetch figure. */
async function startService(
  work: string,
  port: number,
  clientsFile: string,
  bench: BenchClient,
  fhirBase: string,
): Promise<Started> {
  const base = `http://127.0.0.1:${port}`;
  const child = spawnNode(
    [...NODE_ARGS, path.join(ROOT, 'dist/src/index.js')],
    serviceEnv(port, path.join(work, 'service-data'), {
      NODE_ENV: 'production',
      CDS_CLIENTS_FILE: clientsFile,
      DATABASE_URL: process.env.BENCH_DATABASE_URL,
      // The per-client limits stay in the path but so high they never answer 429: one client sending
      // 50 connections' worth of requests is exactly what they exist to stop, and the bench measures
      // the capacity behind them. (Unknown to versions without the limits; ignored there.)
      CLIENT_RATE_LIMIT: '1000000',
      CLIENT_RATE_WINDOW_SECONDS: '1',
      CLIENT_MAX_CONCURRENT: '100000',
    }),
    path.join(work, 'service.log'),
  );
  try {
    const readyMs = await waitFor200(child, `${base}/readyz`, START_TIMEOUT_MS);
    say(`  ready: first /readyz 200 ${(readyMs / 1000).toFixed(2)} s after spawn`);
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idle = readMemory(child.pid);
    say(`  idle RSS ${(idle.rss / MiB).toFixed(0)} MiB`);

    const requests = await buildRequests(base, bench, fhirBase);
    const check = await postOnce(
      requests.serviceUrl,
      bench.signSync(requests.serviceUrl),
      requests.withPrefetch(),
    );
    if (check.status !== 200)
      throw new Error(`order-sign with prefetch answered ${check.status}; see ${child.logFile}`);
    say(`  ${requests.serviceUrl}: ${check.cards} card(s) with prefetch`);
    if (check.cards === 0) say('  ! no card: the clinical path may not have run; pick another BENCH_PATIENT');

    const selfFetch = await measureSelfFetch(requests, bench, fhirBase, check.cards);
    if (selfFetch.error !== undefined) say(`  ! self-fetch not measured: ${selfFetch.error}`);
    else
      say(
        `  self-fetch (${selfFetch.queries} queries, ${SELF_FETCH_N} calls): service p50 ${selfFetch.serviceP50Ms.toFixed(1)} ms, ` +
          `same queries at once p50 ${selfFetch.directP50Ms.toFixed(1)} ms`,
      );
    return { child, base, readyMs, idle, requests, selfFetch, cards: check.cards };
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/**
 * The baseline handlers (bench/baseline-server.ts) on their own port, answering for the service's public
 * URL as a server behind a proxy does: the tokens signed for the service (aud = its URL) fit both.
 */
async function startBaseline(
  work: string,
  port: number,
  publicBaseUrl: string,
  servicePath: string,
  clientsFile: string,
): Promise<Child> {
  const child = spawnNode(
    ['--import', 'tsx', path.join(ROOT, 'bench/baseline-server.ts')],
    cleanEnv({
      NODE_ENV: 'production',
      PORT: String(port),
      PUBLIC_BASE_URL: publicBaseUrl,
      CDS_CLIENTS_FILE: clientsFile,
      BENCH_SERVICE_PATH: servicePath,
    }),
    path.join(work, 'baseline.log'),
    { announces: true },
  );
  try {
    await announcement(child, 'BASELINE-READY ', 60_000);
    return child;
  } catch (err) {
    await child.stop();
    throw err;
  }
}

/** One server's share of the interleaved comparison. */
interface Contender {
  pid: number;
  spec: PostSpec;
}

interface Comparison {
  service: ClosedLoopResult;
  baseline: ClosedLoopResult;
  serviceCpu: CpuPerRequest;
  baselineCpu: CpuPerRequest;
  /** service / baseline req/s, round by round. */
  roundRatios: number[];
  /** The service's memory right after its last round (not after the baseline's that may follow). */
  serviceAfterLoad: Memory;
}

/** Sums rounds: req/s over the time measured, p50 the median round's, p99 the worst round's. */
function combine(rounds: ClosedLoopResult[]): ClosedLoopResult {
  const sum = (pick: (r: ClosedLoopResult) => number) => rounds.reduce((s, r) => s + pick(r), 0);
  const durationS = sum((r) => r.durationS);
  return {
    rps: sum((r) => r.ok) / durationS,
    ok: sum((r) => r.ok),
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    latencyP50Ms: percentile(sortedCopy(rounds.map((r) => r.latencyP50Ms)), 50),
    latencyP99Ms: Math.max(...rounds.map((r) => r.latencyP99Ms)),
    durationS,
  };
}

/**
 * Throughput of the service and of the baseline, measured in alternating rounds (service first in even
 * rounds, baseline first in odd ones) while both processes are up, so a machine whose speed drifts during
 * the run (shared or throttled cores) slows both alike instead of whichever happened to run then. Each
 * server gets DURATION_S in all. Tokens are signed ahead; each process sees each jti once.
 */
async function compareThroughput(
  service: Contender,
  baseline: Contender,
  pools: { service: TokenPool; baseline: TokenPool },
): Promise<Comparison> {
  const fastest = Math.max((await warmUp(service.spec)) ?? 0, (await warmUp(baseline.spec)) ?? 0);
  // The rounds, and a second warm-up of each server right before them: signing takes a while, and a
  // server idle that long has given memory back and cooled its caches.
  const need = tokensFor(fastest) + Math.ceil(WARMUP_S * 3 * fastest);
  const signMs = pools.service.fill(need) + pools.baseline.fill(need);
  say(`  (tokens signed ahead in ${(signMs / 1000).toFixed(1)} s)`);
  await warmUp(service.spec);
  await warmUp(baseline.spec);
  const roundS = DURATION_S / ROUNDS;
  const results = new Map<Contender, ClosedLoopResult[]>([
    [service, []],
    [baseline, []],
  ]);
  const spent = new Map<Contender, Cpu>([
    [service, { total: 0, mainThread: 0 }],
    [baseline, { total: 0, mainThread: 0 }],
  ]);
  let serviceAfterLoad = readMemory(service.pid);
  for (let round = 0; round < ROUNDS; round++) {
    for (const who of round % 2 === 0 ? [service, baseline] : [baseline, service]) {
      const [result, used] = await cpuDuring(who.pid, () => closedLoop(who.spec, CONNECTIONS, roundS));
      const sum = spent.get(who)!;
      sum.total += used.total;
      sum.mainThread += used.mainThread;
      results.get(who)!.push(result);
      if (who === service) serviceAfterLoad = readMemory(service.pid);
    }
  }
  const perRequest = (who: Contender, all: ClosedLoopResult): CpuPerRequest => {
    const answered = Math.max(1, all.ok + all.non2xx);
    const sum = spent.get(who)!;
    return { total: sum.total / answered, mainThread: sum.mainThread / answered };
  };
  const s = results.get(service)!;
  const b = results.get(baseline)!;
  const serviceAll = combine(s);
  const baselineAll = combine(b);
  return {
    service: serviceAll,
    baseline: baselineAll,
    serviceCpu: perRequest(service, serviceAll),
    baselineCpu: perRequest(baseline, baselineAll),
    roundRatios: s.map((r, i) => r.rps / (b[i]?.rps ?? NaN)),
    serviceAfterLoad,
  };
}

/** The open-loop phase against one server, with tokens signed ahead into `pool`. */
async function steadyRate(name: string, spec: PostSpec, pool: TokenPool): Promise<OpenLoopResult> {
  pool.fill(openLoopTokens());
  const result = await openLoop(
    { ...spec, authorization: () => `Bearer ${pool.next()}` },
    RATE,
    DURATION_S,
    Math.min(WARMUP_S, 2),
  );
  checkClean(`${name} open loop`, result);
  say(`  ${name} open loop ${RATE} req/s: ${fmtOpen(result)}`);
  return result;
}

async function runDemo(work: string): Promise<{ readyMs: number; idle: Memory; afterDemoRead: Memory }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawnNode(
    [path.join(ROOT, 'dist/src/index.js')],
    serviceEnv(port, path.join(work, 'demo-data'), { DEMO_MODE: 'on' }),
    path.join(work, 'demo.log'),
  );
  try {
    const readyMs = await waitFor200(child, `${base}/readyz`, START_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, IDLE_SETTLE_MS));
    const idle = readMemory(child.pid);
    // One read from the embedded FHIR server, in case demo pieces load on first use.
    const res = await fetch(`${base}/demo-fhir/Patient/${PATIENT}`);
    await res.arrayBuffer();
    if (res.status !== 200) say(`  ! demo FHIR read answered ${res.status}`);
    const afterDemoRead = readMemory(child.pid);
    say(
      `  demo mode: ready ${(readyMs / 1000).toFixed(2)} s, RSS idle ${(idle.rss / MiB).toFixed(0)} MiB, ` +
        `after a demo FHIR read ${(afterDemoRead.rss / MiB).toFixed(0)} MiB`,
    );
    return { readyMs, idle, afterDemoRead };
  } finally {
    await child.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------

function figure(
  id: string,
  label: string,
  value: number,
  unit: string,
  op: '>=' | '<=' | '<',
  limit: number,
  baseline: string,
): Figure {
  const pass = op === '>=' ? value >= limit : op === '<=' ? value <= limit : value < limit;
  return {
    id,
    label,
    value: round(value, 3),
    unit,
    target: `${op} ${round(limit, 2)}${unit ? ` ${unit}` : ''}`,
    pass,
    baseline,
  };
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-bench-'));
  const children: Child[] = [];
  let finished = false;
  say(
    `service benchmarks: ${os.cpus().length} CPUs, load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ` +
      `node ${process.version}; ${DURATION_S} s per phase (+${WARMUP_S} s warm-up), ${CONNECTIONS} connections, ` +
      `${RATE} req/s open loop, patient ${PATIENT}`,
  );
  try {
    if (process.env.BENCH_SKIP_BUILD !== '1') {
      say('building (npm run build)...');
      const t = performance.now();
      const built = spawnSync('npm', ['run', 'build', '--silent'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (built.status !== 0)
        throw new Error(`npm run build failed:\n${built.stdout.toString()}${built.stderr.toString()}`);
      say(`  built in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } else if (!fs.existsSync(path.join(ROOT, 'dist/src/index.js'))) {
      throw new Error('BENCH_SKIP_BUILD=1 but dist/src/index.js does not exist: run npm run build');
    }

    const bench = await createBenchClient();
    const fhir = spawnNode(
      ['--import', 'tsx', path.join(ROOT, 'bench/fhir-server.ts')],
      cleanEnv({}),
      path.join(work, 'fhir.log'),
      {
        announces: true,
      },
    );
    children.push(fhir);
    const { baseUrl: fhirBase } = await announcement<{ baseUrl: string }>(fhir, 'FHIR-READY ', 120_000);
    const clientsFile = path.join(work, 'cds-clients.json');
    fs.writeFileSync(clientsFile, JSON.stringify([clientsEntry(bench, fhirBase)], null, 2));

    const port = await freePort();
    say('\nservice (production mode, compiled):');
    const started = await startService(work, port, clientsFile, bench, fhirBase);
    children.push(started.child);
    const { requests } = started;
    const servicePath = new URL(requests.serviceUrl).pathname;
    const baselinePort = await freePort();
    const baselineChild = await startBaseline(work, baselinePort, started.base, servicePath, clientsFile);
    children.push(baselineChild);
    const baselineUrl = `http://127.0.0.1:${baselinePort}${servicePath}`;

    const loadPool = new TokenPool(bench, requests.serviceUrl);
    const baselineLoadPool = loadPool.sibling();
    const serviceSpec: PostSpec = {
      url: requests.serviceUrl,
      body: requests.withPrefetch,
      authorization: () => `Bearer ${loadPool.next()}`,
    };
    const baselineSpec: PostSpec = {
      url: baselineUrl,
      body: requests.withPrefetch,
      authorization: () => `Bearer ${baselineLoadPool.next()}`,
    };
    say(
      `  load 1: ${ROUNDS} alternating rounds of ${round(DURATION_S / ROUNDS, 2)} s against the baseline ` +
        '(express handler parsing the same body and verifying the same ES384 JWT, its own process and port)',
    );
    const comparison = await compareThroughput(
      { pid: started.child.pid, spec: serviceSpec },
      { pid: baselineChild.pid, spec: baselineSpec },
      { service: loadPool, baseline: baselineLoadPool },
    );
    const afterLoad = comparison.serviceAfterLoad;
    checkClean('service load', comparison.service);
    checkClean('baseline', comparison.baseline);
    say(`  service:  ${fmtLoad(comparison.service)}; ${fmtCpu(comparison.serviceCpu)}`);
    say(`  baseline: ${fmtLoad(comparison.baseline)}; ${fmtCpu(comparison.baselineCpu)}`);
    say(`  service / baseline round by round: ${comparison.roundRatios.map((r) => r.toFixed(2)).join(' ')}`);
    say(
      `  service RSS after load ${(afterLoad.rss / MiB).toFixed(0)} MiB (peak ${(afterLoad.peak / MiB).toFixed(0)} MiB)`,
    );

    const openPool = new TokenPool(bench, requests.serviceUrl);
    const serviceOpen = await steadyRate('service', serviceSpec, openPool);
    await started.child.stop();

    say('\nbaselines:');
    const baselineOpenPool = openPool.sibling();
    const baselineOpen = await steadyRate('express + ES384 JWT baseline', baselineSpec, baselineOpenPool);
    const bareSpec: PostSpec = {
      url: `http://127.0.0.1:${baselinePort}/bare`,
      body: requests.withPrefetch,
      authorization: () => undefined,
    };
    await warmUp(bareSpec);
    const bare = await closedLoop(bareSpec, CONNECTIONS, DURATION_S);
    checkClean('bare express', bare);
    say(`  bare express JSON handler: ${fmtLoad(bare)}`);
    await baselineChild.stop();

    const service: ServiceRun = {
      readyMs: started.readyMs,
      idle: started.idle,
      afterLoad,
      load: comparison.service,
      loadCpuMsPerRequest: comparison.serviceCpu,
      openLoop: serviceOpen,
      selfFetch: started.selfFetch,
      cards: started.cards,
      tokensSignedDuringLoad: loadPool.signedDuringLoad + openPool.signedDuringLoad,
    };
    const baseline: BaselineRun = {
      bare,
      verify: comparison.baseline,
      verifyCpuMsPerRequest: comparison.baselineCpu,
      openLoop: baselineOpen,
      tokensSignedDuringLoad: baselineLoadPool.signedDuringLoad + baselineOpenPool.signedDuringLoad,
      roundRatios: comparison.roundRatios,
    };
    let demo: Awaited<ReturnType<typeof runDemo>> | undefined;
    if (process.env.BENCH_SKIP_DEMO !== '1') {
      say('\ndemo mode (compiled, DEMO_MODE=on):');
      demo = await runDemo(work);
    }

    const s = service;
    const sf = s.selfFetch;
    const figures: Figure[] = [
      figure(
        'throughput-ratio',
        `order-sign throughput, service / express+JWT baseline (${CONNECTIONS} connections)`,
        s.load.rps / baseline.verify.rps,
        '',
        '>=',
        TARGETS.throughputRatio,
        `service ${s.load.rps.toFixed(0)} req/s, baseline ${baseline.verify.rps.toFixed(0)} req/s over ${ROUNDS} alternating rounds (round by round ${baseline.roundRatios.map((r) => r.toFixed(2)).join(', ')}), bare express ${baseline.bare.rps.toFixed(0)} req/s; ` +
          `CPU per request: service ${s.loadCpuMsPerRequest.total.toFixed(2)} ms, baseline ${baseline.verifyCpuMsPerRequest.total.toFixed(2)} ms (ratio ${(baseline.verifyCpuMsPerRequest.total / s.loadCpuMsPerRequest.total).toFixed(2)}); ` +
          `main thread: service ${s.loadCpuMsPerRequest.mainThread.toFixed(2)} ms, baseline ${baseline.verifyCpuMsPerRequest.mainThread.toFixed(2)} ms`,
      ),
      figure(
        'open-loop-p99',
        `p99 latency at a steady ${RATE} req/s (open loop)`,
        // A failed request has no latency; any failure fails the figure instead of improving it.
        s.openLoop.failed > 0 ? Infinity : s.openLoop.p99Ms,
        'ms',
        '<',
        TARGETS.openLoopP99Ms,
        `service p50 ${s.openLoop.p50Ms.toFixed(1)} ms; baseline p50 ${baseline.openLoop.p50Ms.toFixed(1)} ms, p99 ${baseline.openLoop.p99Ms.toFixed(1)} ms`,
      ),
      figure(
        'self-fetch-p50',
        'self-fetching order-sign p50',
        sf.serviceP50Ms,
        'ms',
        '<=',
        TARGETS.selfFetchFactor * sf.directP50Ms + TARGETS.selfFetchSlackMs,
        sf.error !== undefined
          ? `not measured: ${sf.error}`
          : `same ${sf.queries} queries at once straight to the FHIR server: p50 ${sf.directP50Ms.toFixed(1)} ms (ratio ${(sf.serviceP50Ms / sf.directP50Ms).toFixed(2)}x)`,
      ),
      figure('rss-idle', 'production RSS idle', s.idle.rss / MiB, 'MiB', '<=', TARGETS.idleRssMiB, 'VmRSS'),
      figure(
        'rss-after-load',
        'production RSS after load 1',
        s.afterLoad.rss / MiB,
        'MiB',
        '<=',
        TARGETS.loadedRssMiB,
        `peak ${(s.afterLoad.peak / MiB).toFixed(0)} MiB (VmHWM)`,
      ),
      figure(
        'ready',
        'production start to first /readyz 200',
        s.readyMs / 1000,
        's',
        '<=',
        TARGETS.readyS,
        'node dist/src/index.js',
      ),
    ];

    say('\nresults:');
    for (const f of figures) {
      say(
        `  ${f.pass ? 'PASS' : 'FAIL'}  ${f.label}: ${f.value}${f.unit ? ` ${f.unit}` : ''} (target ${f.target}); ${f.baseline}`,
      );
    }
    if (demo) {
      say(
        `  info  demo mode: ready ${(demo.readyMs / 1000).toFixed(2)} s, RSS idle ${(demo.idle.rss / MiB).toFixed(0)} MiB, ` +
          `after a demo FHIR read ${(demo.afterDemoRead.rss / MiB).toFixed(0)} MiB`,
      );
    }
    const signedLate = s.tokensSignedDuringLoad + baseline.tokensSignedDuringLoad;
    if (signedLate > 0) say(`  note  ${signedLate} tokens had to be signed during load (the pool ran dry)`);
    const allPass = figures.every((f) => f.pass);
    say(`\n${figures.filter((f) => f.pass).length}/${figures.length} targets met`);

    if (JSON_OUT) {
      const summary = {
        startedAt: startedAt.toISOString(),
        machine: { cpus: os.cpus().length, loadavg: os.loadavg(), node: process.version },
        settings: {
          durationS: DURATION_S,
          warmupS: WARMUP_S,
          connections: CONNECTIONS,
          rounds: ROUNDS,
          rate: RATE,
          selfFetchCalls: SELF_FETCH_N,
          patient: PATIENT,
          database: process.env.BENCH_DATABASE_URL ? 'postgresql' : 'sqlite',
        },
        figures,
        allPass,
        results: {
          throughput: {
            service: s.load,
            baselineVerify: baseline.verify,
            bareExpress: baseline.bare,
            rounds: ROUNDS,
            roundRatios: baseline.roundRatios.map((r) => round(r, 3)),
          },
          cpuMsPerRequest: {
            service: round(s.loadCpuMsPerRequest.total, 3),
            baselineVerify: round(baseline.verifyCpuMsPerRequest.total, 3),
          },
          mainThreadCpuMsPerRequest: {
            service: round(s.loadCpuMsPerRequest.mainThread, 3),
            baselineVerify: round(baseline.verifyCpuMsPerRequest.mainThread, 3),
          },
          openLoop: { service: s.openLoop, baselineVerify: baseline.openLoop },
          selfFetch: sf,
          production: {
            readyMs: round(s.readyMs, 1),
            idleRssMiB: round(s.idle.rss / MiB, 1),
            afterLoadRssMiB: round(s.afterLoad.rss / MiB, 1),
            peakRssMiB: round(s.afterLoad.peak / MiB, 1),
          },
          demo: demo && {
            readyMs: round(demo.readyMs, 1),
            idleRssMiB: round(demo.idle.rss / MiB, 1),
            afterDemoReadRssMiB: round(demo.afterDemoRead.rss / MiB, 1),
          },
          cards: s.cards,
          tokensSignedDuringLoad: signedLate,
        },
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    }
    if (CHECK && !allPass) process.exitCode = 1;
    finished = true;
  } finally {
    for (const c of children) await c.stop();
    if (process.env.BENCH_KEEP === '1' || !finished) say(`(logs kept in ${work})`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
