/**
 * The care-team view's static files. `npm run build` bundles the browser app with esbuild into
 * dist/src/web/care-team/public (see scripts/build-web.mjs), and the compiled service serves that copy;
 * under `npm start` (tsx, no dist) the bundle is built in memory at start-up instead (a few hundred ms),
 * so a source checkout never serves a stale bundle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

/** Files keyed by their path under /care-team (`index.html`, `launch.html`, `assets/main.js`...). */
export type CareTeamAssets = Map<string, StaticFile>;

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where `npm run build` puts the bundle, next to the compiled router. */
export const PREBUILT_DIR = path.join(HERE, 'care-team', 'public');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

const PAGES = ['index.html', 'launch.html'];
const STYLES = ['assets/styles.css'];

function typeOf(file: string): string {
  return TYPES[path.extname(file)] ?? 'application/octet-stream';
}

/** The browser app's sources (src/web/care-team/app) above a compiled or source tree. */
export function appSourceDir(): string {
  let dir = HERE;
  for (;;) {
    const candidate = path.join(dir, 'src', 'web', 'care-team', 'app');
    if (fs.existsSync(path.join(candidate, 'main.ts'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('care-team view sources (src/web/care-team/app) not found');
    dir = parent;
  }
}

/** Bundles the browser app with esbuild (a build-time dependency) and returns every file to serve. */
export async function buildCareTeamAssets(sourceDir = appSourceDir()): Promise<CareTeamAssets> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: {
      'assets/main': path.join(sourceDir, 'main.ts'),
      'assets/launch': path.join(sourceDir, 'launch.ts'),
    },
    outdir: '/out',
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    legalComments: 'external',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const files: CareTeamAssets = new Map();
  for (const out of result.outputFiles) {
    const rel = path.relative('/out', out.path).split(path.sep).join('/');
    files.set(rel, { body: Buffer.from(out.contents), contentType: typeOf(rel) });
  }
  for (const page of [...PAGES, ...STYLES]) {
    const body = fs.readFileSync(path.join(sourceDir, path.basename(page)));
    files.set(page, { body, contentType: typeOf(page) });
  }
  return files;
}

/** Writes the built files under `dir` (used by `npm run build`). */
export async function writeCareTeamAssets(dir = PREBUILT_DIR, sourceDir?: string): Promise<void> {
  const files = await buildCareTeamAssets(sourceDir);
  for (const [rel, file] of files) {
    const target = path.join(dir, rel);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, file.body);
  }
}

function readDir(dir: string, prefix = ''): CareTeamAssets {
  const files: CareTeamAssets = new Map();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      for (const [k, v] of readDir(path.join(dir, entry.name), rel)) files.set(k, v);
    } else {
      files.set(rel, { body: fs.readFileSync(path.join(dir, entry.name)), contentType: typeOf(rel) });
    }
  }
  return files;
}

/** The prebuilt copy when there is one (compiled service), else a fresh in-memory build (tsx). */
export async function loadCareTeamAssets(): Promise<CareTeamAssets> {
  if (fs.existsSync(path.join(PREBUILT_DIR, 'assets', 'main.js'))) return readDir(PREBUILT_DIR);
  return buildCareTeamAssets();
}
