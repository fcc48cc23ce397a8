/**
 * Conformance self-test against a running service, as a given EHR would call it:
 *   npm run selftest -- --base <url> --ehr epic|oracle|generic [--key <private JWK file> --iss <iss>]
 *                       [--sub <client id>] [--jku <JWKS URL for the JWT header>] [--patient <demo patient id>]
 * Sends the discovery and one signed call per hook that EHR uses (Epic: patient-view with its trigger
 * extension, order-select, order-sign; Oracle Health: patient-view only), with a synthetic demo patient's
 * data as prefetch, checks each answer against the CDS Hooks card rules and the EHR profile's rules
 * (profileProblems, the same checks the tests run), and prints a pass/fail table with round-trip times.
 * Exit 0 when every check passes, 1 otherwise, 2 on bad arguments.
 *
 * The key file is a private JWK (with kid and alg), or the demo client's key file (DATA_DIR/demo-client/
 * es384-key.json, then --iss defaults to the demo client). Without --key, the demo client's key under the
 * default DATA_DIR (./data) is used when present, so a local demo-mode service needs no arguments but --base. The service must trust that key for --iss, and
 * its client entry should carry the same `ehr` as --ehr: the self-test checks what the service sends.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Bundle, FhirResource } from 'fhir/r4.js';
import { importJWK, SignJWT, type JWK } from 'jose';
import { ehrProfile, profileProblems, type EhrKind, type EhrProfile } from '../src/cds/ehr-profiles.js';
import type { CdsCard } from '../src/cds/types.js';
import { DEMO_CLIENT_ISS } from '../src/demo/demo-client.js';
import { readDemoSeed } from '../src/demo/seed/index.js';

/** The demo client's key under the default DATA_DIR (demo mode writes it on first start). */
const DEFAULT_DEMO_KEY = path.resolve('data', 'demo-client', 'es384-key.json');
export const EPIC_TRIGGER_EXTENSION = 'com.epic.cdshooks.request.bpa-trigger-action';
const HOOKS_BY_EHR: Record<EhrKind, string[]> = {
  epic: ['patient-view', 'order-select', 'order-sign'],
  oracle: ['patient-view'],
  generic: ['patient-view', 'order-select', 'order-sign'],
};

export interface SelftestOptions {
  base: string;
  ehr: EhrKind;
  privateJwk: JWK;
  iss: string;
  sub?: string;
  jku?: string;
  patient?: string;
  /** The profile to check against (default: that EHR's defaults). */
  profile?: EhrProfile;
  timeoutMs?: number;
}

export interface SelftestRow {
  check: string;
  ok: boolean;
  ms: number;
  detail: string;
}

interface ServiceDefinition {
  hook: string;
  id: string;
  description?: string;
  prefetch?: Record<string, string>;
  version?: string;
  hookVersion?: string;
}

const INDICATORS = new Set(['info', 'warning', 'critical']);

/** The CDS Hooks card rules a client relies on (2.0, valid in 3.0). */
export function cardSpecProblems(card: CdsCard): string[] {
  const p: string[] = [];
  if (typeof card.summary !== 'string' || card.summary.length === 0) p.push('summary missing');
  else if (card.summary.length >= 140) p.push('summary not under 140 characters');
  if (!INDICATORS.has(card.indicator)) p.push(`indicator ${String(card.indicator)} invalid`);
  if (typeof card.source?.label !== 'string' || card.source.label === '') p.push('source.label missing');
  if (card.uuid === undefined) p.push('uuid missing (feedback needs it)');
  if ((card.suggestions?.length ?? 0) > 0 && card.selectionBehavior === undefined)
    p.push('selectionBehavior missing with suggestions');
  for (const s of card.suggestions ?? []) {
    if (typeof s.label !== 'string' || s.label === '') p.push('suggestion label missing');
    for (const a of s.actions ?? []) {
      if (!['create', 'update', 'delete'].includes(a.type)) p.push(`action type ${String(a.type)} invalid`);
      if (typeof a.description !== 'string') p.push('action description missing');
    }
  }
  for (const l of card.links ?? []) {
    if (l.type !== 'absolute' && l.type !== 'smart') p.push(`link type ${String(l.type)} invalid`);
    if (l.type === 'absolute' && l.appContext !== undefined) p.push('appContext on an absolute link');
  }
  for (const r of card.overrideReasons ?? [])
    if (!r.display) p.push(`override reason ${r.code} without display`);
  return p;
}

