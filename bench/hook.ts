/**
 * Hook latency benchmark (`npm run bench:hook`): the whole service in-process on loopback, order-sign with
 * full prefetch for a demo patient, against a baseline measured in the same run: the same signed request
 * for a non-spine order, which stops before the clinical logic (HTTP + JWT + validation + audit only).
 * Prints p50/p95 per variant and the ratio to the baseline. Bounded: a fixed number of requests.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { renderTemplate } from '../src/cds/prefetch.js';
import { loadConfig } from '../src/config/config.js';
import { signDemoJwt } from '../src/demo/demo-client.js';
import { createLogger } from '../src/http/logger.js';
import { createRuntime } from '../src/server.js';

const N = Number(process.env.BENCH_REQUESTS ?? 200);
const WARMUP = 20;
const PATIENT = process.env.BENCH_PATIENT ?? 'demo-tlif-high-vbq';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-bench-'));
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = loadConfig({
    PUBLIC_BASE_URL: base,
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    DEMO_MODE: 'on',
  });
  const runtime = await createRuntime(config, { logger: createLogger('silent') });
  server.on('request', runtime.app);

  const discoveryToken = await signDemoJwt(dataDir, `${base}/cds-services`);
  const discovery = (await (
    await fetch(`${base}/cds-services`, { headers: { authorization: `Bearer ${discoveryToken}` } })
  ).json()) as { services: { id: string; prefetch: Record<string, string> }[] };
  const templates = discovery.services.find((s) => s.id === 'spine-surgery-bone-health')?.prefetch ?? {};

  const body = (cpt: string) => {
    const context = {
      userId: 'Practitioner/bench',
      patientId: PATIENT,
      draftOrders: {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          {
            resource: {
              resourceType: 'ServiceRequest',
              id: 'o1',
              status: 'draft',
              intent: 'order',
              subject: { reference: `Patient/${PATIENT}` },
              code: { coding: [{ system: 'http://www.ama-assn.org/go/cpt', code: cpt }] },
            },
          },
        ],
      },
    };
    return context;
  };
  const prefetch: Record<string, unknown> = {};
  for (const [key, t] of Object.entries(templates)) {
    prefetch[key] = await (await fetch(`${base}/demo-fhir/${renderTemplate(t, body('22630'))}`)).json();
  }

  const url = `${base}/cds-services/spine-surgery-bone-health`;
  async function once(cpt: string): Promise<number> {
    const token = await signDemoJwt(dataDir, url);
    const payload = JSON.stringify({
      hook: 'order-sign',
      hookInstance: randomUUID(),
      context: body(cpt),
      prefetch,
    });
    const started = process.hrtime.bigint();
    const res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: payload,
    });
    await res.arrayBuffer();
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return ms;
  }
  async function measure(cpt: string): Promise<number[]> {
    for (let i = 0; i < WARMUP; i++) await once(cpt);
    const times: number[] = [];
    for (let i = 0; i < N; i++) times.push(await once(cpt));
    return times.sort((a, b) => a - b);
  }

  // Interleave nothing: baseline first, then the full path, both after their own warm-up.
  const baseline = await measure('99213'); // office visit: not a spine order, so no clinical logic runs
  const full = await measure('22630');
  const b50 = percentile(baseline, 50);
  const b95 = percentile(baseline, 95);
  const f50 = percentile(full, 50);
  const f95 = percentile(full, 95);
  console.log(`order-sign benchmark, ${N} requests each, patient ${PATIENT}, full prefetch`);
  console.log(`baseline (non-spine order, fast path): p50 ${b50.toFixed(2)} ms  p95 ${b95.toFixed(2)} ms`);
  console.log(`full evaluation (CPT 22630):          p50 ${f50.toFixed(2)} ms  p95 ${f95.toFixed(2)} ms`);
  console.log(`ratio full/baseline: p50 ${(f50 / b50).toFixed(2)}x  p95 ${(f95 / b95).toFixed(2)}x`);
  console.log(`budget check: p95 ${f95 <= 500 ? '<=' : '>'} 500 ms (CDS Hooks "on the order of 500 ms")`);

  server.closeAllConnections();
  server.close();
  await runtime.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
