/**
 * Schemas of the knowledge-base files under `cds-services/`. They are validated at load, so an invalid
 * knowledge base stops the service before it gives advice, and they also give the TypeScript types.
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1);
const semver = z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version x.y.z');
const fraction = z.number().min(0).max(1);

export const REGIONS = ['lumbar', 'thoracolumbar', 'cervical'] as const;
export const PROCEDURE_FAMILIES = [
  'posterior-interbody',
  'anterior-lateral-interbody',
  'posterolateral',
  'long-segment-deformity',
  'anterior-cervical',
  'posterior-cervical',
  'vertebral-augmentation',
  'instrumentation',
] as const;
/** Bone-quality metrics from our CodeSystem, plus the non-MRI measures cutoffs are kept for. */
export const SCORE_METRICS = ['vbq-l1-l4', 'ebq', 'vbq-s1', 'c-vbq'] as const;
export const METRICS = [...SCORE_METRICS, 'ct-hu-l1', 'dxa-t-score', 'vitamin-d-25oh'] as const;

export type Region = (typeof REGIONS)[number];
export type ProcedureFamily = (typeof PROCEDURE_FAMILIES)[number];
export type ScoreMetric = (typeof SCORE_METRICS)[number];
export type Metric = (typeof METRICS)[number];

// ---- code lists ------------------------------------------------------------------------------------

export const CODE_LIST_IDS = [
  'spine-surgery-procedures',
  'dxa-t-score',
  'vitamin-d-25oh',
  'osteoporosis',
  'osteopenia',
  'fragility-fracture',
  'hyperlipidemia',
  'diabetes',
  'ckd',
  'rheumatoid-arthritis',
  'hyperparathyroidism',
  'long-term-steroid-use',
  'glucocorticoids',
  'osteoporosis-treatment',
  'dxa-orders',
  'bone-health-referrals',
] as const;
export type CodeListId = (typeof CODE_LIST_IDS)[number];

export const codeEntrySchema = z
  .object({
    system: z.url(),
    code: nonEmpty,
    display: nonEmpty,
    verified: z.boolean(),
    verifiedBy: nonEmpty.optional(),
    match: z.enum(['exact', 'prefix']).optional(),
    note: nonEmpty.optional(),
    // list-specific fields
    region: z.enum(REGIONS).optional(),
    family: z.enum(PROCEDURE_FAMILIES).optional(),
    longConstruct: z.boolean().optional(),
    regionSpecific: z.boolean().optional(),
    kind: z.enum(['t-score', 'bmd', 'z-score', 'panel']).optional(),
    site: z.enum(['lumbar-spine', 'total-hip', 'femoral-neck', 'forearm', 'panel']).optional(),
    laterality: z.enum(['left', 'right']).optional(),
    role: z.enum(['order']).optional(),
    ingredient: nonEmpty.optional(),
    drugClass: z.enum(['antiresorptive', 'anabolic']).optional(),
    matchByCode: z.boolean().optional(),
    requiresBoneHealthText: z.boolean().optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.verified && entry.verifiedBy === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['verifiedBy'],
        message: 'verified codes must name their source',
      });
    }
  });
export type CodeEntry = z.infer<typeof codeEntrySchema>;

const codeListSchema = z
  .object({ title: nonEmpty, description: nonEmpty, codes: z.array(codeEntrySchema).min(1) })
  .strict();

export const codeListsFileSchema = z
  .object({
    version: semver,
    codeLists: z.record(z.enum(CODE_LIST_IDS), codeListSchema),
  })
  .strict()
  .superRefine((file, ctx) => {
    for (const id of CODE_LIST_IDS) {
      if (file.codeLists[id] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['codeLists', id], message: `code list ${id} is missing` });
      }
    }
    file.codeLists['spine-surgery-procedures']?.codes.forEach((c, i) => {
      if (c.region === undefined || c.family === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['codeLists', 'spine-surgery-procedures', 'codes', i],
          message: `procedure ${c.code} needs region and family`,
        });
      }
    });
  });
export type CodeListsFile = z.infer<typeof codeListsFileSchema>;

// ---- references ------------------------------------------------------------------------------------

export const referenceSchema = z
  .object({
    authors: nonEmpty,
    /** How cards cite it when the first author's surname is not the right short name. */
    short: nonEmpty.optional(),
    year: z.number().int().min(1900).max(2100),
    title: nonEmpty,
    journal: nonEmpty,
    doi: z
      .string()
      .regex(/^10\.\d{4,9}\/\S+$/, 'must be a bare DOI such as 10.1016/j.spinee.2019.10.018')
      .optional(),
    via: nonEmpty.optional(),
  })
  .strict();
export type Reference = z.infer<typeof referenceSchema>;

export const referencesFileSchema = z
  .object({ version: semver, references: z.record(nonEmpty, referenceSchema) })
  .strict();

// ---- cutoffs ---------------------------------------------------------------------------------------

