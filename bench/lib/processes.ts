/**
 * Child processes for the benchmarks: the service (compiled, as production runs it), the baseline
 * handlers and the FHIR server each run in their own process, so the load generator never shares an
 * event loop or a heap with what it measures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

export interface Child {
  pid: number;
  /** performance.now() just before spawn(). */
  spawnedAt: number;
  logFile: string;
  process: ChildProcess;
  /** Resolves with the exit code (or signal) once the process has ended. */
  exited: Promise<string>;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** A minimal environment: nothing from the caller's shell (DATABASE_URL, DEMO_MODE...) leaks in. */
export function cleanEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/**
 * Spawns `node <args>` with stdout and stderr appended to `logFile`. With `announces`, stdout passes
 * through this process (see announcement()); otherwise it goes straight to the file, so a service
 * logging every request costs the load generator nothing.
 */
export function spawnNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  logFile: string,
  options: { announces?: boolean } = {},
): Child {
  const fd = fs.openSync(logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', options.announces ? 'pipe' : fd, fd],
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start node ${args.join(' ')}`);
  if (options.announces) child.stdout?.pipe(fs.createWriteStream(logFile, { flags: 'a' }));
  const exited = new Promise<string>((resolve) => {
    child.on('exit', (code, signal) => resolve(signal ?? String(code)));
  });
  return {
    pid: child.pid,
    spawnedAt,
    logFile,
    process: child,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The first stdout line of `child` that starts with `prefix`, parsed as JSON after it. */
export async function announcement<T>(child: Child, prefix: string, timeoutMs: number): Promise<T> {
  const stdout = child.process.stdout;
  if (!stdout) throw new Error('child has no stdout');
  const lines = readline.createInterface({ input: stdout });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no "${prefix}" line within ${timeoutMs} ms`)),
      timeoutMs,
    );
    void child.exited.then((code) =>
      reject(new Error(`exited (${code}) before "${prefix}"; see ${child.logFile}`)),
    );
    lines.on('line', (line) => {
      if (!line.startsWith(prefix)) return;
      clearTimeout(timer);
      lines.close();
      resolve(JSON.parse(line.slice(prefix.length)) as T);
    });
  });
}

/**
 * Polls `url` until it answers 200; returns milliseconds from the spawn to that answer. Fails when the
 * process exits or `timeoutMs` passes.
 */
export async function waitFor200(child: Child, url: string, timeoutMs: number): Promise<number> {
  let exitedWith: string | undefined;
  void child.exited.then((code) => (exitedWith = code));
  while (performance.now() - child.spawnedAt < timeoutMs) {
    if (exitedWith !== undefined)
      throw new Error(`exited (${exitedWith}) before ${url} answered 200; see ${child.logFile}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return performance.now() - child.spawnedAt;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms; see ${child.logFile}`);
}

export interface Memory {
  /** Resident set size now (VmRSS), bytes. */
  rss: number;
  /** Peak resident set size so far (VmHWM), bytes. */
  peak: number;
}

/** Reads resident memory from /proc/<pid>/status (Linux). */
export function readMemory(pid: number): Memory {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m) throw new Error(`${field} missing from /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * CPU time a process has used so far (user + system, from /proc/<pid>/stat), milliseconds. Divided by
 * the requests answered in between, it gives CPU per request: steadier than throughput when other work
 * shares the machine, though contention still inflates it.
 */
export function readCpuMs(pid: number): number {
  return ticksMs(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/**
 * CPU time of a process's main thread alone (the thread whose id is the pid: Node's event loop), from
 * /proc/<pid>/task/<pid>/stat, milliseconds. The rest of readCpuMs() is the libuv threadpool (the JWT
 * signature checks) and V8's helper threads (concurrent garbage collection, compilation).
 */
export function readMainThreadCpuMs(pid: number): number {
  return ticksMs(fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8'));
}

function ticksMs(stat: string): number {
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
