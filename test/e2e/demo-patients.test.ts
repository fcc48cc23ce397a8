/**
 * Every demo patient, end to end as `npm run demo` runs it: the service built from its real
 * configuration in demo mode, the embedded FHIR server (profile-validating) as the EHR's FHIR server, a
 * signed order-sign call, and the cards the README promises. Every card is checked against the spec rules
 * and every suggested resource against R4 and our profiles.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { runDemoOrderSign } from '../../scripts/ehr-simulator.js';
import { demoPatients } from '../../src/demo/seed/index.js';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';
import { createLogger } from '../../src/http/logger.js';
import { createRuntime, type Runtime } from '../../src/server.js';
import { cardProblems } from '../helpers/card-spec.js';

const DEMO_NOW = new Date(
  (
    JSON.parse(
      fs.readFileSync(path.resolve(import.meta.dirname, '../../src/demo/seed/demo-patients.json'), 'utf8'),
    ) as { now: string }
  ).now,
);

describe('demo patients over HTTP (the README table)', () => {
  let server: http.Server;
  let runtime: Runtime;
  let base: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbh-demo-'));
    server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const config = loadConfig({
      PUBLIC_BASE_URL: base,
      DATA_DIR: dataDir,
      DEMO_MODE: 'on',
      LOG_LEVEL: 'silent',
    });
    runtime = await createRuntime(config, { logger: createLogger('silent'), now: () => DEMO_NOW });
    server.on('request', runtime.app);
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await runtime.close();
  });

  for (const patient of demoPatients()) {
    it(`${patient.id}: ${patient.shows}`, async () => {
      const run = await runDemoOrderSign({ base, dataDir, patientId: patient.id });
      expect(run.cards.map((c) => [c.indicator, c.source.topic?.code])).toEqual(
        patient.cards.map((c) => [c.indicator, c.topic]),
      );
      const validator = getProfileValidator();
      run.cards.forEach((card, i) => {
        const expected = patient.cards[i]!;
        expect(card.summary).toMatch(new RegExp(expected.summary));
        expect(cardProblems(card)).toEqual([]);
        const suggested = (card.suggestions ?? [])
          .flatMap((s) => s.actions ?? [])
          .flatMap((a) => (a.resource ? [a.resource] : []));
        const codes = suggested.map(
          (r) => (r as { code?: { coding?: { code?: string }[] } }).code?.coding?.[0]?.code,
        );
        expect(codes).toEqual(expected.suggestions);
        for (const resource of suggested) {
          expect(validator.validate(resource).filter((x) => x.severity === 'error')).toEqual([]);
        }
      });
    });
  }

  it('the README lists every demo patient with the indicators and topics of the cards it gets', () => {
    const readme = fs.readFileSync(path.resolve(import.meta.dirname, '../../README.md'), 'utf8');
    for (const patient of demoPatients()) {
      const row = readme.split('\n').find((l) => l.startsWith(`| \`${patient.id}\``));
      expect(row, patient.id).toBeDefined();
      for (const card of patient.cards) expect(row).toContain(`**${card.indicator}** (${card.topic})`);
      if (patient.cards.length === 0) expect(row).toContain('no card');
    }
  });

  it('a CPT code given on the command line replaces the demo draft orders (non-spine code: no cards)', async () => {
    const run = await runDemoOrderSign({ base, dataDir, patientId: 'demo-tlif-high-vbq', cpt: '27447' });
    expect(run.orderCodes).toEqual(['27447']);
    expect(run.cards).toEqual([]);
  });
});
