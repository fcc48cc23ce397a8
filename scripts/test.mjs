#!/usr/bin/env node
/**
 * `npm test`: lint (eslint + prettier), type check and the vitest suite, run side by side rather than one
 * after the other. The suite spends much of its time waiting on the servers and processes it starts
 * (the service, Orthanc, PostgreSQL, Chromium); the static checks fill that time on a 2-core machine.
 * The checks' output is held back and printed after the suite's, so the suite's live report stays
 * readable. Exit status: the first non-zero of the three. Arguments are passed to vitest
 * (`npm test -- test/rules`, `npm test -- --reporter=json ...`); `--only-tests` skips the static checks.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

const args = process.argv.slice(2);
const onlyTests = args.includes('--only-tests');
const vitestArgs = args.filter((a) => a !== '--only-tests');
const started = performance.now();
const seconds = (from) => `${((performance.now() - from) / 1000).toFixed(0)} s`;

/** Runs a command; `live` streams its output, otherwise it is collected and printed at the end. */
function run(name, command, commandArgs, live) {
  const from = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      stdio: live ? 'inherit' : ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
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
const checks = onlyTests
  ? []
  : [
      run('lint', 'npm', ['run', '--silent', 'lint'], false),
      run('typecheck', 'npm', ['run', '--silent', 'typecheck'], false),
    ];
const tests = run('tests', npx, ['vitest', 'run', ...vitestArgs], true);

const results = [await tests, ...(await Promise.all(checks))];
for (const r of results.slice(1)) {
  if (r.code !== 0 || r.output.trim() !== '') {
    process.stdout.write(`\n── ${r.name} (${r.code === 0 ? 'passed' : 'FAILED'}) ──\n${r.output}`);
  }
}
const summary = results.map((r) => `${r.name} ${r.code === 0 ? 'passed' : 'FAILED'} in ${r.took}`).join(', ');
process.stdout.write(`\nnpm test: ${summary}; ${seconds(started)} in all\n`);
process.exit(results.find((r) => r.code !== 0)?.code ?? 0);