/** Answers a prefetch template from the demo patient's resources: every resource of the queried type. */
function prefetchFor(template: string, patientId: string, stored: FhirResource[]): FhirResource | null {
  const query = template.replaceAll('{{context.patientId}}', patientId);
  const [typePart = '', search] = query.split('?');
  if (search === undefined) {
    const [type, id] = typePart.split('/');
    return stored.find((r) => r.resourceType === type && r.id === id) ?? null;
  }
  const matches = stored.filter((r) => r.resourceType === typePart);
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    entry: matches.map((resource) => ({ resource })),
  };
}

export async function runSelftest(options: SelftestOptions): Promise<SelftestRow[]> {
  const root = options.base.replace(/\/+$/, '');
  const profile = options.profile ?? ehrProfile({ ehr: options.ehr });
  const alg = options.privateJwk.alg ?? (options.privateJwk.kty === 'RSA' ? 'RS384' : 'ES384');
  const key = await importJWK(options.privateJwk, alg);
  const rows: SelftestRow[] = [];

  const sign = async (aud: string): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(options.sub === undefined ? {} : { sub: options.sub })
      .setProtectedHeader({
        alg,
        typ: 'JWT',
        ...(options.privateJwk.kid === undefined ? {} : { kid: options.privateJwk.kid }),
        ...(options.jku === undefined ? {} : { jku: options.jku }),
      })
      .setIssuer(options.iss)
      .setAudience(aud)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .setJti(randomUUID());
    // Epic sets nbf five minutes before iat.
    if (options.ehr === 'epic') jwt.setNotBefore(now - 300);
    return jwt.sign(key);
  };
  const call = async (method: 'GET' | 'POST', url: string, body?: unknown) => {
    const started = performance.now();
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${await sign(url)}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    return { res, text, ms: performance.now() - started };
  };
  const row = (check: string, ms: number, problems: string[], okDetail: string) =>
    rows.push({
      check,
      ok: problems.length === 0,
      ms,
      detail: problems.length === 0 ? okDetail : problems.join('; '),
    });

  // Discovery (Epic does not read it, but the service must still answer it validly).
  let services: ServiceDefinition[] = [];
  try {
    const { res, text, ms } = await call('GET', `${root}/cds-services`);
    const problems: string[] = [];
    if (res.status !== 200) problems.push(`HTTP ${res.status}`);
    else {
      services = ((JSON.parse(text) as { services?: ServiceDefinition[] }).services ??
        []) as ServiceDefinition[];
      if (!Array.isArray(services) || services.length === 0) problems.push('no services');
      for (const s of services) {
        if (!s.hook || !s.id || !s.description)
          problems.push(`service ${s.id ?? '?'} lacks hook/id/description`);
        if (s.version !== undefined && !/^\d+\.\d+\.\d+$/.test(s.version))
          problems.push(`${s.id}: version not semver`);
        if (s.hookVersion === undefined) problems.push(`${s.id}: hookVersion missing (CDS Hooks 3.0)`);
      }
      for (const hook of HOOKS_BY_EHR[options.ehr])
        if (!services.some((s) => s.hook === hook)) problems.push(`no service for ${hook}`);
    }
    row('discovery', ms, problems, `${services.length} services`);
  } catch (err) {
    row('discovery', 0, [`request failed: ${(err as Error).message}`], '');
  }

  const patientId = options.patient ?? 'demo-tlif-osteoporosis-critical';
  const seed = readDemoSeed(patientId);
  for (const hook of HOOKS_BY_EHR[options.ehr]) {
    const service = services.find((s) => s.hook === hook);
    if (service === undefined) continue;
    // patient-view: the planned surgery is a draft order on the chart instead of in the context.
    const stored = hook === 'patient-view' ? [...seed.stored, ...seed.draftOrders] : seed.stored;
    const prefetch = Object.fromEntries(
      Object.entries(service.prefetch ?? {}).map(([k, t]) => [k, prefetchFor(t, patientId, stored)]),
    );
    const userId = 'Practitioner/selftest';
    const draftOrders: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: seed.draftOrders.map((resource) => ({ resource })),
    };
    const context =
      hook === 'patient-view'
        ? { userId, patientId }
        : hook === 'order-select'
          ? {
              userId,
              patientId,
              draftOrders,
              selections: seed.draftOrders.map((r) => `${r.resourceType}/${r.id}`),
            }
          : { userId, patientId, draftOrders };
    const body = {
      hook,
      hookInstance: randomUUID(),
      context,
      prefetch,
      ...(options.ehr === 'epic' && hook === 'patient-view'
        ? { extension: { [EPIC_TRIGGER_EXTENSION]: '60' } }
        : {}),
    };
    try {
      const { res, text, ms } = await call('POST', `${root}/cds-services/${service.id}`, body);
      const problems: string[] = [];
      let cards: CdsCard[] = [];
      if (res.status !== 200) problems.push(`HTTP ${res.status}`);
      else if (!(res.headers.get('content-type') ?? '').includes('application/json'))
        problems.push('not JSON');
      else {
        const parsed = JSON.parse(text) as { cards?: unknown };
        if (!Array.isArray(parsed.cards)) problems.push('no cards array');
        else cards = parsed.cards as CdsCard[];
      }
      cards.forEach((card, i) => {
        for (const p of cardSpecProblems(card)) problems.push(`card ${i}: ${p}`);
        for (const p of profileProblems(card, profile)) problems.push(`card ${i} (${options.ehr}): ${p}`);
      });
      row(`${hook} (${service.id})`, ms, problems, `${cards.length} card(s)`);
    } catch (err) {
      row(`${hook} (${service.id})`, 0, [`request failed: ${(err as Error).message}`], '');
    }
  }

  // Errors are OperationOutcomes (CDS Hooks 3.0), never a 500.
  const first = services.find((s) => HOOKS_BY_EHR[options.ehr].includes(s.hook));
  if (first !== undefined) {
    try {
      const { res, text, ms } = await call('POST', `${root}/cds-services/${first.id}`, { hook: first.hook });
      const problems: string[] = [];
      if (res.status !== 400) problems.push(`HTTP ${res.status}, expected 400`);
      try {
        if ((JSON.parse(text) as { resourceType?: string }).resourceType !== 'OperationOutcome')
          problems.push('not an OperationOutcome');
      } catch {
        problems.push('not JSON');
      }
      row('invalid request -> 400 OperationOutcome', ms, problems, 'OperationOutcome');
    } catch (err) {
      row('invalid request -> 400 OperationOutcome', 0, [`request failed: ${(err as Error).message}`], '');
    }
  }
  return rows;
}

