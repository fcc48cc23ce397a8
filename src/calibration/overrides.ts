/**
 * The overrides document a calibration produces (the format `KNOWLEDGE_OVERRIDES_FILE` loads): one cutoff
 * per accepted stratum, tagged with its field strength and scanner so the service uses it only for
 * matching scores, each carrying a `provenance` object that says how, on what and when it was derived.
 */
import { z } from 'zod';
import type { KnowledgeBase } from '../knowledge/index.js';
import { cutoffSchema, referenceBaseSchema, type Cutoff, type Reference } from '../knowledge/schema.js';
import type { CalibrationResult, StratumResult } from './calibrate.js';
import type { CalibrationOutcome } from './outcomes.js';

const nonEmpty = z.string().min(1);
const fraction = z.number().min(0).max(1);
const isoDate = z.iso.date();
const interval = z.tuple([z.number().finite(), z.number().finite()]);

/** The provenance of a site-calibrated cutoff (the shape the overrides schema accepts). */
export const provenanceSchema = z
  .object({
    kind: z.literal('site-calibration'),
    site: nonEmpty,
    cohortSize: z.number().int().positive(),
    events: z.number().int().nonnegative(),
    nonEvents: z.number().int().nonnegative(),
    period: z.object({ start: isoDate, end: isoDate }).strict(),
    fieldStrengthT: z.number().positive().nullable(),
    scanner: nonEmpty.nullable(),
    method: nonEmpty,
    cutoffCi95: interval,
    auc: fraction,
    aucCi95: z.tuple([fraction, fraction]),
    sensitivity: fraction,
    specificity: fraction,
    derivedOn: isoDate,
    software: nonEmpty,
    knowledgeBaseVersion: nonEmpty,
    outcome: nonEmpty,
    referenceStandard: nonEmpty,
  })
  .strict();
export type Provenance = z.infer<typeof provenanceSchema>;

export type CalibratedCutoff = Cutoff & { provenance: Provenance };

/** Our view of the overrides file we write: the knowledge schema's cutoffs plus their provenance. */
export const calibrationOverridesSchema = z
  .object({
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    description: nonEmpty,
    cutoffs: z.array(cutoffSchema.safeExtend({ provenance: provenanceSchema })).min(1),
    // A site's own calibration report has no DOI: override references may carry no link (as in the knowledge schema).
    references: z.record(nonEmpty, referenceBaseSchema),
  })
  .strict();
export type CalibrationOverrides = z.infer<typeof calibrationOverridesSchema>;

export interface OverridesContext {
  kb: KnowledgeBase;
  outcome: CalibrationOutcome;
  site: string;
  /** The day the cutoffs were derived (UTC date). */
  derivedOn: Date;
  /** Name and version of this software, e.g. "spine-bone-health-cds 0.1.0". */
  software: string;
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
}

/** "Osteoporosis on DXA" -> "osteoporosis on DXA" (acronyms keep their case). */
export function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}

const r3 = (v: number): number => Math.round(v * 1000) / 1000;
const r4 = (v: number): number => Math.round(v * 10000) / 10000;

export function methodText(result: CalibrationResult): string {
  return (
    `ROC analysis of ${result.metric} against ${result.outcome}; Youden-optimal cutoff (midpoint between ` +
    `adjacent observed scores, test-positive when score >= cutoff); AUC 95% CI by DeLong et al. 1988, ` +
    `cross-checked by bootstrap; cutoff 95% CI by stratified percentile bootstrap ` +
    `(${result.settings.replicates} replicates, Mersenne Twister seed ${result.settings.seed})`
  );
}

export function cutoffId(result: CalibrationResult, s: StratumResult): string {
  const fs = s.key.fieldStrengthT === null ? 'unknown' : String(s.key.fieldStrengthT).replace('.', '-');
  return [
    `site-${result.metric}-${result.outcome}-${fs}t`,
    ...(s.key.scanner ? [slug(s.key.scanner)] : []),
  ].join('-');
}

/**
 * Builds the overrides document from the accepted strata. Scanner-specific cutoffs come first: the
 * service takes the first calibrated cutoff that matches a score, and the more specific one should win.
 */
