/**
 * Schemas of the knowledge-base files under `cds-services/`. They are validated at load, so an invalid
 * knowledge base stops the service before it gives advice, and they also give the TypeScript types.
 */
import { z } from 'zod';

const nonEmpty = z.string().min(1);
const semver = z.string().regex(/^\d+\.\d+\.\d+$/, 'must be a version x.y.z');
const fraction = z.number().min(0).max(1);
const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date YYYY-MM-DD');

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
/**
 * Published VBQ variants that are not our L1-L4 VBQ (Pu 2023's global L1-L5 and segmental L4-L5 VBQ,
 * Li 2023's single-level L1 VBQ): kept in the knowledge base with their own metric so they can never
 * be compared with a score measured the standard way.
 */
export const VARIANT_METRICS = ['vbq-global-l1-l5', 'vbq-segmental-l4-l5', 'vbq-l1'] as const;
export const METRICS = [
  ...SCORE_METRICS,
  ...VARIANT_METRICS,
  'ct-hu-l1',
  'dxa-t-score',
  'vitamin-d-25oh',
] as const;
/** MRI metrics: their cutoffs depend on field strength, so each records its cohort's field strength. */
export const MRI_METRICS: readonly Metric[] = [...SCORE_METRICS, ...VARIANT_METRICS];

export type Region = (typeof REGIONS)[number];
export type ProcedureFamily = (typeof PROCEDURE_FAMILIES)[number];
export type ScoreMetric = (typeof SCORE_METRICS)[number];
export type Metric = (typeof METRICS)[number];

// ---- code lists ------------------------------------------------------------------------------------

/** The code lists matched against the problem list and encounter diagnoses (Condition facts). */
export const CONDITION_CODE_LIST_IDS = [
  'osteoporosis',
  'osteopenia',
  'fragility-fracture',
  'hyperlipidemia',
  'diabetes',
  'ckd',
  'rheumatoid-arthritis',
  'hyperparathyroidism',
  'long-term-steroid-use',
] as const;

export const CODE_LIST_IDS = [
  'spine-surgery-procedures',
  'dxa-t-score',
  'vitamin-d-25oh',
  ...CONDITION_CODE_LIST_IDS,
  'glucocorticoids',
  'osteoporosis-treatment',
  'dxa-orders',
  'bone-health-referrals',
  'egfr',
  'systemic-routes',
  'non-systemic-routes',
] as const;
export type CodeListId = (typeof CODE_LIST_IDS)[number];

