/**
 * One calibration run shared by the command line and the HTTP API: rows in, the figures (JSON), the
 * overrides document (when a stratum was accepted) and the report out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KnowledgeBase } from '../knowledge/index.js';
import {
  calibrate,
  type CalibrationOptions,
  type CalibrationResult,
  type StratumResult,
} from './calibrate.js';
import type { CohortRow } from './cohort.js';
import type { CalibrationOutcomesFile } from './outcomes.js';
import { buildOverrides, type CalibrationOverrides } from './overrides.js';
import { renderReport } from './report.js';
import type { RocPoint } from './stats.js';

/** The repository root (holds cds-services/ and package.json), whether run from src/ or dist/src/. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'cds-services'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cds-services/ not found above the calibration code');
    dir = parent;
  }
  return dir;
}

/** "name version" of this software, recorded in every provenance. */
export function softwareName(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  return `${pkg.name} ${pkg.version}`;
}

export interface RunInput {
  rows: readonly CohortRow[];
  kb: KnowledgeBase;
  outcomes: CalibrationOutcomesFile;
  options: CalibrationOptions;
  site: string;
  now: Date;
  software?: string;
  /** Render the HTML report too. */
  report?: boolean;
}

export interface RunOutput {
  result: CalibrationResult;
  overrides: CalibrationOverrides | null;
  figures: CalibrationFigures;
  report?: string;
}

/** The JSON figures: everything but the raw scores, the ROC curve thinned to at most 101 points. */
export interface CalibrationFigures extends Omit<CalibrationResult, 'strata'> {
  site: string;
  derivedOn: string;
  software: string;
  knowledgeBaseVersion: string;
  strata: (Omit<StratumResult, 'scores' | 'analysis'> & {
    analysis: (Omit<NonNullable<StratumResult['analysis']>, 'roc'> & { roc: RocPoint[] }) | null;
  })[];
}

function thinRoc(points: readonly RocPoint[], max = 101): RocPoint[] {
  if (points.length <= max) return [...points];
  const step = (points.length - 1) / (max - 1);
  return Array.from({ length: max }, (_, i) => points[Math.round(i * step)]!);
}

/** Unknown outcome name: the caller's mistake (usage / 400). */
export class UnknownOutcomeError extends Error {
  constructor(name: string, known: string[]) {
    super(`unknown outcome "${name}" (known: ${known.join(', ')})`);
    this.name = 'UnknownOutcomeError';
  }
}

export async function runCalibration(input: RunInput): Promise<RunOutput> {
  const outcome = input.outcomes.outcomes[input.options.outcome];
  if (outcome === undefined) {
    throw new UnknownOutcomeError(input.options.outcome, Object.keys(input.outcomes.outcomes));
  }
  const software = input.software ?? softwareName();
  const result = await calibrate(input.rows, input.kb, outcome, input.options);
  const overrides =
    result.accepted > 0
      ? buildOverrides(result, { kb: input.kb, outcome, site: input.site, derivedOn: input.now, software })
      : null;
  const figures: CalibrationFigures = {
    ...result,
    site: input.site,
    derivedOn: input.now.toISOString().slice(0, 10),
    software,
    knowledgeBaseVersion: input.kb.version,
    strata: result.strata.map(({ scores: _scores, analysis, ...s }) => ({
      ...s,
      analysis: analysis === null ? null : { ...analysis, roc: thinRoc(analysis.roc) },
    })),
  };
  const out: RunOutput = { result, overrides, figures };
  if (input.report) {
    out.report = renderReport(result, {
      site: input.site,
      derivedOn: input.now,
      software,
      knowledgeBaseVersion: input.kb.version,
      overrides,
    });
  }
  return out;
}
