/**
 * The Dockerfile builds and its image runs, proven without a Docker engine: every stage is rebuilt in a
 * clean directory from exactly what it COPYs (the build context filtered by .dockerignore, or an earlier
 * stage), its RUN steps run there (`npm ci` may use the local npm cache), and the runtime stage's CMD is
 * started with the image's production environment, then asked /readyz and checked with the HEALTHCHECK
 * command. Slow (an `npm ci`, a prune and a full `tsc`, about a minute on a busy 2-core machine): tagged `slow`;
 * it runs in `npm test` and CI, and `npx vitest run --tags-filter='!slow'` leaves it out while iterating.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/net.js';
import { buildStages, inRoot, parseDockerfile, stageEnv, type BuiltStage, type Stage } from './stages.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * better-sqlite3 installs with `prebuild-install || node-gyp rebuild`: in a real image build its install
 * script downloads the prebuilt binary for the platform from the project's GitHub releases. Only the npm
 * registry is reachable here, so the build stage's `npm ci` would compile SQLite from source instead
 * (about a minute of CPU, the longest step of the whole test suite). The binary this checkout's own install
 * produced, for this same Node ABI and platform, is offered to prebuild-install as a local prebuild, packed
 * as the release asset it would download (prebuild-install's `npm_config_<package>_local_prebuilds`).
 * `npm ci` still runs the install script as written, and the runtime stage still loads the result.
 * Without such a binary (e.g. node_modules installed with --ignore-scripts) nothing is offered and the
 * build stage compiles, as before.
 */
