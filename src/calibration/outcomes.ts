/**
 * The calibration outcomes (`cds-services/calibration-outcomes.json`): for each outcome a site can
 * calibrate against, its reference standard, how the FHIR input finds it, which published cutoffs answer
 * the same question, and the shape of the cutoff written to the overrides file. Validated at load and
 * cross-checked against the knowledge base (code lists, references, parameters), so a typo stops the
 * command instead of producing a cutoff the service would misuse.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { KnowledgeBase } from '../knowledge/index.js';
import {
  CODE_LIST_IDS,
  PARAMETER_NAMES,
  PROCEDURE_FAMILIES,
  codeEntrySchema,
  type CodeEntry,
  type CodeListId,
} from '../knowledge/schema.js';

export const CALIBRATION_OUTCOMES_FILE = 'calibration-outcomes.json';

const nonEmpty = z.string().min(1);
const familyList = z.array(z.enum([...PROCEDURE_FAMILIES, 'any'])).min(1);

const sourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('dxa-t-score'),
      codeLists: z.array(z.enum(CODE_LIST_IDS)).min(1),
      /** The decision-point parameter holding the T-score at or below which the outcome is present. */
      tScoreParameter: z.enum(PARAMETER_NAMES),
    })
    .strict(),
  z
    .object({
      kind: z.literal('clinical-event'),
      resourceTypes: z.array(z.enum(['Condition', 'Procedure'])).min(1),
      codeLists: z.array(z.enum(CODE_LIST_IDS)),
      codes: z.array(codeEntrySchema),
    })
    .strict()
    .refine(
      (s) => s.codeLists.length + s.codes.length > 0,
      'an outcome needs at least one code or code list',
    ),
]);

export const calibrationOutcomeSchema = z
  .object({
    title: nonEmpty,
    referenceStandard: nonEmpty,
    source: sourceSchema,
    /** `outcome` texts of the published cutoffs (cutoffs.json) that answer the same question. */
    publishedOutcomes: z.array(nonEmpty).min(1),
    cutoff: z
      .object({
        role: z.enum(['screening', 'procedure-specific']),
        /** The calibrated cutoff becomes the primary (card) cutoff for its field strength / scanner. */
        primary: z.boolean(),
        procedureFamilies: z.object({ lumbar: familyList, cervical: familyList }).strict(),
        procedureLabel: nonEmpty,
        outcome: nonEmpty,
      })
      .strict(),
    /** Keys in references.json that define the outcome or its published cutoffs. */
    references: z.array(nonEmpty).min(1),
  })
  .strict();
export type CalibrationOutcome = z.infer<typeof calibrationOutcomeSchema>;

export const calibrationOutcomesFileSchema = z
  .object({
    version: z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version x.y.z'),
    description: nonEmpty,
    outcomes: z.record(
      z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be kebab-case'),
      calibrationOutcomeSchema,
    ),
  })
  .strict();
export type CalibrationOutcomesFile = z.infer<typeof calibrationOutcomesFileSchema>;

/** The file or an entry is invalid; the message names where. */
export class CalibrationOutcomesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CalibrationOutcomesError';
  }
}

/** Validates the outcomes document and checks it against the loaded knowledge base. */
export function parseCalibrationOutcomes(data: unknown, kb: KnowledgeBase, file = CALIBRATION_OUTCOMES_FILE) {
  const result = calibrationOutcomesFileSchema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new CalibrationOutcomesError(
      `${file} ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`.replace('  ', ' '),
    );
  }
  for (const [name, outcome] of Object.entries(result.data.outcomes)) {
    for (const ref of outcome.references) {
      if (kb.references[ref] === undefined) {
        throw new CalibrationOutcomesError(`${file} outcomes.${name}: unknown reference "${ref}"`);
      }
    }
    if (outcome.cutoff.primary && outcome.cutoff.role === 'procedure-specific') {
      for (const region of ['lumbar', 'cervical'] as const) {
        if (outcome.cutoff.procedureFamilies[region].includes('any')) {
          throw new CalibrationOutcomesError(
            `${file} outcomes.${name}: a primary procedure-specific cutoff needs named procedure families (${region})`,
          );
        }
      }
    }
  }
  return result.data;
}

/** Reads `calibration-outcomes.json` from the knowledge-base directory. */
export function loadCalibrationOutcomes(dir: string, kb: KnowledgeBase): CalibrationOutcomesFile {
  const file = path.join(dir, CALIBRATION_OUTCOMES_FILE);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CalibrationOutcomesError(`${file}: cannot be read (${(err as Error).message})`);
  }
  return parseCalibrationOutcomes(data, kb, file);
}

/** Every code that marks the outcome: the file's own plus those of the knowledge-base lists it names. */
export function outcomeCodes(outcome: CalibrationOutcome, kb: KnowledgeBase): CodeEntry[] {
  const lists: readonly CodeListId[] = outcome.source.codeLists;
  const own = outcome.source.kind === 'clinical-event' ? outcome.source.codes : [];
  return [...own, ...lists.flatMap((id) => kb.codeLists[id].codes)];
}