export const codeEntrySchema = z
  .object({
    system: z.url(),
    code: nonEmpty,
    display: nonEmpty,
    verified: z.boolean(),
    /** The named primary source the code was checked against (never a project note). */
    verifiedBy: nonEmpty.optional(),
    /** When the code was last checked against a source (verified or not). */
    checkedOn: isoDate.optional(),
    match: z.enum(['exact', 'prefix']).optional(),
    note: nonEmpty.optional(),
    // list-specific fields
    region: z.enum(REGIONS).optional(),
    family: z.enum(PROCEDURE_FAMILIES).optional(),
    longConstruct: z.boolean().optional(),
    regionSpecific: z.boolean().optional(),
    kind: z.enum(['t-score', 'bmd', 'z-score', 'panel', 'egfr']).optional(),
    /** DXA site as LOINC names it: LOINC's "Femur" codes are femur, not femoral neck. */
    site: z.enum(['lumbar-spine', 'total-hip', 'femur', 'femoral-neck', 'forearm', 'panel']).optional(),
    /** UCUM unit of the result (`{T-score}`, `{Z-score}`, `g/cm2`, `mL/min/{1.73_m2}`). */
    unit: nonEmpty.optional(),
    /** eGFR equation (CKD-EPI 2009, CKD-EPI 2021, MDRD). */
    equation: nonEmpty.optional(),
    /** CKD stage a diagnosis code states (3-5); a code without a stage is not in the CKD list. */
    ckdStage: z.enum(['3', '3a', '3b', '4', '5', '5D']).optional(),
    /** Fragility-fracture list: what the code records. */
    fractureKind: z.enum(['osteoporotic', 'vertebral-collapse', 'history', 'fragility-site']).optional(),
    laterality: z.enum(['left', 'right']).optional(),
    role: z.enum(['order']).optional(),
    ingredient: nonEmpty.optional(),
    drugClass: z.enum(['antiresorptive', 'anabolic']).optional(),
    matchByCode: z.boolean().optional(),
    requiresBoneHealthText: z.boolean().optional(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if (entry.verified && (entry.verifiedBy === undefined || entry.checkedOn === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['verifiedBy'],
        message: 'verified codes must name their source and the date it was checked (checkedOn)',
      });
    }
    if (entry.verifiedBy !== undefined && /clinical brief/i.test(entry.verifiedBy)) {
      ctx.addIssue({
        code: 'custom',
        path: ['verifiedBy'],
        message: 'a project note is not a source: name the code system table the code was checked in',
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

/** A reference as a hospital's overrides file may give it (an internal report may have no public link). */
export const referenceBaseSchema = z
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
    pmid: z
      .string()
      .regex(/^\d{1,9}$/, 'must be a bare PubMed id')
      .optional(),
    /** Publisher (or, failing that, index) page, used only when there is no DOI and no PMID. */
    url: z.url().optional(),
    /** The numbers were read in this review (a reference id), not in the paper itself. */
    reviewedIn: nonEmpty.optional(),
    note: nonEmpty.optional(),
  })
  .strict();
/** A published reference: every one has a link a reader can follow. */
export const referenceSchema = referenceBaseSchema.superRefine((ref, ctx) => {
  if (ref.doi === undefined && ref.pmid === undefined && ref.url === undefined) {
    ctx.addIssue({ code: 'custom', path: ['doi'], message: 'every reference needs a DOI, a PMID or a URL' });
  }
});
export type Reference = z.infer<typeof referenceBaseSchema>;

/** The link a reader follows for a reference: DOI, else PubMed, else the recorded URL. */
export function referenceLink(ref: Reference): string | undefined {
  if (ref.doi !== undefined) return `https://doi.org/${ref.doi}`;
  if (ref.pmid !== undefined) return `https://pubmed.ncbi.nlm.nih.gov/${ref.pmid}/`;
  return ref.url;
}

export const referencesFileSchema = z
  .object({ version: semver, references: z.record(nonEmpty, referenceSchema) })
  .strict();

// ---- cutoffs ---------------------------------------------------------------------------------------

/** Field strength of a cutoff's derivation cohort, or of a score. */
export const FIELD_STRENGTHS = ['1.5T', '3T', 'mixed', 'unknown'] as const;
export type FieldStrength = (typeof FIELD_STRENGTHS)[number];

/** The cohort a published cutoff was derived on, as far as the source reports it. */
export const cohortSchema = z
  .object({
    /** Patients the cutoff was derived on. */
    n: z.number().int().positive().optional(),
    /** Patients with the outcome among them. */
    events: z.number().int().nonnegative().optional(),
    /** Study design as the source states it, shown on cards (e.g. "single-centre retrospective cohort"). */
    design: nonEmpty.optional(),
    fieldStrength: z.enum(FIELD_STRENGTHS),
    vendor: nonEmpty.optional(),
    sequence: nonEmpty.optional(),
    /** Where the field strength / vendor / sequence were read (or why they are unknown). */
    fieldStrengthSource: nonEmpty.optional(),
  })
  .strict();
export type Cohort = z.infer<typeof cohortSchema>;

/**
 * How a hospital derived a site-calibrated cutoff (the `vbq calibrate` output). Shape agreed with the
 * site-calibration work: every field optional except kind, cohortSize, events, method and derivedOn.
 */
export const siteCalibrationProvenanceSchema = z
  .object({
    kind: z.literal('site-calibration'),
    site: nonEmpty.optional(),
    cohortSize: z.number().int().positive(),
    events: z.number().int().nonnegative(),
    nonEvents: z.number().int().nonnegative().optional(),
    period: z.object({ start: isoDate, end: isoDate }).strict().optional(),
    fieldStrengthT: z.number().positive().nullable().optional(),
    scanner: z.string().nullable().optional(),
    method: nonEmpty,
    cutoffCi95: z.tuple([z.number().finite(), z.number().finite()]).optional(),
    auc: fraction.optional(),
    aucCi95: z.tuple([fraction, fraction]).optional(),
    sensitivity: fraction.optional(),
    specificity: fraction.optional(),
    derivedOn: isoDate,
    software: nonEmpty.optional(),
    knowledgeBaseVersion: nonEmpty.optional(),
    outcome: nonEmpty.optional(),
    referenceStandard: nonEmpty.optional(),
  })
  .strict();
export type SiteCalibrationProvenance = z.infer<typeof siteCalibrationProvenanceSchema>;

export const cutoffSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be kebab-case'),
    /**
     * screening: detects osteoporosis / low bone mass; procedure-specific: predicts a complication of a
     * procedure; fracture-discrimination: separates patients with and without a fragility fracture
     * (cross-sectional; predicts no procedure's outcome, shown only as context).
     */
    role: z.enum(['screening', 'procedure-specific', 'fracture-discrimination']),
    /** The cutoff a card compares against for these procedure families (one per family, metric, field strength). */
    primaryFor: z.array(z.enum(PROCEDURE_FAMILIES)).min(1).optional(),
    /** The screening cutoff for its region and metric (one per region, metric, field strength). */
    primaryScreening: z.boolean().optional(),
    /**
     * A primary (primaryFor / primaryScreening) used only for scores measured at its cohort's field
     * strength; the primary without this flag is the default for every other score.
     */
    fieldStrengthSpecific: z.boolean().optional(),
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
    /** Site calibration only: the field strength (tesla) of the scores it applies to. */
    fieldStrengthT: z.number().positive().optional(),
    /** Site calibration only: scanner (manufacturer/model substring) of the scores it applies to. */
    scanner: nonEmpty.optional(),
    /** The derivation cohort (required for MRI metrics: field strength decides how a cutoff transfers). */
    cohort: cohortSchema.optional(),
    /** Present on a hospital's site-calibrated cutoff. */
    provenance: siteCalibrationProvenanceSchema.optional(),
    /**
     * How the numbers were checked: primary (read in the paper), review (read in the review named by
     * the reference's reviewedIn), guideline (read in the guideline's text or abstract), unchecked (not
     * yet re-read in any source: listed in the README).
     */
    checkedIn: z.enum(['primary', 'review', 'guideline', 'site', 'unchecked']).optional(),
    population: nonEmpty,
    reference: nonEmpty,
    notes: nonEmpty.optional(),
  })
  .strict()
  .superRefine((cutoff, ctx) => {
    if (
      MRI_METRICS.includes(cutoff.metric) &&
      cutoff.cohort === undefined &&
      cutoff.provenance === undefined &&
      cutoff.fieldStrengthT === undefined &&
      cutoff.scanner === undefined
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['cohort'],
        message: 'MRI cutoffs record their cohort (at least its field strength)',
      });
    }
    if (cutoff.fieldStrengthSpecific === true && (cutoff.cohort?.fieldStrength ?? 'unknown') === 'unknown') {
      ctx.addIssue({
        code: 'custom',
        path: ['fieldStrengthSpecific'],
        message: 'a field-strength-specific primary needs a known cohort field strength',
      });
    }
  });
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
    references: z.record(nonEmpty, referenceBaseSchema).default({}),
  })
  .strict()
  .superRefine((file, ctx) => {
    file.cutoffs.forEach((cutoff, i) => {
      // A site calibration without the field strength or scanner it was derived on would be applied
      // to every score: refuse it rather than silently widen it.
      if (
        cutoff.provenance !== undefined &&
        cutoff.fieldStrengthT === undefined &&
        cutoff.scanner === undefined
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['cutoffs', i, 'fieldStrengthT'],
          message:
            'a site-calibrated cutoff states the field strength (fieldStrengthT) or scanner it applies to',
        });
      }
    });
  });
