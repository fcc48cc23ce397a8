/**
 * The README's promise, end to end: `npm start` (the real process, embedded default) answers health and
 * readiness, serves the demo FHIR server, and `npm run demo` gets cards for a demo patient. Bad
 * configuration exits with code 1 and a clear message.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
// As `npm start` runs the service: node with tsx's loader (no tsx CLI process in between).
const TSX_LOADER = ['--import', 'tsx'];

function run(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...TSX_LOADER, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  // Generous: the first start on a busy 2-core CI machine compiles and loads a lot.
  const deadline = Date.now() + 110_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`service exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('service did not become ready');
}

describe('the service as a process (npm start) in demo mode', () => {
  let child: ChildProcess;
  let base: string;
  let env: NodeJS.ProcessEnv;
  let output = '';

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-e2e-'));
    // No HOST: demo mode must choose loopback by itself.
    env = {
      PORT: String(port),
      PUBLIC_BASE_URL: base,
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      NODE_ENV: 'test',
    };
    delete env.CDS_CLIENTS_FILE;
    // As `npm start` runs it: node with tsx's loader, so SIGTERM reaches the service itself (the tsx CLI
    // relays signals through a wrapper process that may answer 143 under load before the service exits).
    child = spawn(process.execPath, ['--import', 'tsx', 'src/index.ts'], {
      cwd: ROOT,
      env: { ...process.env, ...env, CDS_CLIENTS_FILE: '', DATABASE_URL: '', HOST: undefined },
    });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    await waitReady(`${base}/readyz`, child);
  }, 120_000);

  afterAll(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('answers /healthz and /readyz (store and knowledge base)', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({
      status: 'ready',
      checks: { store: true, knowledgeBase: true },
    });
  });

  it('serves the embedded FHIR server at /demo-fhir with a CapabilityStatement and demo patients', async () => {
    const meta = await fetch(`${base}/demo-fhir/metadata`);
    expect(meta.status).toBe(200);
    expect(await meta.json()).toMatchObject({ resourceType: 'CapabilityStatement', fhirVersion: '4.0.1' });
    const patients = (await (await fetch(`${base}/demo-fhir/Patient`)).json()) as { entry?: unknown[] };
    expect(patients.entry?.length ?? 0).toBeGreaterThan(3);
  });

  it('refuses an unsigned hook call even in demo mode', async () => {
    const res = await fetch(`${base}/cds-services`);
    expect(res.status).toBe(401);
  });

  it('npm run demo prints cards for a demo patient, signed as the demo EHR', async () => {
    const res = await run(['scripts/demo.ts', 'demo-tlif-high-vbq', '22630'], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/order-sign for patient demo-tlif-high-vbq, orders 22630: [1-9]\d* card\(s\)/);
    expect(res.stdout).toMatch(/VBQ \d\.\d+/);
  });

  it('logs one JSON "ready" line (stderr is not a terminal) and listens on loopback only in demo mode', () => {
    const ready = output
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.msg === 'ready');
    expect(ready).toHaveLength(1);
    expect(ready[0]).toMatchObject({
      app: 'spine-bone-health-cds',
      host: '127.0.0.1',
      url: `http://localhost:${env.PORT}`,
      mode: 'demo mode',
      next: expect.stringContaining('npm run demo --'),
    });
    expect(ready[0]).not.toHaveProperty('service');
    expect(output).not.toContain('ready at');
  });

  it('gives its helper threads nice 10 and keeps the event loop at 0 (HELPER_THREAD_NICE default)', () => {
    const niceOf = (tid: string): number => {
      const stat = fs.readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const tids = fs.readdirSync(`/proc/${child.pid}/task`);
    const helpers = tids.filter((t) => Number(t) !== child.pid);
    // libuv's pool (4) and V8's background threads, at least.
    expect(helpers.length).toBeGreaterThanOrEqual(5);
    expect(niceOf(String(child.pid))).toBe(0);
    for (const tid of helpers) expect(niceOf(tid)).toBe(10);
    const ready = output
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg?: string; helperThreads?: { nice: number; threads: number } })
      .find((l) => l.msg === 'ready');
    expect(ready?.helperThreads?.nice).toBe(10);
    expect(ready?.helperThreads?.threads).toBeGreaterThanOrEqual(5);
  });

  it('logs are JSON lines without tokens or patient ids', () => {
    const lines = output.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(output).not.toContain('demo-tlif-high-vbq');
    expect(output).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });

  it('SIGTERM shuts down cleanly with exit code 0', async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});

// Each test starts a process (tsx compiles on the fly): seconds when idle, more on a busy CI machine.
describe('bad configuration', { timeout: 90_000 }, () => {
  it('exits with code 1 and names the variable', async () => {
    const res = await run(['src/index.ts'], { PORT: 'not-a-port' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PORT must be a whole number');
    // stderr is not a terminal here: no sentences for people, only the error.
    expect(res.stderr).not.toContain('starting');
    expect(res.stderr).not.toMatch(/at .*\(.*\.ts:\d+/);
  });

  it('an empty PORT= is an error naming PORT, not a silent 3000', async () => {
    const res = await run(['src/index.ts'], { PORT: '' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PORT: PORT is set but empty');
  });

  it('NODE_ENV=production without CDS_CLIENTS_FILE exits with code 1', async () => {
    const res = await run(['src/index.ts'], { NODE_ENV: 'production', CDS_CLIENTS_FILE: '' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('CDS_CLIENTS_FILE is required when NODE_ENV=production');
  });

  it('an unreadable CDS_CLIENTS_FILE exits with code 1', async () => {
    const res = await run(['src/index.ts'], {
      CDS_CLIENTS_FILE: '/nonexistent/clients.json',
      DATA_DIR: os.tmpdir(),
    });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('/nonexistent/clients.json');
  });

  it('an invalid knowledge overrides file exits with code 1 naming the file', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-kb-')), 'overrides.json');
    fs.writeFileSync(file, '{"cutoffs": [{"id": 42}]}');
    const res = await run(['src/index.ts'], { KNOWLEDGE_OVERRIDES_FILE: file, DATA_DIR: path.dirname(file) });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('overrides.json');
  });
});

describe('at a terminal', () => {
  it('says where it is ready, in which mode and what to try, on stderr', async () => {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-tty-'));
    const clients = path.join(dir, 'clients.json');
    fs.writeFileSync(
      clients,
      JSON.stringify([{ iss: 'https://ehr.example.org', jku: ['https://ehr.example.org/jwks.json'] }]),
    );
    // util-linux `script` gives the process a pseudo-terminal, as a person's shell would.
    const child = spawn(
      'script',
      ['-qec', `${process.execPath} ${TSX_LOADER.join(' ')} src/index.ts`, '/dev/null'],
      {
        cwd: ROOT,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          PORT: String(port),
          DATA_DIR: dir,
          CDS_CLIENTS_FILE: clients,
          PUBLIC_BASE_URL: 'https://cds.example.org',
          DATABASE_URL: '',
          HOST: undefined,
        },
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    try {
      const deadline = Date.now() + 110_000;
      while (Date.now() < deadline && !/ready at/.test(text) && child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(text).toContain('starting spine-bone-health-cds (service mode)');
      expect(text).toContain(
        `spine-bone-health-cds ready at http://localhost:${port} (service mode) — try: curl https://cds.example.org/cds-services`,
      );
    } finally {
      if (child.pid && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
