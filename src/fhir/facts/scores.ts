/** Bone-quality score facts (VBQ, EBQ, S1 VBQ, C-VBQ): the latest valid score per metric and region. */
import { BONE_QUALITY_SYSTEM } from '../../knowledge/index.js';
import { SCORE_METRICS, type ScoreMetric } from '../../knowledge/schema.js';
import type { ReadComponent, ReadObservation } from '../read/resources.js';
import { latestFirstBySource, monthsBetween, VALID_OBSERVATION_STATUS, type FactContext } from './common.js';

export type ScoreRegion = 'lumbar' | 'cervical';

/** The latest valid bone-quality score of one metric (and region, for EBQ). */
export interface BoneQualityScoreFact {
  metric: ScoreMetric;
  region: ScoreRegion;
  value: number;
  source: string;
  date: string;
  ageMonths: number;
  fieldStrengthT: number | undefined;
  sequence: string | undefined;
  scanner: string | undefined;
  levelsUsed: string | undefined;
  csfLevel: string | undefined;
  excludedLevels: string | undefined;
  /** Observation status (final, amended, corrected; preliminary in `preliminaryScores`). */
  status?: string;
}

/** A bone-quality Observation that cannot be used, with why. */
export interface ExcludedScoreFact {
  metric: ScoreMetric;
  value: number | undefined;
  source: string;
  date: string | undefined;
  reasons: string[];
}

export function bqComponent(obs: ReadObservation, code: string): ReadComponent | undefined {
  return obs.components.find((c) =>
    c.code?.coding.some((cd) => cd.system === BONE_QUALITY_SYSTEM && cd.code === code),
  );
}

export function bqMetric(obs: ReadObservation): ScoreMetric | undefined {
  for (const coding of obs.code?.coding ?? []) {
    if (coding.system !== BONE_QUALITY_SYSTEM) continue;
    const metric = SCORE_METRICS.find((m) => m === coding.code);
    if (metric !== undefined) return metric;
  }
  return undefined;
}

/**
 * An Observation's bone-quality components by code, the first component naming each code (as
 * bqComponent finds it): a score reads up to nine components, and scanning for each was a large share
 * of extractScores.
 */
type Components = ReadonlyMap<string, ReadComponent>;

function componentsOf(obs: ReadObservation): Components {
  const byCode = new Map<string, ReadComponent>();
  for (const c of obs.components) {
    for (const cd of c.code?.coding ?? []) {
      if (cd.system === BONE_QUALITY_SYSTEM && cd.code !== undefined && !byCode.has(cd.code))
        byCode.set(cd.code, c);
    }
  }
  return byCode;
}

function scoreRegion(metric: ScoreMetric, obs: ReadObservation, components: Components): ScoreRegion {
  if (metric === 'c-vbq') return 'cervical';
  if (metric !== 'ebq') return 'lumbar';
  const cervicalLevel = obs.components.some((c) =>
    c.code?.coding.some((cd) => cd.system === BONE_QUALITY_SYSTEM && /^si-c\d$/.test(cd.code ?? '')),
  );
  const csfLevel = components.get('csf-level')?.valueString;
  return cervicalLevel || /^c/i.test(csfLevel ?? '') ? 'cervical' : 'lumbar';
}

function exclusionReasons(
  ctx: FactContext,
  obs: ReadObservation,
  metric: ScoreMetric,
  components: Components,
): string[] {
  const reasons: string[] = [];
  const value = obs.valueQuantity?.value;
  if (obs.status === undefined || !VALID_OBSERVATION_STATUS.has(obs.status)) {
    reasons.push(`status ${obs.status ?? 'missing'}`);
  }
  if (value === undefined) reasons.push('no numeric value');
  if (obs.date === undefined) reasons.push('no measurement date');
  const sequence = components.get('sequence')?.valueString;
  if (sequence !== undefined && /flair/i.test(sequence)) {
    reasons.push(`${sequence} sequence: FLAIR invalidates the CSF reference`);
  } else if (sequence !== undefined && !/t1/i.test(sequence)) {
    reasons.push(`${sequence} sequence: VBQ needs a T1-weighted image`);
  }
  if (components.get('contrast-enhanced')?.valueBoolean === true) {
    reasons.push('contrast-enhanced image: contrast invalidates the CSF reference');
  }
  const levelsUsed = components.get('levels-used')?.valueString;
  if (metric === 'vbq-l1-l4' && levelsUsed !== undefined) {
    const count = levelsUsed.split(',').filter((l) => l.trim() !== '').length;
    if (count < ctx.kb.parameters.minLumbarLevels) {
      reasons.push(
        `only ${count} valid lumbar level(s) (${levelsUsed}); at least ${ctx.kb.parameters.minLumbarLevels} needed`,
      );
    }
  }
  return reasons;
}

export interface ScoreFacts {
  scores: BoneQualityScoreFact[];
  excluded: ExcludedScoreFact[];
  /**
   * The latest preliminary score per metric and region that would otherwise be valid: shown as
   * preliminary (never as a result), and still listed in `excluded` with reason "status preliminary".
   */
  preliminary: BoneQualityScoreFact[];
  /** Valid scores older than the latest of their metric and region, latest first: history, never deciding. */
  earlier: BoneQualityScoreFact[];
}

function latestPerMetric(list: BoneQualityScoreFact[]): BoneQualityScoreFact[] {
  // The latest per metric and region; ties broken by id so the choice is deterministic.
  const sorted = [...list].sort(latestFirstBySource);
  const latest = new Map<string, BoneQualityScoreFact>();
  for (const score of sorted) {
    const key = `${score.metric}|${score.region}`;
    if (!latest.has(key)) latest.set(key, score);
  }
  return [...latest.values()];
}

export function extractScores(ctx: FactContext, observations: readonly ReadObservation[]): ScoreFacts {
  const valid: BoneQualityScoreFact[] = [];
  const preliminary: BoneQualityScoreFact[] = [];
  const excluded: ExcludedScoreFact[] = [];
  for (const obs of observations) {
    const metric = bqMetric(obs);
    if (metric === undefined) continue;
    // Entered in error: the value never existed; it is neither a result nor a reason to mention.
    if (obs.status === 'entered-in-error') continue;
    const value = obs.valueQuantity?.value;
    const date = obs.date;
    const components = componentsOf(obs);
    const reasons = exclusionReasons(ctx, obs, metric, components);
    const component = (code: string): string | undefined => components.get(code)?.valueString;
    const fact = (v: number, d: string): BoneQualityScoreFact => ({
      metric,
      region: scoreRegion(metric, obs, components),
      value: v,
      source: obs.ref,
      date: d,
      ageMonths: monthsBetween(d, ctx.now),
      fieldStrengthT: components.get('field-strength')?.valueQuantity?.value,
      sequence: component('sequence'),
      scanner: component('scanner'),
      levelsUsed: component('levels-used'),
      csfLevel: component('csf-level'),
      excludedLevels: component('excluded-levels'),
      status: obs.status,
    });
    if (reasons.length > 0 || value === undefined || date === undefined) {
      excluded.push({ metric, value, source: obs.ref, date, reasons });
      const onlyPreliminary = reasons.length === 1 && obs.status === 'preliminary';
      if (onlyPreliminary && value !== undefined && date !== undefined) preliminary.push(fact(value, date));
      continue;
    }
    valid.push(fact(value, date));
  }
  excluded.sort(latestFirstBySource);
  const latest = latestPerMetric(valid);
  const earlier = valid.filter((v) => !latest.includes(v)).sort(latestFirstBySource);
  return { scores: latest, excluded, preliminary: latestPerMetric(preliminary), earlier };
}