export type OverridesFile = z.infer<typeof overridesFileSchema>;

// ---- clinical data (for reading EHR data and deciding; each item cited) ----------------------------

const citedNumber = z
  .object({
    value: z.number().finite(),
    unit: nonEmpty.optional(),
    reference: nonEmpty,
    note: nonEmpty.optional(),
  })
  .strict();

export const clinicalDataFileSchema = z
  .object({
    version: semver,
    /** ISCD: Z-scores, not T-scores, for premenopausal women and men under 50. */
    zScoreRule: z
      .object({
        belowExpectedRangeZ: z.number().finite(),
        comparator: z.literal('<='),
        appliesTo: nonEmpty,
        ageBoundaryYears: z.number().int().positive(),
        menopausalStatusUnknown: nonEmpty,
        references: z.array(nonEmpty).min(1),
      })
      .strict(),
    /** WHO T-score classification and the population it applies to. */
    tScoreRule: z
      .object({
        osteoporosisT: z.number().finite(),
        osteopeniaT: z.number().finite(),
        appliesTo: nonEmpty,
        sites: z.array(nonEmpty).min(1),
        references: z.array(nonEmpty).min(1),
      })
      .strict(),
    glucocorticoids: z
      .object({
        exposureThresholdMgPerDay: citedNumber,
        exposureMinDays: citedNumber,
        /** A renewal or refill starting within this many days of the previous supply's end continues the exposure. */
        renewalGapDays: citedNumber,
        systemicRoutesList: z.literal('systemic-routes'),
        nonSystemicRoutesList: z.literal('non-systemic-routes'),
        /** Dose equivalent to prednisone 5 mg, per ingredient. */
        prednisoneEquivalents: z
          .array(
            z
              .object({
                ingredient: nonEmpty,
                rxnormIngredient: nonEmpty.optional(),
                mgEquivalentToPrednisone5mg: z.number().positive(),
              })
              .strict(),
          )
          .min(1),
        conversionReference: nonEmpty,
        note: nonEmpty.optional(),
      })
      .strict(),
    treatments: z
      .array(
        z
          .object({
            ingredient: nonEmpty,
            drugClass: z.enum(['antiresorptive', 'anabolic', 'serm']),
            /** Usual dosing interval in days (daily = 1, weekly = 7, denosumab = 182, zoledronic acid = 365). */
            doseIntervalDays: z.number().int().positive(),
            /** Counted as current treatment this long after the last dose / supply end. */
            currentForDays: z.number().int().positive(),
            /** Overdue after this many days since the last dose (denosumab: rebound risk). */
            overdueAfterDays: z.number().int().positive().optional(),
            reboundRisk: z.boolean().optional(),
            /** Bisphosphonates: not recommended below this eGFR (mL/min/1.73 m2). */
            egfrMin: z.number().positive().optional(),
            references: z.array(nonEmpty).min(1),
            note: nonEmpty.optional(),
          })
          .strict(),
      )
      .min(1),
    renal: z
      .object({
        egfrList: z.literal('egfr'),
        egfrLookbackMonths: citedNumber,
        bisphosphonateEgfrMin: citedNumber,
        ckdStagesThatChangeAdvice: z.array(z.enum(['4', '5', '5D'])).min(1),
        /** The CKD-MBD guideline a card cites when kidney function changes the advice. */
        ckdMbdReference: nonEmpty,
        note: nonEmpty.optional(),
      })
      .strict(),
    /** VBQ rises with age: normative means by decade. */
    vbqNorms: z
      .object({
        metric: z.literal('vbq-l1-l4'),
        byDecade: z
          .array(
            z
              .object({
                ageFrom: z.number().int(),
                ageTo: z.number().int(),
                mean: z.number().positive(),
                sd: z.number().positive(),
              })
              .strict(),
          )
          .min(1),
        n: z.number().int().positive(),
        protocol: nonEmpty,
        reference: nonEmpty,
        note: nonEmpty.optional(),
      })
      .strict(),
    /** What field strength does to VBQ: the shift a card states when a cutoff comes from another field strength. */
    fieldStrengthEffect: z
      .object({
        /** Mean VBQ at 1.5 T minus mean at 3 T (positive: 1.5 T scores run higher). */
        shift15Tvs3T: z.number().finite(),
        /** The rounded figure cards state. */
        statedShift: z.number().finite(),
        means: z
          .object({
            '1.5T': z.object({ mean: z.number(), sd: z.number(), n: z.number().int().optional() }).strict(),
            '3T': z.object({ mean: z.number(), sd: z.number(), n: z.number().int().optional() }).strict(),
          })
          .strict(),
        bandwidth: nonEmpty,
        reference: nonEmpty,
        supporting: z.array(z.object({ reference: nonEmpty, finding: nonEmpty }).strict()),
      })
      .strict(),
    /** Fracture-risk estimates that are not cutoffs (hazard ratios). */
    riskEstimates: z
      .array(
        z
          .object({
            id: nonEmpty,
            predictor: nonEmpty,
            outcome: nonEmpty,
            hazardRatio: z.number().positive(),
            ci95: z.tuple([z.number().positive(), z.number().positive()]),
            per: nonEmpty.optional(),
            adjustedFor: nonEmpty,
            population: nonEmpty,
            fieldStrength: z.enum(FIELD_STRENGTHS).optional(),
            reference: nonEmpty,
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
export type ClinicalDataFile = z.infer<typeof clinicalDataFileSchema>;

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