function betterSqlitePrebuild(dir: string): NodeJS.ProcessEnv {
  const pkgDir = path.join(ROOT, 'node_modules/better-sqlite3');
  const binary = 'build/Release/better_sqlite3.node';
  if (!fs.existsSync(path.join(pkgDir, binary)) || process.platform !== 'linux') return {};
  const { name, version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  // prebuild-install's asset name: {name}-v{version}-{runtime}-v{abi}-{platform}{libc}-{arch}.tar.gz
  // (libc empty on glibc, the only libc the Dockerfile's bookworm base and this machine use).
  const asset = `${name}-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  fs.mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-czf', path.join(dir, asset), '-C', pkgDir, binary]);
  return { [`npm_config_${name.replace(/[^a-zA-Z0-9]/g, '_')}_local_prebuilds`]: dir };
}

/**
 * Where the stage directories go: the stages write four node_modules trees (about 2.4 GB in tens of
 * thousands of files), which on a busy disk cost more time waiting on I/O than npm spends working. A
 * RAM-backed /dev/shm is used when it has room and allows executables (the build stage runs esbuild's
 * binary from its node_modules); otherwise the system's temporary directory, as before.
 */
function workParent(): string {
  const shm = '/dev/shm';
  try {
    const mount = fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .find((f) => f[1] === shm);
    const { bavail, bsize } = fs.statfsSync(shm);
    if (
      mount?.[2] === 'tmpfs' &&
      !mount[3]?.split(',').includes('noexec') &&
      bavail * bsize > 4 * 1024 ** 3
    ) {
      fs.accessSync(shm, fs.constants.W_OK);
      return shm;
    }
  } catch {
    // No /proc/mounts or no /dev/shm: not Linux, or a minimal container.
  }
  return os.tmpdir();
}

/** The exec-form command with absolute container paths re-rooted into the stage directory. */
function hostArgs(built: BuiltStage, argv: string[]): string[] {
  return argv.map((a) =>
    a.startsWith('/') && fs.existsSync(inRoot(built.root, a)) ? inRoot(built.root, a) : a,
  );
}

describe('Dockerfile, stage by stage', { tags: ['slow'] }, () => {
  let stages: Stage[];
  let built: Map<string, BuiltStage>;
  let runtime: BuiltStage;
  let work: string;

  beforeAll(async () => {
    stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
    work = fs.mkdtempSync(path.join(workParent(), 'sbh-docker-'));
    const prebuild = betterSqlitePrebuild(path.join(work, 'prebuilds'));
    built = await buildStages(stages, ROOT, work, {
      // The local npm cache first: the lock file pins every version, so the result is the same.
      runEnv: { npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', ...prebuild },
    });
    runtime = built.get(stages.at(-1)?.name ?? '') as BuiltStage;
    // node-gyp leaves its Makefile; prebuild-install only the binary. Compiling is still a correct build,
    // only a slow one, so this says why the test took a minute longer rather than failing it.
    const sqliteBuild = inRoot(built.get('install')?.root ?? '', '/app/node_modules/better-sqlite3/build');
    if (Object.keys(prebuild).length > 0 && fs.existsSync(path.join(sqliteBuild, 'Makefile'))) {
      console.warn(
        'dockerfile.test.ts: better-sqlite3 was compiled from source; prebuild-install did not take the local prebuild offered to it',
      );
    }
    // One npm ci, a prune and a full tsc: about a minute on a busy 2-core machine with the stages on
    // /dev/shm, minutes on a busy disk.
  }, 900_000);

  afterAll(() => {
    if (!work) return;
    // Four node_modules trees (about 2.4 GB in tens of thousands of files): removing them from a disk took
    // up to a minute on a busy machine, at the end of the suite's longest file. Nothing here checks the
    // removal, so a detached `rm` does it after the file has ended (in seconds from /dev/shm).
    if (process.platform === 'win32') return fs.rmSync(work, { recursive: true, force: true });
    spawn('rm', ['-rf', work], { detached: true, stdio: 'ignore' }).unref();
  });

  it('installs once, then builds, prunes to production dependencies and runs on one Node LTS base image', () => {
    expect(stages.map((s) => s.name)).toEqual(['install', 'build', 'deps', 'runtime']);
    // The build and the production dependencies both start from the one install; the runtime does not.
    expect(stages.map((s) => s.parent)).toEqual([undefined, 'install', 'install', undefined]);
    const bases = new Set(stages.map((s) => s.baseImage));
    expect(bases.size).toBe(1);
    expect([...bases][0]).toMatch(/^node:\d+-bookworm-slim$/);
  });

  it('the build stage compiles the service and copies the demo seed next to it', () => {
    const app = inRoot(built.get('build')!.root, '/app');
    expect(fs.existsSync(path.join(app, 'dist/src/index.js'))).toBe(true);
    const seed = fs.readdirSync(path.join(app, 'dist/src/demo/seed')).filter((f) => f.endsWith('.json'));
    const sourceSeed = fs.readdirSync(path.join(ROOT, 'src/demo/seed')).filter((f) => f.endsWith('.json'));
    expect(seed.sort()).toEqual(sourceSeed.sort());
  });

  it('the runtime stage ships production dependencies and compiled code only, as a non-root user', () => {
    const app = inRoot(runtime.root, '/app');
    expect(fs.existsSync(path.join(app, 'node_modules/express'))).toBe(true);
    // Dev tools stay in the build stage.
    for (const dev of ['vitest', 'typescript', 'eslint', 'tsx']) {
      expect(fs.existsSync(path.join(app, 'node_modules', dev)), dev).toBe(false);
    }
    // Exactly the lock file's production tree, as `npm ci --omit=dev` would install it: every package the
    // lock does not mark dev-only is there (optional ones only where the platform takes them), none it does.
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
    };
    const missing: string[] = [];
    const extra: string[] = [];
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (!where.startsWith('node_modules/')) continue;
      const present = fs.existsSync(path.join(app, where, 'package.json'));
      if (entry.dev === true && present) extra.push(where);
      if (!entry.dev && !entry.optional && !entry.devOptional && !present) missing.push(where);
    }
    expect({ missing, extra }).toEqual({ missing: [], extra: [] });
    // The SQLite driver's native addon, built by the install stage, survives the prune.
    expect(
      fs.existsSync(path.join(app, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node')),
    ).toBe(true);
    expect(fs.existsSync(path.join(app, 'src'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'test'))).toBe(false);
    expect(runtime.stage.user).toBe('node');
    expect(runtime.stage.env.NODE_ENV).toBe('production');
    expect(runtime.stage.expose).toEqual([runtime.stage.env.PORT]);
    // DATA_DIR exists and is handed to the non-root user (ownership itself needs a real image build).
    const dataCopy = runtime.stage.steps.find(
      (s) =>
        s.kind === 'copy' && path.posix.resolve(runtime.stage.workdir, s.dest) === runtime.stage.env.DATA_DIR,
    );
    expect(dataCopy).toMatchObject({ kind: 'copy', chown: 'node:node' });
    expect(fs.statSync(inRoot(runtime.root, runtime.stage.env.DATA_DIR as string)).isDirectory()).toBe(true);
  });

  describe('the runtime stage started as the image starts it', () => {
    let child: ChildProcess;
    let port: number;
    let env: NodeJS.ProcessEnv;
    let output = '';
    let config: string;

    beforeAll(async () => {
      port = await freePort();
      config = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-docker-config-'));
      const clients = path.join(config, 'clients.json');
      fs.writeFileSync(
        clients,
        JSON.stringify([{ iss: 'https://ehr.example.org', jku: ['https://ehr.example.org/jwks.json'] }]),
      );
      // Only the image's own ENV plus what `docker run -e` would add; nothing from this test process.
      const imageEnv = stageEnv(runtime.stage, runtime.root);
      env = {
        PATH: process.env.PATH,
        NODE_ENV: imageEnv.NODE_ENV,
        PORT: String(port),
        DATA_DIR: imageEnv.DATA_DIR,
        HOST: '127.0.0.1',
        CDS_CLIENTS_FILE: clients,
        LOG_LEVEL: 'info',
      };
      const [cmd, ...args] = hostArgs(runtime, runtime.stage.cmd ?? []);
      child = spawn(cmd as string, args, { cwd: inRoot(runtime.root, runtime.stage.workdir), env });
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const deadline = Date.now() + 240_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`runtime CMD exited with ${child.exitCode}:\n${output}`);
        const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
          (r) => r.ok,
          () => false,
        );
        if (ok) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`runtime CMD did not become ready:\n${output}`);
    }, 300_000);

    afterAll(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (config) fs.rmSync(config, { recursive: true, force: true });
    });

    it('answers /readyz with the store and knowledge base ready, in production mode', async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        status: 'ready',
        checks: { store: true, knowledgeBase: true },
      });
      // Production: no demo FHIR server.
      expect((await fetch(`http://127.0.0.1:${port}/demo-fhir/metadata`)).status).toBe(404);
    });

    const healthcheck = (extra: NodeJS.ProcessEnv) => {
      const [cmd, ...args] = hostArgs(runtime, runtime.stage.healthcheck?.cmd ?? []);
      return spawnSync(cmd as string, args, {
        cwd: inRoot(runtime.root, runtime.stage.workdir),
        env: { ...env, ...extra },
        encoding: 'utf8',
        timeout: 20_000,
      });
    };

    it('the HEALTHCHECK command passes on the configured HOST and PORT', () => {
      expect(runtime.stage.healthcheck?.flags).toMatchObject({ interval: '30s', retries: '3' });
      const res = healthcheck({});
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
    });

    it('a wildcard HOST is checked on loopback', () => {
      expect(healthcheck({ HOST: '0.0.0.0' }).status).toBe(0);
      expect(healthcheck({ HOST: '::' }).status).toBe(0);
    });

    it('fails, saying where it asked, when nothing answers on the configured address', async () => {
      const closed = await freePort();
      const res = healthcheck({ PORT: String(closed) });
      expect(res.status).toBe(1);
      expect(res.stderr).toContain(`unhealthy: http://127.0.0.1:${closed}/healthz`);
    });
  });
});
