/**
 * `vbq calibrate`: derives site-calibrated cutoffs from a local cohort (CSV, or a FHIR server) and writes
 * the overrides file the service loads (KNOWLEDGE_OVERRIDES_FILE) and, on request, the HTML report.
 * Exit 0 when at least one cutoff was accepted, 2 when every stratum was refused (reasons printed),
 * 1 on unreadable input, 64 on a usage error.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { KnowledgeBaseError, loadKnowledgeBase } from '../knowledge/index.js';
import { SCORE_METRICS, type ScoreMetric } from '../knowledge/schema.js';
import { CALIBRATION_DEFAULTS, type CalibrationResult } from './calibrate.js';
import { CohortError, parseCohortCsv, type CohortRow } from './cohort.js';
import { driftBaseline } from './drift.js';
import { FhirCohortError, fetchCohortFromFhir } from './fhir-input.js';
import { CalibrationOutcomesError, loadCalibrationOutcomes } from './outcomes.js';
import { projectRoot, runCalibration, UnknownOutcomeError } from './run.js';

export const CALIBRATE_EXIT = { ok: 0, unreadable: 1, refused: 2, usage: 64 } as const;

export interface CalibrateIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  now?: () => Date;
  fetchImpl?: typeof fetch;
}

export const CALIBRATE_USAGE = `usage: vbq calibrate (--csv <file> | --fhir <base URL>) --metric <code> --outcome <name> --out <overrides.json>
         [--report <file.html>] [--baseline <file.json>] [--field-strength <T>] [--min-events <n>] [--max-gap-months <n>]
         [--max-ci-width <x>] [--replicates <n>] [--seed <n>] [--site <name>] [--json]
  --csv             cohort CSV: header row with patient, metric, value, field_strength_t, scanner, measured_on,
                    outcome, event (1/0), outcome_on (any order, extra columns ignored)
  --fhir            read the cohort from this FHIR server instead (bearer token: CALIBRATION_FHIR_TOKEN)
  --metric          ${SCORE_METRICS.join(', ')}
  --outcome         an outcome of cds-services/calibration-outcomes.json (e.g. osteoporosis-dxa, cage-subsidence)
  --out             the overrides file to write (only when a cutoff is accepted)
  --report          also write the HTML report
  --baseline        also write the accepted strata's scores (no patient data) for the drift watch
  --field-strength  only scores at this field strength (tesla)
  --min-events      fewest events and non-events per stratum (default ${CALIBRATION_DEFAULTS.minEvents})
  --max-gap-months  largest gap between score and reference standard (default ${CALIBRATION_DEFAULTS.maxGapMonths})
  --max-ci-width    widest accepted bootstrap 95% CI of the cutoff, in score units (default ${CALIBRATION_DEFAULTS.maxCutoffCiWidth})
  --replicates      bootstrap replicates (default ${CALIBRATION_DEFAULTS.replicates}); --seed its seed (default ${CALIBRATION_DEFAULTS.seed})
  --site            the site's name, recorded in the provenance (default "local site")
  --json            print the figures as JSON instead of a summary
exit: 0 a cutoff accepted, 2 every stratum refused (reasons printed), 1 unreadable input, 64 usage`;

class UsageError extends Error {}

function numberOption(
  name: string,
  text: string | undefined,
  check: (v: number) => boolean,
): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v) || !check(v))
    throw new UsageError(`--${name} has an invalid value`);
  return v;
}

function summary(result: CalibrationResult): string {
  const lines = [`${result.metric} against ${result.outcome} (${result.referenceStandard})`];
  for (const s of result.strata) {
    const a = s.analysis;
    const head = `${s.label}: n=${s.n} (${s.events} events, ${s.nonEvents} non-events)`;
    if (s.status === 'accepted' && a) {
      lines.push(
        `${head}: ACCEPTED cutoff ${a.cutoff.comparator} ${a.cutoff.threshold.toFixed(3)} ` +
          `(bootstrap 95% CI ${a.cutoff.ci95[0].toFixed(3)}-${a.cutoff.ci95[1].toFixed(3)}), ` +
          `AUC ${a.auc.auc.toFixed(3)} (DeLong 95% CI ${a.auc.ci95[0].toFixed(3)}-${a.auc.ci95[1].toFixed(3)}), ` +
          `sensitivity ${(a.atCutoff.sensitivity * 100).toFixed(1)}%, specificity ${(a.atCutoff.specificity * 100).toFixed(1)}%`,
      );
      for (const p of a.published) {
        lines.push(
          `  published ${p.citation} ${p.comparator} ${p.threshold}: here sensitivity ${(p.local.sensitivity * 100).toFixed(1)}%, ` +
            `specificity ${(p.local.specificity * 100).toFixed(1)}%, flags ${(p.calibrationInTheLarge.observedPositiveRate * 100).toFixed(1)}%` +
            (p.calibrationInTheLarge.expectedPositiveRate === null
              ? ''
              : ` (expected ${(p.calibrationInTheLarge.expectedPositiveRate * 100).toFixed(1)}%)`),
        );
      }
    } else {
      lines.push(`${head}: REFUSED`);
      for (const r of s.refusals) lines.push(`  ${r.code}: ${r.message}`);
    }
  }
  for (const s of result.skipped) lines.push(`${s.label}: not attempted: ${s.reason}`);
  return lines.join('\n');
}

/** Runs `vbq calibrate <args>`; returns the exit code (never calls process.exit). */
export async function runCalibrate(argv: string[], io: CalibrateIo): Promise<number> {
  let opt;
  try {
    opt = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        csv: { type: 'string' },
        fhir: { type: 'string' },
        metric: { type: 'string' },
        outcome: { type: 'string' },
        out: { type: 'string' },
        report: { type: 'string' },
        baseline: { type: 'string' },
        'field-strength': { type: 'string' },
        'min-events': { type: 'string' },
        'max-gap-months': { type: 'string' },
        'max-ci-width': { type: 'string' },
        replicates: { type: 'string' },
        seed: { type: 'string' },
        site: { type: 'string' },
        'knowledge-dir': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (err) {
    io.stderr(`vbq calibrate: ${err instanceof Error ? err.message : String(err)}\n${CALIBRATE_USAGE}\n`);
    return CALIBRATE_EXIT.usage;
  }
  if (opt.help) {
    io.stdout(`${CALIBRATE_USAGE}\n`);
    return CALIBRATE_EXIT.ok;
  }
  let options;
  try {
    if ((opt.csv === undefined) === (opt.fhir === undefined))
      throw new UsageError('give either --csv or --fhir');
    if (opt.metric === undefined || !(SCORE_METRICS as readonly string[]).includes(opt.metric)) {
      throw new UsageError(`--metric must be one of ${SCORE_METRICS.join(', ')}`);
    }
    if (opt.outcome === undefined) throw new UsageError('--outcome is required');
    if (opt.out === undefined) throw new UsageError('--out is required');
    options = {
      metric: opt.metric as ScoreMetric,
      outcome: opt.outcome,
      fieldStrengthT: numberOption('field-strength', opt['field-strength'], (v) => v > 0 && v <= 12),
      minEvents: numberOption('min-events', opt['min-events'], (v) => Number.isInteger(v) && v >= 2),
      maxGapMonths: numberOption('max-gap-months', opt['max-gap-months'], (v) => v > 0),
      maxCutoffCiWidth: numberOption('max-ci-width', opt['max-ci-width'], (v) => v > 0),
      replicates: numberOption(
        'replicates',
        opt.replicates,
        (v) => Number.isInteger(v) && v >= 200 && v <= 100_000,
      ),
      seed: numberOption('seed', opt.seed, (v) => Number.isInteger(v) && v >= 1 && v <= 4294967295),
    };
  } catch (err) {
    io.stderr(`vbq calibrate: ${(err as Error).message}\n${CALIBRATE_USAGE}\n`);
    return CALIBRATE_EXIT.usage;
  }
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as typeof options;
  const now = io.now?.() ?? new Date();
  const site = opt.site?.trim() || 'local site';

  let run;
  try {
    const dir = opt['knowledge-dir'] ?? path.join(projectRoot(), 'cds-services');
    const kb = loadKnowledgeBase({ dir });
    const outcomes = loadCalibrationOutcomes(dir, kb);
    const outcome = outcomes.outcomes[defined.outcome];
    if (outcome === undefined) throw new UnknownOutcomeError(defined.outcome, Object.keys(outcomes.outcomes));
    let rows: CohortRow[];
    if (opt.csv !== undefined) {
      rows = parseCohortCsv(await readFile(opt.csv, 'utf8'));
    } else {
      rows = await fetchCohortFromFhir({
        baseUrl: opt.fhir!,
        token: io.env.CALIBRATION_FHIR_TOKEN,
        metric: defined.metric,
        outcomeName: defined.outcome,
        outcome,
        kb,
        now,
        maxGapMonths: defined.maxGapMonths ?? CALIBRATION_DEFAULTS.maxGapMonths,
        ...(io.fetchImpl ? { fetchImpl: io.fetchImpl } : {}),
      });
    }
    run = await runCalibration({
      rows,
      kb,
      outcomes,
      options: defined,
      site,
      now,
      report: opt.report !== undefined,
    });
  } catch (err) {
    if (err instanceof UnknownOutcomeError) {
      io.stderr(`vbq calibrate: ${err.message}\n`);
      return CALIBRATE_EXIT.usage;
    }
    if (err instanceof CohortError || err instanceof FhirCohortError) {
      io.stderr(`vbq calibrate: ${err.message}\n${err.problems.map((p) => `  ${p}\n`).join('')}`);
      return CALIBRATE_EXIT.unreadable;
    }
    if (err instanceof KnowledgeBaseError || err instanceof CalibrationOutcomesError) {
      io.stderr(`vbq calibrate: ${err.message}\n`);
      return CALIBRATE_EXIT.unreadable;
    }
    const e = err as NodeJS.ErrnoException;
    if (e && typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) {
      io.stderr(`vbq calibrate: ${e.message}\n`);
      return CALIBRATE_EXIT.unreadable;
    }
    throw err;
  }

  if (run.overrides) {
    await writeFile(opt.out!, `${JSON.stringify(run.overrides, null, 2)}\n`);
  }
  if (run.report !== undefined) await writeFile(opt.report!, run.report);
  if (run.overrides && opt.baseline !== undefined) {
    await writeFile(opt.baseline, `${JSON.stringify(driftBaseline(run.result, now))}\n`);
  }
  if (opt.json) {
    io.stdout(`${JSON.stringify({ figures: run.figures, overrides: run.overrides }, null, 2)}\n`);
  } else {
    io.stdout(`${summary(run.result)}\n`);
    if (run.overrides) io.stdout(`wrote ${opt.out} (${run.overrides.cutoffs.length} cutoffs)\n`);
    if (run.report !== undefined) io.stdout(`wrote ${opt.report}\n`);
    if (run.overrides && opt.baseline !== undefined) io.stdout(`wrote ${opt.baseline}\n`);
  }
  if (!run.overrides) {
    io.stderr(`vbq calibrate: every stratum was refused; no overrides file was written\n`);
    for (const s of run.result.strata) {
      for (const r of s.refusals) io.stderr(`  ${s.label}: ${r.code}: ${r.message}\n`);
    }
    return CALIBRATE_EXIT.refused;
  }
  return CALIBRATE_EXIT.ok;
}
