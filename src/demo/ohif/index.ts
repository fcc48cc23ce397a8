/**
 * The OHIF viewer for the radiology demo and the browser tests (issue 17): the prebuilt viewer published
 * on npm as `@ohif/app` (its `dist/`), fetched with `npm pack` into a cache directory (never a dependency:
 * the tarball is ~48 MB), extracted once, and served by a small static server that also proxies
 * `/dicom-web` to the PACS, so the viewer talks to Orthanc from its own origin (Orthanc sends no CORS
 * headers). `app-config.js` points the viewer's DICOMweb data source there.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The viewer version the demo and the tests use (exact: the tests drive its UI). */
export const OHIF_VERSION = '3.12.10';

/**
 * `dist/` of `@ohif/app@version` under `cacheDir`, fetched (`npm pack`) and extracted when missing.
 * Returns the directory holding index.html.
 */
export async function ensureOhifDist(cacheDir: string, version = OHIF_VERSION): Promise<string> {
  const root = path.resolve(cacheDir, `app-${version}`);
  const dist = path.join(root, 'dist');
  if (existsSync(path.join(dist, 'index.html'))) return dist;
  await mkdir(cacheDir, { recursive: true });
  const tarball = path.resolve(cacheDir, `ohif-app-${version}.tgz`);
  if (!existsSync(tarball)) {
    await run(
      'npm',
      ['pack', `@ohif/app@${version}`, '--silent', '--pack-destination', path.resolve(cacheDir)],
      {
        maxBuffer: 16 * 1024 * 1024,
      },
    );
  }
  const tmp = `${root}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  // Source maps are most of the tarball and nothing the viewer needs.
  await run('tar', ['xzf', tarball, '-C', tmp, '--strip-components=1', '--exclude=*.map', 'package/dist']);
  await rm(root, { recursive: true, force: true });
  await rename(tmp, root);
  return dist;
}

/** The viewer configuration: one DICOMweb data source at this origin's `/dicom-web` (proxied). */
export function ohifAppConfig(): string {
  return `/** Written by the radiology demo: OHIF's DICOMweb data source is the PACS behind /dicom-web. */
window.config = {
  routerBasename: '/',
  extensions: [],
  modes: [],
  showStudyList: true,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  maxNumberOfWebWorkers: 2,
  defaultDataSourceName: 'pacs',
  investigationalUseDialog: { option: 'never' },
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'pacs',
      configuration: {
        friendlyName: 'PACS (Orthanc)',
        name: 'pacs',
        wadoUriRoot: window.location.origin + '/dicom-web',
        qidoRoot: window.location.origin + '/dicom-web',
        wadoRoot: window.location.origin + '/dicom-web',
        qidoSupportsIncludeField: false,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        staticWado: false,
        singlepart: 'bulkdata,video',
        omitQuotationForMultipartRequest: true,
        bulkDataURI: { enabled: true },
      },
    },
  ],
};
`;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
};

export interface OhifServer {
  url: string;
  /** The viewer URL of a study (the worklist's VIEWER_URL_TEMPLATE is `${url}/viewer?StudyInstanceUIDs={StudyInstanceUID}`). */
  studyUrl(studyInstanceUID: string): string;
  close(): Promise<void>;
}

/**
 * Serves `dist` (SPA: unknown paths get index.html), our app-config.js, and `/dicom-web/*` proxied to
 * `dicomwebBaseUrl`. Loopback only by default.
 */
export async function startOhifServer(opts: {
  dist: string;
  dicomwebBaseUrl: string;
  port?: number;
  host?: string;
}): Promise<OhifServer> {
  const dist = path.resolve(opts.dist);
  const config = ohifAppConfig();
  const pacs = new URL(opts.dicomwebBaseUrl.replace(/\/+$/, ''));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/dicom-web' || url.pathname.startsWith('/dicom-web/')) {
      const target = `${pacs.pathname}${url.pathname.slice('/dicom-web'.length)}${url.search}`;
      const headers = { ...req.headers, host: pacs.host };
      const upstream = http.request(
        { hostname: pacs.hostname, port: pacs.port, path: target, method: req.method, headers },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('PACS unreachable');
      });
      req.pipe(upstream);
      return;
    }
    if (url.pathname === '/app-config.js') {
      res.writeHead(200, { 'content-type': TYPES['.js']!, 'cache-control': 'no-store' });
      res.end(config);
      return;
    }
    void (async () => {
      const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
      let file = path.resolve(dist, rel);
      // Outside dist, a directory or missing: the SPA's index.html (its router handles the path).
      if (!file.startsWith(dist + path.sep) || !(await stat(file).catch(() => undefined))?.isFile()) {
        file = path.join(dist, 'index.html');
      }
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        // SharedArrayBuffer (the viewer's decoders) needs cross-origin isolation.
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
      });
      res.end(body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('error');
    });
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`;
  return {
    url,
    studyUrl: (uid) => `${url}/viewer?StudyInstanceUIDs=${encodeURIComponent(uid)}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes the viewer's app-config.js into `dist` too (for serving dist with another static server). */
export async function writeOhifAppConfig(dist: string): Promise<void> {
  await writeFile(path.join(dist, 'app-config.js'), ohifAppConfig());
}
