/**
 * Prometheus metrics, one registry per app (so several apps in one test process never collide).
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  requestDuration: Histogram<'method' | 'route' | 'status'>;
  fhirFetchDuration: Histogram<'key' | 'outcome'>;
  cards: Counter<'service' | 'indicator'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route template, method and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    fhirFetchDuration: new Histogram({
      name: 'fhir_fetch_duration_seconds',
      help: "Latency of the service's own FHIR fetches during prefetch hydration, by prefetch key and outcome",
      labelNames: ['key', 'outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers: [registry],
    }),
    cards: new Counter({
      name: 'cds_cards_total',
      help: 'Cards returned, by service and indicator',
      labelNames: ['service', 'indicator'],
      registers: [registry],
    }),
  };
}

/**
 * Records count and latency per route *template* (never the raw path, which may hold ids) once the
 * response is finished.
 */
export function metricsMiddleware(metrics: Metrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (res.locals.routeLabel as string | undefined) ?? 'unmatched';
      const labels = { method: req.method, route, status: String(res.statusCode) };
      metrics.requests.inc(labels);
      metrics.requestDuration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}