export const cutoffSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be kebab-case'),
    role: z.enum(['screening', 'procedure-specific']),
    /** The cutoff a card compares against for these procedure families (one per family, metric, field strength). */
    primaryFor: z.array(z.enum(PROCEDURE_FAMILIES)).min(1).optional(),
    /** The screening cutoff for its region and metric (one per region, metric, field strength). */
    primaryScreening: z.boolean().optional(),
    metric: z.enum(METRICS),
    region: z.enum([...REGIONS, 'any']),
    procedureFamilies: z.array(z.enum([...PROCEDURE_FAMILIES, 'any'])).min(1),
    procedureLabel: nonEmpty,
    outcome: nonEmpty,
    threshold: z.number().finite(),
    comparator: z.enum(['>=', '>', '<=', '<']),
    unit: nonEmpty.optional(),
    sensitivity: fraction.optional(),
    specificity: fraction.optional(),
    auc: fraction.optional(),
    npv: fraction.optional(),
    ppv: fraction.optional(),
    /** Field strength (tesla) the cutoff was derived on, when known; a hospital's own cutoffs set it. */
    fieldStrengthT: z.number().positive().optional(),
    /** Scanner (manufacturer/model substring) a hospital calibrated the cutoff on. */
    scanner: nonEmpty.optional(),
    population: nonEmpty,
    reference: nonEmpty,
    notes: nonEmpty.optional(),
  })
  .strict();
export type Cutoff = z.infer<typeof cutoffSchema>;

export const cutoffsFileSchema = z
  .object({ version: semver, cutoffs: z.array(cutoffSchema).min(1) })
  .strict();

/** A hospital overrides file: cutoffs with an existing id replace it, others are added. */
export const overridesFileSchema = z
  .object({
    version: semver.optional(),
    description: nonEmpty.optional(),
    cutoffs: z.array(cutoffSchema).default([]),
    references: z.record(nonEmpty, referenceSchema).default({}),
  })
  .strict();
export type OverridesFile = z.infer<typeof overridesFileSchema>;

// ---- decision points -------------------------------------------------------------------------------

const parameterSchema = z
  .object({ value: z.number().finite(), reference: nonEmpty, note: nonEmpty.optional() })
  .strict();

export const PARAMETER_NAMES = [
  'ageEvaluationYears',
  'dxaLookbackMonths',
  'staleDataMonths',
  'mrLookbackMonths',
  'vitaminDLookbackMonths',
  'vitaminDLowNgPerMl',
  'glucocorticoidMinDays',
  'treatmentRecencyMonths',
  'referralLookbackMonths',
  'vbqAgeCaveatYears',
  'minLumbarLevels',
  'ctHuOsteoporosis',
  'ctHuLowBone',
  'ctHuNormal',
  'tScoreOsteoporosis',
  'tScoreOsteopenia',
] as const;
export type ParameterName = (typeof PARAMETER_NAMES)[number];

export const CAVEAT_NAMES = [
  'supplementary',
  'hyperlipidemia',
  'fieldStrength',
  'fieldStrengthUnknown',
  'age',
  'sex',
  'stale',
  'lumbarTScore',
  'frax',
] as const;
export type CaveatName = (typeof CAVEAT_NAMES)[number];

export const CARD_TOPICS = [
  'osteoporosis-high-risk-surgery',
  'bone-quality-above-cutoff',
  'osteoporosis-evidence',
  'borderline-bone-quality',
  'evaluation-in-progress',
  'bone-density-not-assessed',
  'mri-without-bone-quality',
] as const;
export type CardTopic = (typeof CARD_TOPICS)[number];

const codeDisplaySchema = z.object({ code: nonEmpty, display: nonEmpty }).strict();

export const decisionPointsFileSchema = z
  .object({
    version: semver,
    source: z.object({ label: nonEmpty, url: z.url() }).strict(),
    decisionPoints: z
      .array(
        z
          .object({
            id: nonEmpty,
            finding: nonEmpty,
            recommendation: nonEmpty,
            references: z.array(nonEmpty),
            /** Card topics whose cards state this recommendation. */
            appliesTo: z.array(z.enum(CARD_TOPICS)).min(1).optional(),
          })
          .strict(),
      )
      .min(1),
    parameters: z.record(z.enum(PARAMETER_NAMES), parameterSchema),
    caveats: z.record(
      z.enum(CAVEAT_NAMES),
      z.object({ text: nonEmpty, references: z.array(nonEmpty) }).strict(),
    ),
    cardTopics: z.array(codeDisplaySchema.extend({ code: z.enum(CARD_TOPICS) })).min(1),
    overrideReasons: z
      .array(
        codeDisplaySchema.extend({
          code: z.enum([
            'evaluated-elsewhere',
            'urgent-surgery',
            'patient-declined',
            'not-clinically-relevant',
          ]),
        }),
      )
      .length(4),
  })
  .strict()
  .superRefine((file, ctx) => {
    for (const name of PARAMETER_NAMES) {
      if (file.parameters[name] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['parameters', name], message: `parameter ${name} is missing` });
      }
    }
    for (const name of CAVEAT_NAMES) {
      if (file.caveats[name] === undefined) {
        ctx.addIssue({ code: 'custom', path: ['caveats', name], message: `caveat ${name} is missing` });
      }
    }
    for (const topic of CARD_TOPICS) {
      if (!file.cardTopics.some((t) => t.code === topic)) {
        ctx.addIssue({ code: 'custom', path: ['cardTopics'], message: `card topic ${topic} is missing` });
      }
    }
  });
export type DecisionPointsFile = z.infer<typeof decisionPointsFileSchema>;
