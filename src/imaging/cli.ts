#!/usr/bin/env node
import { readdir, readFile, stat } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { AppError } from '../errors.js';
import { parseDicom } from './dicom.js';
import { buildObservation } from './observations.js';
import { parseRoiJson, readRoisFromSr } from './roi.js';
import type { RoiInput } from './roi.js';
import { measureSeries } from './vbq.js';
import type { MeasurementResult } from './vbq.js';
import { DirectFhirWriter, resolvePatientReference } from './writer.js';
import type { ObservationWriter } from './writer.js';

/** Exit codes: 0 all valid, 2 a measurement was refused, 1 unreadable input, 3 write-back failed, 64 usage. */
export const EXIT = { ok: 0, unreadable: 1, refused: 2, writeFailed: 3, usage: 64 } as const;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  fetchImpl?: typeof fetch;
  /** Overrides the writer built from FHIR_WRITE_BASE_URL (tests, or the service's outbox). */
  writer?: ObservationWriter;
}

const USAGE = `usage: vbq measure <files or directory>... (--rois <file.json> | --sr <file.dcm>) [--json] [--write]
         [--patient Patient/<id>] [--timezone +01:00]
  --json      print the JSON result instead of a summary
  --write     write valid results as FHIR Observations to FHIR_WRITE_BASE_URL (bearer FHIR_WRITE_TOKEN),
              conditional create on the measurement identifier; the Patient is --patient or found by
              identifier (DICOM PatientID, system DICOM_PATIENT_IDENTIFIER_SYSTEM if set)
  --timezone  UTC offset for DICOM times without one (otherwise only the date is written)
exit: 0 valid, 2 refused (reasons printed), 1 unreadable input, 3 write-back failed, 64 usage
       vbq calibrate --help   site calibration of cutoffs (see README "Site calibration")`;

const PROGRESS_MIN_FILES = 20;

