#!/usr/bin/env node
/**
 * eslint and the TypeScript typecheck in one process, on one set of TypeScript programs (what `npm test`
 * runs in place of `eslint .` and `npm run typecheck`). Run apart (`npm run lint`, `npm run typecheck`), each builds
 * its own program of the same ~1,300 files (parse, bind) and type-checks much of it twice: eslint's typed
 * rules (no-floating-promises, no-misused-promises) ask the type checker about nearly every call. Here the
 * programs `tsc -p` would build for each tsconfig of `npm run typecheck` are built once, their
 * diagnostics are what `tsc --noEmit` reports, and eslint's typed rules get the same programs through
 * typescript-eslint's `parserOptions.programs`, so they reuse the checker's work.
 *
 * Same rules, same files and same results as `eslint .` plus both `tsc` runs: eslint.config.js is loaded as
 * usual; only where its type information comes from changes, for the files these programs hold. A file
 * eslint lints that neither program holds keeps eslint.config.js's own settings (the project service).
 * Exit status 1 when either reports an error. Prettier is not part of this (`prettier --check .` runs
 * beside it in `npm test`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import ts from 'typescript';

const root = path.resolve(fileURLToPath(import.meta.url), '../..');
// The tsconfigs `npm run typecheck` checks, read from package.json so the two never drift apart.
const typecheck = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).scripts.typecheck;
const TSCONFIGS = [...typecheck.matchAll(/\btsc -p (\S+)/g)].map((m) => m[1]);
if (TSCONFIGS.length === 0 || TSCONFIGS.length !== typecheck.split('&&').length) {
  throw new Error(
    `scripts/lint-and-typecheck.mjs cannot read the package.json typecheck script: ${typecheck}`,
  );
}

const host = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => root,
  getNewLine: () => ts.sys.newLine,
};

let failed = false;
const programs = [];
for (const config of TSCONFIGS) {
  const parsed = ts.getParsedCommandLineOfConfigFile(path.join(root, config), undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.formatDiagnostic(d, host));
    },
  });
  const program = ts.createProgram({
    rootNames: parsed.fileNames,
    options: parsed.options,
    projectReferences: parsed.projectReferences,
    configFileParsingDiagnostics: ts.getConfigFileParsingDiagnostics(parsed),
  });
  // What `tsc -p <config> --noEmit` reports (none of the configs asks for declarations).
  const diagnostics = ts.getPreEmitDiagnostics(program);
  if (diagnostics.length > 0) {
    failed ||= diagnostics.some((d) => d.category === ts.DiagnosticCategory.Error);
    process.stdout.write(
      `tsc -p ${config}:\n${ts.formatDiagnosticsWithColorAndContext(diagnostics, host)}\n`,
    );
  }
  programs.push(program);
}

// The TypeScript files the programs hold (absolute paths, as eslint passes them to a `files` function).
const inPrograms = new Set(programs.flatMap((p) => p.getRootFileNames().map((f) => path.resolve(root, f))));
const eslint = new ESLint({
  cwd: root,
  overrideConfig: [
    {
      files: [(file) => inPrograms.has(file)],
      languageOptions: { parserOptions: { projectService: false, programs } },
    },
  ],
});
const results = await eslint.lintFiles(['.']);
const formatter = await eslint.loadFormatter('stylish');
const text = await formatter.format(results);
if (text) process.stdout.write(text);
failed ||= results.some((r) => r.errorCount > 0 || r.fatalErrorCount > 0);
process.exitCode = failed ? 1 : 0;
