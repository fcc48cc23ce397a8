#!/usr/bin/env node
/**
 * `npm test`: lint (eslint, prettier), type check (both tsconfigs) and the vitest suite, run side by side
 * rather than one after the other; eslint and the type check share their TypeScript programs
 * (scripts/lint-and-typecheck.mjs). The suite spends much of its time waiting on the servers and
 * processes it starts (the service, Orthanc, PostgreSQL, Chromium, npm); the static checks fill that time
 * on a 2-core machine. The checks' output is held back and printed after the suite's, so the suite's live
 * report stays readable. Exit status: the first non-zero of them. Arguments are passed to vitest
 * (`npm test -- test/rules`, `npm test -- --reporter=json ...`); `--only-tests` skips the static checks.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const onlyTests = args.includes('--only-tests');
const vitestArgs = args.filter((a) => a !== '--only-tests');
const started = performance.now();
const binDir = fileURLToPath(new URL('../node_modules/.bin', import.meta.url));
const seconds = (from) => `${((performance.now() - from) / 1000).toFixed(0)} s`;

/**
 * Niceness of the static checks: they need about a minute of CPU and have the suite's whole run to find
 * it, while the suite's first files (the Dockerfile stage test's npm ci and build) are the critical path
 * and were starved of CPU by them on 2 cores. Lower priority only: no privilege needed.
 */
const CHECKS_NICENESS = 10;

/**
 * Runs a command; `live` streams its output, otherwise it is collected and printed at the end. `nice`
 * lowers its priority (its children inherit it).
 */
function run(name, command, commandArgs, live, shell = false, nice = false) {
  const from = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      stdio: live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      // A package.json script line, run as npm runs it: through the shell, with node_modules/.bin on PATH.
      env: shell ? { ...process.env, PATH: [binDir, process.env.PATH].join(path.delimiter) } : process.env,
      shell,
    });
    if (nice && child.pid !== undefined) {
      try {
        os.setPriority(child.pid, CHECKS_NICENESS);
      } catch {
        // Not permitted or not supported here: the check runs at normal priority.
      }
    }
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.on('error', (err) =>
      resolve({ name, code: 1, output: `${name}: ${err.message}\n`, took: seconds(from) }),
    );
    child.on('close', (code, signal) =>
      resolve({ name, code: code ?? (signal ? 1 : 0), output, took: seconds(from) }),
    );
  });
}

const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
// The suite first: its first files (vitest.config.ts, CriticalPathFirst) are the run's critical path.
const tests = run('tests', npx, ['vitest', 'run', ...vitestArgs], true);
// `npm run lint` is eslint then prettier, `npm run typecheck` two tsc runs. Apart, eslint's typed rules and
// tsc each build and type-check a program of the same files; scripts/lint-and-typecheck.mjs does eslint
// and both tsc runs on one set of programs (about a third less CPU), and the rest of `npm run lint`
// (prettier) runs beside it. package.json stays the one place that says what the checks are.
const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts;
const checks = onlyTests
  ? []
  : [
      run(
        'eslint + typecheck',
        process.execPath,
        [fileURLToPath(new URL('lint-and-typecheck.mjs', import.meta.url))],
        false,
        false,
        true,
      ),
      ...scripts.lint
        .split(' && ')
        .filter((part) => part !== 'eslint .')
        .map((part) => run(`lint (${part})`, part, [], false, true, true)),
    ];

const results = [await tests, ...(await Promise.all(checks))];
for (const r of results.slice(1)) {
  if (r.code !== 0 || r.output.trim() !== '') {
    process.stdout.write(`\n── ${r.name} (${r.code === 0 ? 'passed' : 'FAILED'}) ──\n${r.output}`);
  }
}
const summary = results.map((r) => `${r.name} ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.took}`).join(', ');
process.stdout.write(`\nnpm test: ${summary}; ${seconds(started)} in all\n`);
process.exit(results.find((r) => r.code !== 0)?.code ?? 0);
