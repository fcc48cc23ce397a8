import { readDemoSeed } from '../src/demo/seed/index.js';
import { runTemplate } from '../test/rules/scenario-harness.js';
import { shippedKnowledgeBase, shippedPrefetchTemplates } from '../test/helpers/knowledge.js';
import { createServices } from '../src/services/index.js';
import { extractFacts } from '../src/fhir/facts/index.js';
import { assess, describeProcedure } from '../src/rules/index.js';
import { spineProcedureOrders } from '../src/fhir/facts/index.js';
import { buildCards } from '../src/cards/index.js';
import { checkRequestStructure } from '../src/cds/prefetch.js';

const kb = shippedKnowledgeBase();
const templates = shippedPrefetchTemplates();
const PATIENT = 'demo-tlif-high-vbq';
const seed = readDemoSeed(PATIENT);
const prefetch: Record<string, unknown> = {};
for (const [k, t] of Object.entries(templates)) prefetch[k] = runTemplate(t, PATIENT, seed.stored);
const context = { userId: 'Practitioner/x', patientId: PATIENT, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: seed.draftOrders.map((resource) => ({ resource })) } };
const body = { hook: 'order-sign', hookInstance: '0f0c7e3a-1a2b-4c3d-8e9f-001122334455', context, prefetch };
const text = JSON.stringify(body);
console.log('body bytes', text.length);
const svc = createServices(kb)[0]!;
const now = new Date('2026-11-25T10:00:00Z');
function time(name: string, n: number, f: () => unknown) {
  for (let i = 0; i < 200; i++) f();
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) f();
  const c = process.cpuUsage(c0);
  console.log(name.padEnd(28), ((c.user + c.system) / n).toFixed(1), 'µs cpu');
}
time('JSON.parse', 2000, () => JSON.parse(text));
time('zod requestSchema', 2000, () => svc.requestSchema.safeParse(JSON.parse(text)));
time('checkRequestStructure', 2000, () => checkRequestStructure(body as never));
time('spineProcedureOrders', 2000, () => spineProcedureOrders(kb, 'order-sign', context.draftOrders as never, undefined));
time('extractFacts', 2000, () => extractFacts(kb, { patientId: PATIENT, prefetch, draftOrders: context.draftOrders, now }));
const facts = extractFacts(kb, { patientId: PATIENT, prefetch, draftOrders: context.draftOrders, now });
const proc = describeProcedure(spineProcedureOrders(kb, 'order-sign', context.draftOrders as never, undefined));
time('assess', 2000, () => assess(kb, facts, proc));
const findings = assess(kb, facts, proc);
time('buildCards', 2000, () => buildCards(kb, findings, { patientId: PATIENT, userId: 'Practitioner/x', now, careTeamBaseUrl: 'http://x' }));
const cards = buildCards(kb, findings, { patientId: PATIENT, userId: 'Practitioner/x', now, careTeamBaseUrl: 'http://x' });
console.log('response bytes', JSON.stringify({ cards }).length);
time('JSON.stringify cards', 2000, () => JSON.stringify({ cards }));
const plan = svc.plan(body as never);
time('plan+evaluate', 2000, () => { const p = svc.plan(body as never) as (i: unknown) => unknown; return p({ prefetch, now }); });
if (process.env.LOOP) { const t0 = performance.now(); while (performance.now() - t0 < 8000) { const p = svc.plan(body as never) as (i: unknown) => unknown; p({ prefetch, now }); } }