export function formatTable(rows: SelftestRow[]): string {
  const width = Math.max(5, ...rows.map((r) => r.check.length));
  const lines = [`${'check'.padEnd(width)}  result  ms      detail`];
  for (const r of rows)
    lines.push(
      `${r.check.padEnd(width)}  ${(r.ok ? 'PASS' : 'FAIL').padEnd(6)}  ${r.ms.toFixed(0).padStart(6)}  ${r.detail}`,
    );
  const failed = rows.filter((r) => !r.ok).length;
  lines.push(failed === 0 ? `all ${rows.length} checks passed` : `${failed} of ${rows.length} checks failed`);
  return `${lines.join('\n')}\n`;
}

/** A private JWK file, or the demo client's key file ({kid, privateJwk}). */
function readKey(file: string): { jwk: JWK; demo: boolean } {
  const json = JSON.parse(readFileSync(file, 'utf8')) as JWK & { privateJwk?: JWK; kid?: string };
  if (json.privateJwk !== undefined) return { jwk: { kid: json.kid, ...json.privateJwk }, demo: true };
  return { jwk: json, demo: false };
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string' },
      ehr: { type: 'string', default: 'generic' },
      key: { type: 'string' },
      iss: { type: 'string' },
      sub: { type: 'string' },
      jku: { type: 'string' },
      patient: { type: 'string' },
    },
    strict: true,
  });
  const ehr = values.ehr;
  const keyPath = values.key ?? (existsSync(DEFAULT_DEMO_KEY) ? DEFAULT_DEMO_KEY : undefined);
  if (
    values.base === undefined ||
    keyPath === undefined ||
    (ehr !== 'epic' && ehr !== 'oracle' && ehr !== 'generic')
  ) {
    process.stderr.write(
      'usage: npm run selftest -- --base <url> --ehr epic|oracle|generic --key <private JWK file> [--iss <iss>] [--sub <id>] [--jku <url>]\n',
    );
    return 2;
  }
  let key: { jwk: JWK; demo: boolean };
  try {
    key = readKey(keyPath);
  } catch (err) {
    process.stderr.write(`cannot read key file: ${(err as Error).message}\n`);
    return 2;
  }
  const iss = values.iss ?? (key.demo ? DEMO_CLIENT_ISS : undefined);
  if (iss === undefined) {
    process.stderr.write('--iss is required with a plain private JWK\n');
    return 2;
  }
  const rows = await runSelftest({
    base: values.base,
    ehr,
    privateJwk: key.jwk,
    iss,
    sub: values.sub ?? (ehr === 'epic' ? 'selftest-client' : undefined),
    jku: values.jku,
    patient: values.patient,
  });
  process.stdout.write(formatTable(rows));
  return rows.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`selftest failed: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
