/* global process, fetch, AbortSignal, console */
// Docker HEALTHCHECK: GET /healthz where the service listens, from the same HOST and PORT variables the
// service reads. A wildcard HOST (0.0.0.0, ::, unset) listens on loopback too, so loopback is asked.
const host = (process.env.HOST ?? '').trim();
const port = (process.env.PORT ?? '').trim() || '3000';
const target = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
const url = `http://${target.includes(':') ? `[${target}]` : target}:${port}/healthz`;

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(4000) });
  if (!res.ok) {
    console.error(`unhealthy: ${url} answered ${res.status}`);
    process.exit(1);
  }
} catch (err) {
  console.error(`unhealthy: ${url}: ${err?.cause?.code ?? err?.message ?? err}`);
  process.exit(1);
}
