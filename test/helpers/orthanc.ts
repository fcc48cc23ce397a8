import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { freePort } from './net.js';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const PLUGIN_DIRS = ['/usr/share/orthanc/plugins', '/usr/lib/orthanc/plugins'];

/** Path of the Orthanc binary (Debian installs it in /usr/sbin), or undefined when absent. */
export function findOrthanc(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const d of dirs) {
    const p = join(d, 'Orthanc');
    if (d && existsSync(p)) return p;
  }
  return undefined;
}

function plugin(name: string): string | undefined {
  for (const d of PLUGIN_DIRS) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** A free loopback TCP port (released before Orthanc binds it; collisions are retried by the caller). */
export interface OrthancHandle {
  /** REST root, e.g. http://127.0.0.1:40123 */
  url: string;
  /** DICOMweb root, e.g. http://127.0.0.1:40123/dicom-web */
  dicomWebUrl: string;
  stop(): Promise<void>;
}

async function waitReady(
  url: string,
  proc: ChildProcess,
  log: () => string,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`Orthanc exited with ${proc.exitCode}:\n${log()}`);
    try {
      const res = await fetch(`${url}/system`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Orthanc not ready after ${timeoutMs} ms:\n${log()}`);
}

/**
 * Starts a throw-away Orthanc with the DICOMweb and GDCM plugins on a free loopback port, storage in a temp
 * dir, no DICOM listener, no authentication (tests only; remote access refused). Call stop() when done.
 */
export async function startOrthanc(): Promise<OrthancHandle> {
  const bin = findOrthanc();
  if (!bin)
    throw new Error('Orthanc binary not found (apt-get install orthanc orthanc-dicomweb orthanc-gdcm)');
  const plugins = [plugin('libOrthancDicomWeb.so'), plugin('libOrthancGdcm.so')].filter(
    (p): p is string => !!p,
  );
  if (plugins.length < 2)
    throw new Error('Orthanc DICOMweb or GDCM plugin missing (orthanc-dicomweb, orthanc-gdcm)');
  const dir = await mkdtemp(join(tmpdir(), 'orthanc-test-'));
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = {
      Name: 'vbq-test',
      HttpPort: port,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: false,
      DicomServerEnabled: false,
      StorageDirectory: join(dir, 'storage'),
      IndexDirectory: join(dir, 'index'),
      Plugins: plugins,
      DicomWeb: {
        Enable: true,
        Root: '/dicom-web/',
        EnableWado: false,
        StudiesMetadata: 'Full',
        SeriesMetadata: 'Full',
      },
      Gdcm: { Enable: true },
      HttpTimeout: 30,
      StableAge: 1,
    };
    const configPath = join(dir, `config-${attempt}.json`);
    await writeFile(configPath, JSON.stringify(config));
    const proc = spawn(bin, [configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer): void => {
      output = (output + b.toString('utf8')).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const url = `http://127.0.0.1:${port}`;
    try {
      await waitReady(url, proc, () => output, 20_000);
    } catch (err) {
      lastError = err;
      proc.kill('SIGKILL');
      continue;
    }
    return {
      url,
      dicomWebUrl: `${url}/dicom-web`,
      stop: async () => {
        if (proc.exitCode === null) {
          const exited = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
          if (proc.exitCode === null) proc.kill('SIGKILL');
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