export function buildOverrides(result: CalibrationResult, ctx: OverridesContext): CalibrationOverrides {
  const accepted = result.strata.filter((s) => s.status === 'accepted' && s.analysis !== null);
  if (accepted.length === 0) throw new RangeError('no accepted stratum: there is nothing to write');
  const day = ctx.derivedOn.toISOString().slice(0, 10);
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const referenceKey = `site-calibration-${slug(ctx.site)}-${day}`;
  const region = result.metric === 'c-vbq' ? 'cervical' : 'lumbar';
  const families = ctx.outcome.cutoff.procedureFamilies[region];
  const named = families.filter((f): f is Exclude<typeof f, 'any'> => f !== 'any');
  const ordered = [...accepted].sort(
    (a, b) => Number(b.key.scanner !== null) - Number(a.key.scanner !== null),
  );

  const cutoffs = ordered.map((s): CalibratedCutoff => {
    const a = s.analysis!;
    const where = `${s.key.fieldStrengthT} T${s.key.scanner ? ` (${s.key.scanner})` : ''}`;
    const cutoff: CalibratedCutoff = {
      id: cutoffId(result, s),
      role: ctx.outcome.cutoff.role,
      ...(ctx.outcome.cutoff.primary && ctx.outcome.cutoff.role === 'procedure-specific' && named.length > 0
        ? { primaryFor: named }
        : {}),
      ...(ctx.outcome.cutoff.primary && ctx.outcome.cutoff.role === 'screening'
        ? { primaryScreening: true }
        : {}),
      metric: result.metric,
      region,
      procedureFamilies: families,
      procedureLabel: ctx.outcome.cutoff.procedureLabel,
      outcome: ctx.outcome.cutoff.outcome,
      threshold: r4(a.cutoff.threshold),
      comparator: a.cutoff.comparator,
      sensitivity: r3(a.atCutoff.sensitivity),
      specificity: r3(a.atCutoff.specificity),
      auc: r3(a.auc.auc),
      ...(a.atCutoff.ppv === null ? {} : { ppv: r3(a.atCutoff.ppv) }),
      ...(a.atCutoff.npv === null ? {} : { npv: r3(a.atCutoff.npv) }),
      fieldStrengthT: s.key.fieldStrengthT!,
      ...(s.key.scanner === null ? {} : { scanner: s.key.scanner }),
      population:
        `${ctx.site}: ${s.n} patients scanned at ${where}, ${s.events} with ${lowerFirst(result.outcomeTitle)} ` +
        `(${ctx.outcome.referenceStandard}), ${s.period.start} to ${s.period.end}`,
      reference: referenceKey,
      notes:
        `Site-calibrated: Youden cutoff ${r3(a.cutoff.threshold)} (bootstrap 95% CI ${r3(a.cutoff.ci95[0])}-${r3(a.cutoff.ci95[1])}), ` +
        `AUC ${r3(a.auc.auc)} (DeLong 95% CI ${r3(a.auc.ci95[0])}-${r3(a.auc.ci95[1])}); applies only to scores from ${where}`,
      provenance: {
        kind: 'site-calibration',
        site: ctx.site,
        cohortSize: s.n,
        events: s.events,
        nonEvents: s.nonEvents,
        period: { start: s.period.start, end: s.period.end },
        fieldStrengthT: s.key.fieldStrengthT,
        scanner: s.key.scanner,
        method: methodText(result),
        cutoffCi95: [r4(a.cutoff.ci95[0]), r4(a.cutoff.ci95[1])],
        auc: r4(a.auc.auc),
        aucCi95: [r4(a.auc.ci95[0]), r4(a.auc.ci95[1])],
        sensitivity: r4(a.atCutoff.sensitivity),
        specificity: r4(a.atCutoff.specificity),
        derivedOn: day,
        software: ctx.software,
        knowledgeBaseVersion: ctx.kb.version,
        outcome: result.outcome,
        referenceStandard: ctx.outcome.referenceStandard,
      },
    };
    return cutoff;
  });
  const reference: Reference = {
    authors: ctx.site,
    short: `${ctx.site} site calibration`,
    year: y,
    title: `Site calibration of ${result.metric} cutoffs for ${lowerFirst(result.outcomeTitle)} on the site's own scanners`,
    journal: 'internal report (vbq calibrate)',
  };
  const doc: CalibrationOverrides = {
    version: `${y}.${m}.${d}`,
    description:
      `Site-calibrated ${result.metric} cutoffs for ${lowerFirst(result.outcomeTitle)} at ${ctx.site}, derived ${day} ` +
      `by vbq calibrate (${ctx.software}) on knowledge base ${ctx.kb.version}. Each cutoff applies only to scores from ` +
      `its field strength (and scanner). Review the report before loading it with KNOWLEDGE_OVERRIDES_FILE.`,
    cutoffs,
    references: { [referenceKey]: reference },
  };
  // Our own output must satisfy our schema (and so the knowledge schema's cutoff shape).
  return calibrationOverridesSchema.parse(doc);
}
