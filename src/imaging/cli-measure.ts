/** `vbq measure`: measure a series with JSON or SR ROIs, print the result, optionally write it to FHIR. */
import { readFile } from 'node:fs/promises';
import type { CliFhirWriteConfig } from '../config/cli.js';
import { AppError } from '../errors.js';
import { createFhirWriteAuth } from '../writeback/fhir-auth.js';
import { createObservationWriter, WriteError } from '../writeback/observation-writer.js';
import type { ObservationWriter } from '../writeback/observation-writer.js';
import { SkippedFiles, readInputFiles } from './cli-files.js';
import { EXIT } from './cli-exit.js';
import { parseDicom } from './dicom/parse.js';
import type { MeasurementResult } from './measurement.js';
import { buildObservation } from './observations.js';
import { parseRoiJson, readRoisFromSr } from './roi.js';
import type { RoiInput } from './roi.js';
import { measureSeries } from './vbq.js';

export interface MeasureOptions {
  paths: string[];
  rois?: string;
  sr?: string;
  json: boolean;
  /** Write-back settings, checked before measuring; undefined = no write-back. */
  write?: {
    fhir: CliFhirWriteConfig;
    /** `Patient/<id>` from --patient; otherwise the Patient is found by the DICOM PatientID. */
    patient?: string;
    /** Overrides the writer built from `fhir` (tests). */
    writer?: ObservationWriter;
    fetchImpl?: typeof fetch;
  };
  timezone?: string;
}

export interface MeasureIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROGRESS_MIN_FILES = 20;

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

async function readRoiInput(opts: MeasureOptions, io: MeasureIo): Promise<RoiInput> {
  if (opts.rois !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(opts.rois, 'utf8'));
    } catch (err) {
      throw new AppError(
        'invalid-roi',
        `cannot read ROI JSON ${opts.rois}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    return parseRoiJson(json);
  }
  const srPath = opts.sr!;
  const sr = parseDicom(await readFile(srPath), { fileName: srPath });
  const read = readRoisFromSr(sr.dataset);
  for (const s of read.skipped) io.stderr(`vbq: SR group skipped: ${s}\n`);
  return { source: read.source, rois: read.rois };
}

/** Runs `vbq measure`; returns the exit code. */
export async function runMeasure(opts: MeasureOptions, io: MeasureIo): Promise<number> {
  // The writer (and its credentials) is built before measuring: a bad key fails at once, not after it.
  let writer: ObservationWriter | undefined;
  if (opts.write) {
    try {
      writer = opts.write.writer ?? (await createWriter(opts.write));
    } catch (err) {
      io.stderr(`vbq: write-back configuration: ${err instanceof Error ? err.message : String(err)}\n`);
      return EXIT.usage;
    }
  }
  let results: MeasurementResult[];
  try {
    const rois = await readRoiInput(opts, io);
    const skipped = new SkippedFiles(io.stderr);
    const input = await readInputFiles(opts.paths, (f, code) => skipped.skip(`${f}: cannot read (${code})`));
    const total = input.files.length;
    const step = Math.max(1, Math.ceil(total / 10));
    try {
      results = await measureSeries({
        ...input,
        rois,
        // One unreadable file (a DICOMDIR, a README, a corrupt slice) is named and left out.
        onUnreadable: (err) => skipped.skip(`${err.code}: ${err.message}`),
        onProgress:
          total >= PROGRESS_MIN_FILES
            ? (done, n) => {
                if (done % step === 0 || done === n) io.stderr(`vbq: read ${done}/${n} files\n`);
              }
            : undefined,
      });
    } finally {
      skipped.summary(total);
    }
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
  if (opts.write && writer) {
    try {
      written.push(...(await writeResults(results, writer, opts.write, opts.timezone)));
    } catch (err) {
      if (!(err instanceof WriteError) && !(err instanceof AppError)) throw err;
      writeFailed = true;
      io.stderr(`vbq: write-back failed: ${err.message}\n`);
    }
  }

  if (opts.json) {
    io.stdout(`${JSON.stringify(opts.write ? { results, written } : { results }, null, 2)}\n`);
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

/**
 * Writes each valid result through THE write-back writer (conditional create on the measurement
 * identifier; the Patient found by identifier unless --patient names it).
 */
async function writeResults(
  results: MeasurementResult[],
  writer: ObservationWriter,
  write: NonNullable<MeasureOptions['write']>,
  timezone: string | undefined,
): Promise<{ metric: string; status: string; reference?: string }[]> {
  const valid = results.filter((r) => r.validity.valid);
  const out: { metric: string; status: string; reference?: string }[] = [];
  for (const r of valid) {
    const pid = r.patient.dicomPatientId;
    const system = write.fhir.patientIdentifierSystem;
    let patientReference: string | { identifier: { system: string; value: string } };
    if (write.patient) patientReference = write.patient;
    else if (pid && system) patientReference = { identifier: { system, value: pid } };
    else
      throw new AppError(
        'invalid-request',
        'the DICOM files carry no PatientID; pass --patient Patient/<id>',
      );
    const obs = buildObservation(r, { patientReference, ...(timezone ? { defaultTimezone: timezone } : {}) });
    const res = await writer.write(obs);
    out.push({
      metric: r.metric,
      status: res.outcome,
      ...(res.reference ? { reference: res.reference } : {}),
    });
  }
  return out;
}

async function createWriter(write: NonNullable<MeasureOptions['write']>): Promise<ObservationWriter> {
  const auth = await createFhirWriteAuth({
    ...(write.fhir.token ? { token: write.fhir.token } : {}),
    ...(write.fhir.smart ? { smart: write.fhir.smart } : {}),
  });
  return createObservationWriter({
    baseUrl: write.fhir.baseUrl,
    auth,
    ...(write.fetchImpl ? { fetch: write.fetchImpl } : {}),
  });
}
