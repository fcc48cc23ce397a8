/**
 * The README's imaging section, run as a new user would: every `sh` block, in order, on a fresh copy of
 * the repository (its tracked files), with `npm link` into a temporary npm prefix whose bin folder is put
 * on the PATH. A `text` block right after a `sh` block is its expected output, compared verbatim.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeTable } from '../../src/imaging/cli-exit.js';
import { parseRoiJson } from '../../src/imaging/roi.js';

const ROOT = join(import.meta.dirname, '..', '..');

interface Block {
  lang: string;
  body: string;
}

function imagingSection(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('## Imaging: measuring VBQ');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

function blocks(section: string): Block[] {
  return [...section.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

/** The shell steps with the output the README promises (when it shows one). */
function steps(section: string): { script: string; expected?: string }[] {
  const all = blocks(section);
  return all.flatMap((b, i) => {
    if (b.lang !== 'sh') return [];
    const next = all[i + 1];
    return [{ script: b.body, ...(next?.lang === 'text' ? { expected: next.body } : {}) }];
  });
}

describe('README imaging section', () => {
  const section = imagingSection();
  let work = '';
  let repo = '';
  let env: NodeJS.ProcessEnv = {};

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'readme-imaging-'));
    repo = join(work, 'repo');
    // A fresh copy of what a clone holds; the installed dependencies are shared, not reinstalled.
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter(Boolean);
    for (const f of tracked) {
      mkdirSync(dirname(join(repo, f)), { recursive: true });
      cpSync(join(ROOT, f), join(repo, f));
    }
    symlinkSync(join(ROOT, 'node_modules'), join(repo, 'node_modules'));
    const prefix = join(work, 'npm-prefix');
    mkdirSync(prefix);
    env = {
      ...process.env,
      // `npm link` installs into this prefix, not the machine's global one.
      npm_config_prefix: prefix,
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
    };
    for (const k of Object.keys(env)) {
      if (/^(FHIR_WRITE_|DICOM_)/.test(k)) delete env[k];
    }
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('has shell blocks that install vbq, write the sample and measure it', () => {
    const scripts = steps(section).map((s) => s.script);
    expect(scripts.some((s) => /npm link/.test(s))).toBe(true);
    expect(scripts.some((s) => /^vbq sample /m.test(s))).toBe(true);
    expect(scripts.some((s) => /^vbq inspect /m.test(s))).toBe(true);
    expect(scripts.filter((s) => /^vbq measure /m.test(s))).toHaveLength(2);
  });

  it(
    'runs every shell block as written, with the output it shows',
    () => {
      for (const step of steps(section)) {
        const r = spawnSync('bash', ['-euo', 'pipefail', '-c', step.script], {
          cwd: repo,
          env,
          encoding: 'utf8',
          timeout: 8 * 60_000,
        });
        expect({ script: step.script, status: r.status, stderr: r.stderr }).toMatchObject({ status: 0 });
        if (step.expected !== undefined)
          expect({ script: step.script, stdout: r.stdout }).toEqual({
            script: step.script,
            stdout: step.expected,
          });
      }
      // The installed command is the built file, executable, with its shebang.
      const bin = join(env.npm_config_prefix!, 'bin', 'vbq');
      expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    },
    10 * 60_000,
  );

  it('shows the ROI file that `vbq sample` writes, and it is a valid ROI file', () => {
    const json = blocks(section).find((b) => b.lang === 'json');
    expect(json).toBeDefined();
    const shown = JSON.parse(json!.body) as unknown;
    expect(shown).toEqual(JSON.parse(readFileSync(join(repo, 'vbq-example', 'rois.json'), 'utf8')));
    const parsed = parseRoiJson(shown);
    expect(parsed.rois.map((r) => [r.label, r.shape, r.exclude])).toEqual([
      ['L1', 'ellipse', undefined],
      ['L2', 'ellipse', undefined],
      ['L3', 'rectangle', undefined],
      ['L4', 'ellipse', 'fracture'],
      ['CSF', 'polygon', undefined],
    ]);
  });

  it('holds the exit code table that `vbq --help` prints, with 3 and 64', () => {
    expect(section).toContain(exitCodeTable());
    expect(exitCodeTable()).toMatch(/^\| 3 /m);
    expect(exitCodeTable()).toMatch(/^\| 64 /m);
  });
});
