/**
 * The analyst's configuration sheet and the conformance self-test, run as the CLIs an operator runs
 * (tsx child processes), against a real service on loopback for the self-test.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ehrProfile, epicTopicCode } from '../../src/cds/ehr-profiles.js';
import { demoClient, loadOrCreateDemoKeys } from '../../src/demo/demo-client.js';
import { createServices } from '../../src/services/index.js';
import { runSelftest } from '../../scripts/selftest.js';
import { createTestClient, type TestClient } from '../helpers/jwt.js';
import { shippedKnowledgeBase } from '../helpers/knowledge.js';
import { startTestService, type TestService } from '../helpers/service.js';
import { storeBackends } from '../helpers/store.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const kb = shippedKnowledgeBase();

async function cli(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // node with tsx's loader, as `tsx` runs a script, without the tsx CLI's own process in between.
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'scripts', script), ...args],
      { cwd: ROOT },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run ehr-config', () => {
  const base = 'https://cds.hospital.example/bone';
  it('epic: services, hand-entered prefetch, scopes, jku trust, SMART registration, topic-code table, client entry', async () => {
    const { code, stdout } = await cli('ehr-config.ts', ['--ehr', 'epic', '--base', base]);
    expect(code).toBe(0);
    for (const hook of ['patient-view', 'order-select', 'order-sign'])
      expect(stdout).toContain(`hook ${hook}`);
    expect(stdout).toContain(`${base}/cds-services/spine-surgery-bone-health`);
    expect(stdout).toMatch(/Epic does not read it/);
    expect(stdout).toContain('- patient: Patient/{{context.patientId}}');
    expect(stdout).toContain('patient/Observation.rs');
    expect(stdout).toContain('patient/Observation.read');
    expect(stdout).toMatch(/RS384/);
    expect(stdout).toMatch(/jku/);
    expect(stdout).toContain(`launch URL:   ${base}/care-team/launch`);
    expect(stdout).toContain(`redirect URL: ${base}/care-team/`);
    expect(stdout).toContain('launch launch/patient openid fhirUser patient/*.rs');
    expect(stdout).toContain('patient/*.read');
    for (const t of kb.cardTopics) expect(stdout).toContain(`| ${t.code} | ${epicTopicCode(t.code)} |`);
    const entry = JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1)) as Record<string, unknown>;
    expect(entry).toMatchObject({ ehr: 'epic' });
  });

  it('oracle: patient-view only, its iss/jku, allowed links', async () => {
    const { code, stdout } = await cli('ehr-config.ts', ['--ehr', 'oracle', '--base', base]);
    expect(code).toBe(0);
    expect(stdout).toContain('hook patient-view');
    expect(stdout).not.toContain('hook order-sign');
    expect(stdout).not.toContain('hook order-select');
    expect(stdout).toContain('https://cds-hooks.cerner.com');
    expect(stdout).toContain('https://authorization.cerner.com/jwk');
    const entry = JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1)) as Record<string, unknown>;
    expect(entry).toMatchObject({ ehr: 'oracle', allowedLinks: [`${base}/`] });
  });

  it('generic: discovery URL, all hooks, spec topic codes', async () => {
    const { code, stdout } = await cli('ehr-config.ts', ['--ehr', 'generic', '--base', base]);
    expect(code).toBe(0);
    expect(stdout).toContain(`Discovery: ${base}/cds-services`);
    expect(stdout).toContain('hook order-sign');
    expect(stdout).toContain(`- ${kb.cardTopics[0]!.code}: `);
    expect(stdout).toMatch(/cdsHooksVersion/);
  });

  it('refuses an unknown EHR with exit 2', async () => {
    expect((await cli('ehr-config.ts', ['--ehr', 'meditech'])).code).toBe(2);
  });
});

describe('npm run selftest', () => {
  let svc: TestService;
  let epic: TestClient;
  let dir: string;
  let keyFile: string;
  beforeAll(async () => {
    epic = await createTestClient({ alg: 'RS384', iss: 'https://fhir.hospital.example/api/FHIR/R4' });
    dir = mkdtempSync(path.join(tmpdir(), 'selftest-'));
    await loadOrCreateDemoKeys(dir);
    svc = await startTestService({
      store: await storeBackends()[0]!.open(),
      services: createServices(kb, { careTeamBaseUrl: 'https://cds.hospital.example' }),
      clients: [{ iss: epic.iss, jwks: epic.jwks, ehr: 'epic' }, await demoClient(dir)],
    });
    keyFile = path.join(dir, 'epic-key.json');
    writeFileSync(
      keyFile,
      JSON.stringify({ ...(await exportJWK(epic.privateKey)), kid: epic.kid, alg: 'RS384' }),
    );
  });
  afterAll(async () => {
    await svc.close();
    await svc.store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('epic against a service that knows the client as Epic: every check passes, exit 0', async () => {
    const { code, stdout } = await cli('selftest.ts', [
      '--base',
      svc.baseUrl,
      '--ehr',
      'epic',
      '--key',
      keyFile,
      '--iss',
      epic.iss,
    ]);
    expect(stdout).toMatch(/^discovery\s+PASS/m);
    expect(stdout).toMatch(/^patient-view \(\S+\)\s+PASS\s+\d+\s+[1-9]\d* card/m);
    expect(stdout).toMatch(/^order-sign \(\S+\)\s+PASS\s+\d+\s+[1-9]\d* card/m);
    expect(stdout).toMatch(/^order-select \(\S+\)\s+PASS/m);
    expect(stdout).toMatch(/^invalid request -> 400 OperationOutcome\s+PASS/m);
    expect(stdout).toContain('all 5 checks passed');
    expect(code).toBe(0);
  });

  it('fails the card check when the service sends cards Epic cannot take; refuses a plain JWK without --iss', async () => {
    // The default test client is generic: its cards keep hyphenated topic codes, which Epic cannot keep.
    const generic = svc.client;
    const rows = await runSelftest({
      base: svc.baseUrl,
      ehr: 'epic',
      privateJwk: { ...(await exportJWK(generic.privateKey)), kid: generic.kid, alg: generic.alg },
      iss: generic.iss,
      profile: ehrProfile({ ehr: 'epic' }),
      patient: 'demo-tlif-high-vbq',
    });
    const sign = rows.find((r) => r.check.startsWith('order-sign'))!;
    expect(sign.ok).toBe(false);
    expect(sign.detail).toMatch(/source\.topic\.code/);
    const { code, stdout } = await cli('selftest.ts', [
      '--base',
      svc.baseUrl,
      '--ehr',
      'epic',
      '--key',
      keyFile,
    ]);
    expect(code).toBe(2); // no --iss with a plain JWK
    expect(stdout).toBe('');
  });

  it('generic with the demo client key file (no --iss needed): passes', async () => {
    const demoKey = path.join(dir, 'demo-client', 'es384-key.json');
    const { code, stdout } = await cli('selftest.ts', [
      '--base',
      svc.baseUrl,
      '--ehr',
      'generic',
      '--key',
      demoKey,
    ]);
    expect(stdout).toMatch(/^order-sign \(\S+\)\s+PASS\s+\d+\s+[1-9]\d* card/m);
    expect(stdout).toContain('all 5 checks passed');
    expect(code).toBe(0);
  });

  it('reports an unreachable service as failures, exit 1', async () => {
    const { code, stdout } = await cli('selftest.ts', [
      '--base',
      'http://127.0.0.1:9',
      '--ehr',
      'oracle',
      '--key',
      keyFile,
      '--iss',
      epic.iss,
    ]);
    expect(code).toBe(1);
    expect(stdout).toMatch(/^discovery\s+FAIL/m);
  });
});