async function listFiles(path: string): Promise<string[]> {
  const s = await stat(path);
  if (!s.isDirectory()) return [path];
  const out: string[] = [];
  for (const e of (await readdir(path, { withFileTypes: true })).sort((a, b) =>
    a.name.localeCompare(b.name),
  )) {
    if (e.name.startsWith('.')) continue;
    const p = join(path, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function isPart10(buf: Uint8Array): boolean {
  return (
    buf.byteLength >= 132 && buf[128] === 0x44 && buf[129] === 0x49 && buf[130] === 0x43 && buf[131] === 0x4d
  );
}

const fmt = (v: number | undefined, digits = 1): string => (v === undefined ? '?' : v.toFixed(digits));

const METRIC_TITLE: Record<string, string> = {
  'vbq-l1-l4': 'VBQ L1-L4',
  ebq: 'EBQ',
  'vbq-s1': 'S1 VBQ',
  'c-vbq': 'C-VBQ',
  'ct-hu-l1': 'CT L1 HU',
};

function summary(r: MeasurementResult): string {
  const lines: string[] = [];
  const title = `${METRIC_TITLE[r.metric] ?? r.metric} (${r.metric})`;
  if (r.validity.valid && r.value !== null) {
    lines.push(`${title}: ${r.value.toFixed(r.unit === 'HU' ? 1 : 3)}${r.unit === 'HU' ? ' HU' : ''}`);
  } else {
    lines.push(`${title}: REFUSED`);
    for (const reason of r.validity.reasons) lines.push(`  reason ${reason.code}: ${reason.message}`);
  }
  if (r.levels.length > 0) {
    lines.push(
      `  levels: ${r.levels.map((l) => `${l.level} ${fmt(l.si)} (n=${l.pixelCount}, sd ${fmt(l.sd)})`).join(', ')}`,
    );
  }
  if (r.csf) lines.push(`  CSF ${r.csf.level}: ${fmt(r.csf.si)} (n=${r.csf.pixelCount})`);
  if (r.exclusions.length > 0)
    lines.push(`  excluded: ${r.exclusions.map((e) => `${e.level} (${e.reason})`).join(', ')}`);
  const a = r.acquisition;
  const facts = [
    a.fieldStrengthT !== undefined ? `${a.fieldStrengthT} T` : undefined,
    a.sequence,
    a.trMs !== undefined ? `TR ${a.trMs} ms` : undefined,
    a.teMs !== undefined ? `TE ${a.teMs} ms` : undefined,
    a.pixelBandwidth !== undefined ? `BW ${a.pixelBandwidth} Hz/px` : undefined,
    a.scanner,
    a.acquisitionDateTime ?? a.seriesDate,
  ].filter(Boolean);
  lines.push(`  acquisition: ${facts.join(', ')}`);
  return lines.join('\n');
}

/** Runs the `vbq` command line; returns the exit code (never calls process.exit). */
export async function main(argv: string[], io: CliIo): Promise<number> {
  // Site calibration has its own options and exit codes (src/calibration/cli.ts); loaded only when used.
  if (argv[0] === 'calibrate') return (await import('../calibration/cli.js')).runCalibrate(argv.slice(1), io);
  let args;
  try {
    args = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        rois: { type: 'string' },
        sr: { type: 'string' },
        json: { type: 'boolean', default: false },
        write: { type: 'boolean', default: false },
        patient: { type: 'string' },
        timezone: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    io.stderr(`vbq: ${err instanceof Error ? err.message : String(err)}\n${USAGE}\n`);
    return EXIT.usage;
  }
  const { values: opt, positionals } = args;
  if (opt.help) {
    io.stdout(`${USAGE}\n`);
    return EXIT.ok;
  }
  const [command, ...paths] = positionals;
  if (command !== 'measure' || paths.length === 0 || (opt.rois === undefined) === (opt.sr === undefined)) {
    io.stderr(`${USAGE}\n`);
    return EXIT.usage;
  }
  if (opt.timezone !== undefined && !/^(Z|[+-]\d{2}:\d{2})$/.test(opt.timezone)) {
    io.stderr('vbq: --timezone must look like +01:00 or Z\n');
    return EXIT.usage;
  }

  let results: MeasurementResult[];
  try {
    let rois: RoiInput;
    if (opt.rois !== undefined) {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(opt.rois, 'utf8'));
      } catch (err) {
        throw new AppError(
          'invalid-roi',
          `cannot read ROI JSON ${opt.rois}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      rois = parseRoiJson(json);
    } else {
      const srPath = opt.sr!;
      const sr = parseDicom(await readFile(srPath), { fileName: srPath });
      const read = readRoisFromSr(sr.dataset);
      for (const s of read.skipped) io.stderr(`vbq: SR group skipped: ${s}\n`);
      rois = { source: read.source, rois: read.rois };
    }
    const fileNames: string[] = [];
    const files: Uint8Array[] = [];
    for (const p of paths) {
      const listed = await listFiles(p);
      const fromDir = listed.length !== 1 || listed[0] !== p;
      for (const f of listed) {
        const buf = await readFile(f);
        if (fromDir && !isPart10(buf)) continue; // directories may hold README, DICOMDIR indexes, ...
        files.push(buf);
        fileNames.push(f);
      }
    }
    const total = files.length;
    const step = Math.max(1, Math.ceil(total / 10));
    results = await measureSeries({
      files,
      fileNames,
      rois,
      onProgress:
        total >= PROGRESS_MIN_FILES
          ? (done, n) => {
              if (done % step === 0 || done === n) io.stderr(`vbq: read ${done}/${n} files\n`);
            }
          : undefined,
    });
  } catch (err) {
    if (err instanceof AppError) {
      io.stderr(`vbq: ${err.code}: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
      return EXIT.unreadable;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      io.stderr(`vbq: ${e.message}\n`);
      return EXIT.unreadable;
    }
    throw err;
  }

  const written: { metric: string; status: string; reference?: string }[] = [];
  let writeFailed = false;
  if (opt.write) {
    try {
      written.push(...(await writeResults(results, io, opt.patient, opt.timezone)));
    } catch (err) {
      writeFailed = true;
      io.stderr(`vbq: write-back failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }

  if (opt.json) {
    io.stdout(`${JSON.stringify(opt.write ? { results, written } : { results }, null, 2)}\n`);
  } else {
    io.stdout(`${results.map(summary).join('\n')}\n`);
    for (const w of written)
      io.stdout(`written ${w.metric}: ${w.status}${w.reference ? ` (${w.reference})` : ''}\n`);
  }
  const refused = results.filter((r) => !r.validity.valid);
  for (const r of refused) {
    io.stderr(`vbq: ${r.metric} refused: ${r.validity.reasons.map((x) => x.code).join(', ')}\n`);
  }
  if (writeFailed) return EXIT.writeFailed;
  return refused.length > 0 ? EXIT.refused : EXIT.ok;
}

async function writeResults(
  results: MeasurementResult[],
  io: CliIo,
  patientOpt: string | undefined,
  timezone: string | undefined,
): Promise<{ metric: string; status: string; reference?: string }[]> {
  const valid = results.filter((r) => r.validity.valid);
  if (valid.length === 0) return [];
  const baseUrl = io.env.FHIR_WRITE_BASE_URL;
  let writer = io.writer;
  const clientOpts = { baseUrl: baseUrl ?? '', token: io.env.FHIR_WRITE_TOKEN, fetchImpl: io.fetchImpl };
  if (!writer) {
    if (!baseUrl) throw new Error('FHIR_WRITE_BASE_URL is not set');
    writer = new DirectFhirWriter(clientOpts);
  }
  let patientReference = patientOpt;
  if (!patientReference) {
    const pid = valid[0]!.patient.dicomPatientId;
    if (!pid) throw new Error('the DICOM files carry no PatientID; pass --patient Patient/<id>');
    if (!baseUrl) throw new Error('FHIR_WRITE_BASE_URL is not set (needed to find the Patient)');
    patientReference = await resolvePatientReference(clientOpts, pid, io.env.DICOM_PATIENT_IDENTIFIER_SYSTEM);
  }
  const out: { metric: string; status: string; reference?: string }[] = [];
  for (const r of valid) {
    const obs = buildObservation(
      r,
      timezone ? { patientReference, defaultTimezone: timezone } : { patientReference },
    );
    const res = await writer.write(obs);
    out.push(
      res.reference
        ? { metric: r.metric, status: res.status, reference: res.reference }
        : { metric: r.metric, status: res.status },
    );
  }
  return out;
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
    env: process.env,
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error('vbq: internal error:', err instanceof Error ? err.message : String(err));
      process.exitCode = 1;
    },
  );
}
