/**
 * `vbq calibrate` end to end: the real command (a child process, as an operator runs it) on the shipped
 * example cohort, the overrides file it writes validated against our provenance schema and loaded by
 * the service's knowledge-base loader, and the exit codes for refusals and unreadable input.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { cohortToCsv } from '../../src/calibration/synthetic.js';
import { calibrationOverridesSchema, provenanceSchema } from '../../src/calibration/overrides.js';
import { driftBaselineSchema } from '../../src/calibration/drift.js';
import { main } from '../../src/imaging/cli.js';
import { exampleCohortCsv } from '../../examples/calibration/generate-cohort.js';
import { loadKnowledgeBase } from '../../src/knowledge/index.js';
import { screeningCutoff } from '../../src/rules/cutoffs.js';
import { cohort, KNOWLEDGE_DIR, stratum } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/calibration/cohort.csv');
const run = promisify(execFile);

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t), env: {} },
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

type Score = NonNullable<Parameters<typeof screeningCutoff>[3]>;
const score = (fieldStrengthT: number, scanner?: string): Score =>
  ({ metric: 'vbq-l1-l4', region: 'lumbar', value: 3.3, fieldStrengthT, scanner }) as unknown as Score;

describe('vbq calibrate', () => {
  it('the shipped example cohort is what its seeded script generates', () => {
    expect(readFileSync(EXAMPLE, 'utf8')).toBe(exampleCohortCsv());
  });

  it('calibrates the example cohort, writes overrides the service loads, and they apply only to their field strength', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'calibrate-'));
    const out = path.join(dir, 'overrides.json');
    const report = path.join(dir, 'report.html');
    const baseline = path.join(dir, 'baseline.json');
    const { stdout } = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'src/imaging/cli.ts'),
        'calibrate',
        '--csv',
        EXAMPLE,
        '--metric',
        'vbq-l1-l4',
        '--outcome',
        'osteoporosis-dxa',
        '--out',
        out,
        '--report',
        report,
        '--baseline',
        baseline,
        '--field-strength',
        '1.5',
        '--site',
        'Example Hospital',
      ],
      { cwd: ROOT, timeout: 120_000 },
    );
    expect(stdout).toMatch(/^1\.5 T: n=300 \(90 events, 210 non-events\): ACCEPTED cutoff >= 3\.\d{3}/m);
    expect(stdout).toContain(`wrote ${out} (1 cutoffs)`);
    // The README's walkthrough shows this very line.
    const line = stdout.split('\n').find((l) => l.startsWith('1.5 T: n=300'))!;
    expect(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain(line);

    const doc = calibrationOverridesSchema.parse(JSON.parse(readFileSync(out, 'utf8')));
    const cutoff = doc.cutoffs[0]!;
    expect(cutoff).toMatchObject({
      id: 'site-vbq-l1-l4-osteoporosis-dxa-1-5t',
      role: 'screening',
      primaryScreening: true,
      fieldStrengthT: 1.5,
      comparator: '>=',
      reference: expect.stringMatching(/^site-calibration-example-hospital-\d{4}-\d{2}-\d{2}$/),
    });
    const p = provenanceSchema.parse(cutoff.provenance);
    expect(p).toMatchObject({
      kind: 'site-calibration',
      site: 'Example Hospital',
      cohortSize: 300,
      events: 90,
      nonEvents: 210,
      fieldStrengthT: 1.5,
      scanner: null,
      outcome: 'osteoporosis-dxa',
      software: expect.stringMatching(/^spine-bone-health-cds \d+\.\d+\.\d+$/),
      knowledgeBaseVersion: expect.stringContaining('cutoffs'),
    });
    expect(p.cutoffCi95[0]).toBeLessThanOrEqual(cutoff.threshold);
    expect(p.cutoffCi95[1]).toBeGreaterThanOrEqual(cutoff.threshold);
    expect(p.auc).toBeCloseTo(cutoff.auc!, 3);

    // As written, provenance included: the service loads it with no further editing.
    const kb = loadKnowledgeBase({ dir: KNOWLEDGE_DIR, overridesFile: out });
    expect(kb.overriddenCutoffs).toEqual(['site-vbq-l1-l4-osteoporosis-dxa-1-5t']);
    expect(kb.version).toContain(`overrides ${doc.version}`);
    // The calibrated cutoff is chosen for a 1.5 T score and not for a 3 T one.
    expect(screeningCutoff(kb, 'vbq-l1-l4', 'lumbar', score(1.5, 'Siemens MAGNETOM Aera'))?.id).toBe(
      cutoff.id,
    );
    expect(screeningCutoff(kb, 'vbq-l1-l4', 'lumbar', score(3))?.id).not.toBe(cutoff.id);
    expect(screeningCutoff(kb, 'vbq-l1-l4', 'lumbar', score(3))?.fieldStrengthT).toBeUndefined();

    expect(readFileSync(report, 'utf8')).toMatch(/^<!doctype html>/);
    const base = driftBaselineSchema.parse(JSON.parse(readFileSync(baseline, 'utf8')));
    expect(base.strata).toEqual([expect.objectContaining({ fieldStrengthT: 1.5, scanner: null })]);
    expect(base.strata[0]!.scores).toHaveLength(300);
  }, 150_000);

  it('exit 2 with the reasons when every stratum is refused, and writes nothing', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'calibrate-'));
    const csv = path.join(dir, 'small.csv');
    writeFileSync(csv, cohortToCsv(cohort(21, [stratum({ events: 12, nonEvents: 50 })])));
    const out = path.join(dir, 'overrides.json');
    const t = io();
    const code = await main(
      ['calibrate', '--csv', csv, '--metric', 'vbq-l1-l4', '--outcome', 'osteoporosis-dxa', '--out', out],
      t.io,
    );
    expect(code).toBe(2);
    expect(t.err()).toContain('every stratum was refused; no overrides file was written');
    expect(t.err()).toContain('3 T: too-few-events: 12 events, at least 30 are needed');
    expect(() => readFileSync(out)).toThrow();
    // --min-events lowers the bar (and is recorded in the figures).
    const t2 = io();
    const code2 = await main(
      [
        'calibrate',
        '--csv',
        csv,
        '--metric',
        'vbq-l1-l4',
        '--outcome',
        'osteoporosis-dxa',
        '--out',
        out,
        '--min-events',
        '10',
        '--max-ci-width',
        '3',
        '--replicates',
        '300',
        '--json',
      ],
      t2.io,
    );
    expect(code2).toBe(0);
    const json = JSON.parse(t2.out()) as { figures: { settings: { minEvents: number } }; overrides: unknown };
    expect(json.figures.settings.minEvents).toBe(10);
    expect(json.overrides).not.toBeNull();
  });

  it('exit 1 on unreadable input (missing file, invalid rows, nothing for the metric) and 64 on usage errors', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'calibrate-'));
    const args = [
      '--metric',
      'vbq-l1-l4',
      '--outcome',
      'osteoporosis-dxa',
      '--out',
      path.join(dir, 'o.json'),
    ];
    const missing = io();
    expect(await main(['calibrate', '--csv', path.join(dir, 'nope.csv'), ...args], missing.io)).toBe(1);
    expect(missing.err()).toContain('ENOENT');

    const bad = path.join(dir, 'bad.csv');
    writeFileSync(
      bad,
      'patient,metric,value,field_strength_t,scanner,measured_on,outcome,event,outcome_on\nP1,vbq-l1-l4,x,3,,2024-01-01,osteoporosis-dxa,1,2024-02-01\n',
    );
    const invalid = io();
    expect(await main(['calibrate', '--csv', bad, ...args], invalid.io)).toBe(1);
    expect(invalid.err()).toContain('row 2, column value: must be a positive number');

    const other = path.join(dir, 'other.csv');
    writeFileSync(other, cohortToCsv(cohort(22, [stratum({ events: 40, nonEvents: 40 })])));
    const none = io();
    expect(
      await main(
        [
          'calibrate',
          '--csv',
          other,
          '--metric',
          'ebq',
          '--outcome',
          'osteoporosis-dxa',
          '--out',
          path.join(dir, 'o.json'),
        ],
        none.io,
      ),
    ).toBe(1);
    expect(none.err()).toContain('the cohort has no row for metric ebq and outcome osteoporosis-dxa');

    const usage = io();
    expect(
      await main(
        ['calibrate', '--csv', other, '--metric', 'vbq-l1-l4', '--outcome', 'nonsense', '--out', 'x'],
        usage.io,
      ),
    ).toBe(64);
    expect(usage.err()).toContain('unknown outcome "nonsense"');
    expect(await main(['calibrate', '--metric', 'vbq-l1-l4'], io().io)).toBe(64);
    expect(await main(['calibrate', '--csv', other, ...args, '--min-events', '1'], io().io)).toBe(64);
  });
});
