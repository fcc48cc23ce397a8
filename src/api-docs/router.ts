/**
 * The service's front door: `GET /` (links for people and machines), `GET /openapi.json` and the rendered
 * docs at `/docs`. The renderer (Redoc's standalone bundle) is served from the installed npm package, so the
 * docs work on a hospital network without internet access: no CDN, no web fonts.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import express, { type Request, type Response, type Router } from 'express';
import { AppError } from '../errors.js';
import { routeLabel } from '../http/middleware.js';
import { buildOpenApiDocument, type OpenApiOptions } from './openapi.js';

const require = createRequire(import.meta.url);

/** Where the links of the start page go; the console and the care-team view are other routers' paths. */
export const INDEX_LINKS = [
  { rel: 'discovery', href: '/cds-services', title: 'CDS Hooks discovery (needs a client JWT)' },
  { rel: 'docs', href: '/docs', title: 'API documentation' },
  { rel: 'openapi', href: '/openapi.json', title: 'OpenAPI 3.1 document' },
  { rel: 'console', href: '/console', title: "Informaticist's console" },
  { rel: 'care-team', href: '/care-team/', title: 'Care-team view' },
  { rel: 'health', href: '/healthz', title: 'Liveness' },
  { rel: 'readiness', href: '/readyz', title: 'Readiness' },
  { rel: 'metrics', href: '/metrics', title: 'Prometheus metrics' },
] as const;

const SERVICE_NAME = 'Spine bone-health CDS';

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function indexHtml(version: string): string {
  const items = INDEX_LINKS.map(
    (l) => `      <li><a href="${escapeHtml(l.href)}">${escapeHtml(l.title)}</a></li>`,
  ).join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${SERVICE_NAME}</title>
    <style>
      body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; color: #1a1a1a; }
      a { color: #0645ad; }
      a:focus { outline: 3px solid #ffbf47; }
    </style>
  </head>
  <body>
    <main>
      <h1>${SERVICE_NAME}</h1>
      <p>A CDS Hooks 2.0 service advising a bone-health workup before spine surgery (version ${escapeHtml(version)}).</p>
      <h2>Links</h2>
      <ul>
${items}
      </ul>
    </main>
  </body>
</html>
`;
}

const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>API documentation · ${SERVICE_NAME}</title>
  </head>
  <body>
    <div id="redoc-container"><noscript>The rendered documentation needs JavaScript; the document itself is at <a href="/openapi.json">/openapi.json</a>.</noscript></div>
    <script src="/docs/redoc.standalone.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>
`;

// A separate script (not inline) so the page runs under a CSP without 'unsafe-inline' scripts.
const DOCS_INIT = `Redoc.init('/openapi.json', { hideDownloadButton: false, disableSearch: false }, document.getElementById('redoc-container'));\n`;

// Redoc styles with styled-components (inline <style>) and runs its search index in a blob: worker.
const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ApiDocsRouterOptions extends OpenApiOptions {
  /** Paths of the redoc bundle (tests may point elsewhere); defaults to the installed package. */
  redocBundlePath?: string;
}

/** `GET /`, `GET /openapi.json`, `GET /docs` (+ its two scripts). Mount at the root. */
export function createApiDocsRouter(options: ApiDocsRouterOptions): Router {
  const router = express.Router();
  // Built once at start-up: a schema that cannot be expressed fails the start, not a request.
  const document = JSON.stringify(buildOpenApiDocument(options));
  const bundlePath = options.redocBundlePath ?? require.resolve('redoc/bundles/redoc.standalone.js');
  let bundle: Buffer | undefined;

  const getOnly = (path: string, label: string, handler: (req: Request, res: Response) => void) => {
    router.get(path, routeLabel(label), handler);
    router.all(path, routeLabel(label), () => {
      throw new AppError('method-not-allowed', 'Method not allowed on this resource');
    });
  };

  getOnly('/', '/', (req, res) => {
    res.vary('Accept');
    const wanted = req.accepts(['text/html', 'application/json']);
    if (wanted === 'application/json') {
      res.json({ service: SERVICE_NAME, version: options.version, links: INDEX_LINKS });
      return;
    }
    res.type('text/html').send(indexHtml(options.version));
  });

  getOnly('/openapi.json', '/openapi.json', (_req, res) => {
    res.type('application/json').send(document);
  });

  getOnly('/docs', '/docs', (_req, res) => {
    res.setHeader('content-security-policy', DOCS_CSP);
    res.type('text/html').send(DOCS_HTML);
  });

  getOnly('/docs/init.js', '/docs/init.js', (_req, res) => {
    res.type('text/javascript').send(DOCS_INIT);
  });

  getOnly('/docs/redoc.standalone.js', '/docs/redoc.standalone.js', (_req, res) => {
    bundle ??= fs.readFileSync(bundlePath);
    res.setHeader('cache-control', 'public, max-age=86400');
    res.type('text/javascript').send(bundle);
  });

  return router;
}
