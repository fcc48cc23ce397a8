#!/usr/bin/env node
/**
 * The `vbq` command line: `measure` (VBQ from a series and ROIs, optionally written to FHIR), `inspect`
 * (what the files hold) and `sample` (a synthetic series to try it on). Settings come from src/config;
 * exit codes from the one table in cli-exit.ts.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { loadCliConfig, type CliConfig } from '../config/cli.js';
import type { ObservationWriter } from '../writeback/observation-writer.js';
import { EXIT, exitCodeTable } from './cli-exit.js';
import { runInspect } from './cli-inspect.js';
import { runMeasure } from './cli-measure.js';
import { runSample } from './cli-sample.js';

export { EXIT } from './cli-exit.js';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** The environment to read the configuration from (default: this process's). */
  env?: NodeJS.ProcessEnv;
  fetchImpl?: typeof fetch;
  /** Replaces the writer built from FHIR_WRITE_BASE_URL (tests). */
  writer?: ObservationWriter;
}

export const USAGE = `usage:
  vbq sample <dir>                      write a synthetic lumbar T1 series, rois.json and rois-sr.dcm
  vbq inspect <files or dirs>... [--json]
                                        list studies, series, SOP Instance UIDs and acquisition facts
  vbq measure <files or dirs>... (--rois <file.json> | --sr <file.dcm>) [--json] [--write]
              [--patient Patient/<id>] [--timezone +01:00]
    --json      print the JSON result instead of a summary
    --write     write valid results as FHIR Observations to FHIR_WRITE_BASE_URL (FHIR_WRITE_TOKEN or
                SMART Backend Services), conditional create on the measurement identifier; the Patient is
                --patient, or found by the DICOM PatientID under DICOM_PATIENT_IDENTIFIER_SYSTEM
    --timezone  UTC offset for DICOM times without one (default DICOM_DEFAULT_TIMEZONE; otherwise only
                the date is written)
  Unreadable files are skipped with a warning each. Directories are read recursively.
  vbq calibrate --help                  site calibration of cutoffs (README "Site calibration")

exit codes:
${exitCodeTable()}`;

const OPTIONS = {
  rois: { type: 'string' },
  sr: { type: 'string' },
  json: { type: 'boolean', default: false },
  write: { type: 'boolean', default: false },
  patient: { type: 'string' },
  timezone: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function usage(io: CliIo, message?: string): number {
  io.stderr(`${message ? `vbq: ${message}\n` : ''}${USAGE}\n`);
  return EXIT.usage;
}

/** Runs the `vbq` command line; returns the exit code (never calls process.exit). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  // Site calibration has its own options and exit codes (src/calibration/cli.ts); loaded only when used.
  if (argv[0] === 'calibrate')
    return (await import('../calibration/cli.js')).runCalibrate(argv.slice(1), { ...io, env: io.env ?? {} });
  let args;
  try {
    args = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    return usage(io, err instanceof Error ? err.message : String(err));
  }
  const { values: opt, positionals } = args;
  if (opt.help) {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  const [command, ...paths] = positionals;
  if (command === 'sample') {
    if (paths.length !== 1) return usage(io, 'sample takes one directory');
    return runSample(paths[0]!, io);
  }
  if (command === 'inspect') {
    if (paths.length === 0) return usage(io, 'inspect needs files or directories');
    return runInspect({ paths, json: opt.json }, io);
  }
  if (command !== 'measure') return usage(io, command ? `unknown command "${command}"` : undefined);
  if (paths.length === 0) return usage(io, 'measure needs files or directories');
  if ((opt.rois === undefined) === (opt.sr === undefined)) {
    return usage(io, 'measure needs exactly one of --rois <file.json> or --sr <file.dcm>');
  }
  if (opt.timezone !== undefined && !/^(Z|[+-]\d{2}:\d{2})$/.test(opt.timezone)) {
    return usage(io, '--timezone must look like +01:00 or Z');
  }
  if (opt.patient !== undefined && !/^Patient\/[A-Za-z0-9\-.]{1,64}$/.test(opt.patient)) {
    return usage(io, '--patient must look like Patient/<id>');
  }

  // Configuration is checked before any file is read: a missing write-back setting fails in a second.
  let config: CliConfig;
  try {
    config = loadCliConfig(io.env, { writeBack: opt.write });
  } catch (err) {
    io.stderr(`vbq: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.usage;
  }
  let write;
  if (opt.write) {
    const fhir = config.fhirWrite;
    if (!fhir && !io.writer) {
      return usage(io, '--write needs FHIR_WRITE_BASE_URL (the FHIR server to write the Observations to)');
    }
    if (!opt.patient && !fhir?.patientIdentifierSystem) {
      return usage(
        io,
        '--write needs --patient Patient/<id>, or DICOM_PATIENT_IDENTIFIER_SYSTEM to find the Patient by the DICOM PatientID',
      );
    }
    write = {
      fhir: fhir ?? { baseUrl: '' },
      ...(opt.patient ? { patient: opt.patient } : {}),
      ...(io.writer ? { writer: io.writer } : {}),
      ...(io.fetchImpl ? { fetchImpl: io.fetchImpl } : {}),
    };
  }
  const timezone = opt.timezone ?? config.defaultTimezone;
  return runMeasure(
    {
      paths,
      ...(opt.rois !== undefined ? { rois: opt.rois } : {}),
      ...(opt.sr !== undefined ? { sr: opt.sr } : {}),
      json: opt.json,
      ...(write ? { write } : {}),
      ...(timezone ? { timezone } : {}),
    },
    io,
  );
}

function invokedDirectly(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error('vbq: internal error:', err instanceof Error ? err.message : String(err));
      process.exitCode = EXIT.unreadable;
    },
  );
}
