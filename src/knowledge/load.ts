/**
 * Loads and validates the knowledge base (cutoffs, decision points, code lists, references) from
 * `cds-services/`, then applies a hospital's overrides file. Any problem stops the service with a
 * message naming the file and the entry, because advice from a half-valid knowledge base is unsafe.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import {
  CARD_TOPICS,
  clinicalDataFileSchema,
  codeListsFileSchema,
  cutoffsFileSchema,
  decisionPointsFileSchema,
  overridesFileSchema,
  PARAMETER_NAMES,
  referencesFileSchema,
  type CaveatName,
  type ClinicalDataFile,
  type CodeEntry,
  type CodeListId,
  type CodeListsFile,
  type Cutoff,
  type DecisionPointsFile,
  type ParameterName,
  type Reference,
} from './schema.js';

export const KNOWLEDGE_FILES = {
  clinicalData: 'clinical-data.json',
  codeLists: 'code-lists.json',
  cutoffs: 'cutoffs.json',
  decisionPoints: 'decision-points.json',
  references: 'references.json',
} as const;

/** A knowledge-base file is missing, unreadable or invalid; `file` and `entry` say where. */
export class KnowledgeBaseError extends Error {
  readonly file: string;
  readonly entry: string | undefined;

  constructor(file: string, entry: string | undefined, problem: string) {
    super(`knowledge base ${file}${entry === undefined ? '' : ` entry ${entry}`}: ${problem}`);
    this.name = 'KnowledgeBaseError';
    this.file = file;
    this.entry = entry;
  }
}

export interface CodeList {
  id: CodeListId;
  title: string;
  description: string;
  codes: CodeEntry[];
}

export interface KnowledgeBase {
  /** One version string naming every file's version and whether overrides apply (shown on cards). */
  version: string;
  codeLists: Record<CodeListId, CodeList>;
  cutoffs: Cutoff[];
  references: Record<string, Reference>;
  decisionPoints: DecisionPointsFile['decisionPoints'];
  parameters: Record<ParameterName, number>;
  caveats: Record<CaveatName, { text: string; references: string[] }>;
  cardTopics: DecisionPointsFile['cardTopics'];
  overrideReasons: DecisionPointsFile['overrideReasons'];
  source: DecisionPointsFile['source'];
  /** Thresholds, tables and rules for reading EHR data and deciding (each cited). */
  clinicalData: Omit<ClinicalDataFile, 'version'>;
  /** Ids of cutoffs the overrides file replaced or added. */
  overriddenCutoffs: string[];
}

export interface LoadKnowledgeBaseOptions {
  /** Directory holding the knowledge-base JSON files (normally `cds-services/`). */
  dir: string;
  /** A hospital's overrides file (`KNOWLEDGE_OVERRIDES_FILE`). */
  overridesFile?: string | undefined;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KnowledgeBaseError(
      file,
      undefined,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new KnowledgeBaseError(file, undefined, `is not valid JSON (${(err as Error).message})`);
  }
}

/** Names the entry an issue path points into, e.g. `cutoffs[3] (vbq-tlif-subsidence-hu-2022)`. */
function describeEntry(data: unknown, issuePath: readonly PropertyKey[]): string {
  const parts: string[] = [];
  let node: unknown = data;
  for (const key of issuePath) {
    if (typeof key === 'number') {
      parts.push(`[${key}]`);
      node = Array.isArray(node) ? node[key] : undefined;
      const id = node !== null && typeof node === 'object' ? (node as Record<string, unknown>).id : undefined;
      const code =
        node !== null && typeof node === 'object' ? (node as Record<string, unknown>).code : undefined;
      if (typeof id === 'string') parts.push(` (${id})`);
      else if (typeof code === 'string') parts.push(` (${code})`);
    } else {
      parts.push(parts.length === 0 ? String(key) : `.${String(key)}`);
      node =
        node !== null && typeof node === 'object'
          ? (node as Record<string, unknown>)[String(key)]
          : undefined;
    }
  }
  return parts.join('') || '(root)';
}

function parseFile<S extends z.ZodType>(schema: S, file: string): z.output<S> {
  const data = readJson(file);
  const result = schema.safeParse(data);
  if (!result.success) {
    // Every problem at once, one per line, each naming its entry: a hospital editing an overrides
    // file should not have to fix them one start at a time.
    const lines = result.error.issues.map((issue) => {
      const entry = describeEntry(data, issue.path);
      return `${entry === undefined ? '' : `entry ${entry}: `}${issue.message}`;
    });
    const first = result.error.issues[0];
    const entry = first === undefined ? undefined : describeEntry(data, first.path);
    throw new KnowledgeBaseError(
      file,
      lines.length === 1 ? entry : undefined,
      lines.length === 1
        ? (first?.message ?? 'invalid')
        : `${lines.length} problems:\n  ${lines.join('\n  ')}`,
    );
  }
  return result.data;
}

function checkCutoffs(
  cutoffs: Cutoff[],
  references: Record<string, Reference>,
  fileOf: (id: string) => string,
): void {
  const seen = new Set<string>();
  const primaries = new Map<string, string>();
  for (const cutoff of cutoffs) {
    const file = fileOf(cutoff.id);
    if (seen.has(cutoff.id)) throw new KnowledgeBaseError(file, `cutoff ${cutoff.id}`, 'duplicate id');
    seen.add(cutoff.id);
    if (references[cutoff.reference] === undefined) {
      throw new KnowledgeBaseError(file, `cutoff ${cutoff.id}`, `unknown reference "${cutoff.reference}"`);
    }
    if (cutoff.primaryScreening === true && cutoff.role !== 'screening') {
      throw new KnowledgeBaseError(file, `cutoff ${cutoff.id}`, 'primaryScreening requires role screening');
    }
    if (cutoff.primaryFor !== undefined && cutoff.role !== 'procedure-specific') {
      throw new KnowledgeBaseError(
        file,
        `cutoff ${cutoff.id}`,
        'primaryFor requires role procedure-specific',
      );
    }
    // One primary per role and variant: the default one, one per cohort field strength for
    // field-strength-specific primaries, and one per site-calibrated field strength / scanner.
    const cohortVariant =
      cutoff.fieldStrengthSpecific === true ? (cutoff.cohort?.fieldStrength ?? '?') : 'default';
    const variant = `${cohortVariant}|${cutoff.fieldStrengthT ?? '*'}|${cutoff.scanner ?? '*'}`;
    const keys = [
      ...(cutoff.primaryFor ?? []).map((f) => `procedure|${f}|${cutoff.metric}|${variant}`),
      ...(cutoff.primaryScreening === true ? [`screening|${cutoff.region}|${cutoff.metric}|${variant}`] : []),
    ];
    for (const key of keys) {
      const other = primaries.get(key);
      if (other !== undefined) {
        throw new KnowledgeBaseError(
          file,
          `cutoff ${cutoff.id}`,
          `is a second primary cutoff next to ${other} (${key})`,
        );
      }
      primaries.set(key, cutoff.id);
    }
  }
}

/**
 * Loads, validates and cross-checks the knowledge base; applies the overrides file when given.
 * Throws `KnowledgeBaseError` naming the file and entry on any problem.
 */
export function loadKnowledgeBase(options: LoadKnowledgeBaseOptions): KnowledgeBase {
  const file = (name: string): string => path.join(options.dir, name);
  const codeListsPath = file(KNOWLEDGE_FILES.codeLists);
  const cutoffsPath = file(KNOWLEDGE_FILES.cutoffs);
  const decisionsPath = file(KNOWLEDGE_FILES.decisionPoints);
  const referencesPath = file(KNOWLEDGE_FILES.references);

  const codeListsFile: CodeListsFile = parseFile(codeListsFileSchema, codeListsPath);
  const cutoffsFile = parseFile(cutoffsFileSchema, cutoffsPath);
  const decisions = parseFile(decisionPointsFileSchema, decisionsPath);
  const referencesFile = parseFile(referencesFileSchema, referencesPath);
  const clinicalPath = file(KNOWLEDGE_FILES.clinicalData);
  const clinical = parseFile(clinicalDataFileSchema, clinicalPath);

  const references: Record<string, Reference> = { ...referencesFile.references };
  const cutoffs: Cutoff[] = [...cutoffsFile.cutoffs];
  const origin = new Map<string, string>(cutoffs.map((c) => [c.id, cutoffsPath]));
  const overridden: string[] = [];
  let overridesVersion: string | undefined;

  if (options.overridesFile !== undefined && options.overridesFile !== '') {
    const overrides = parseFile(overridesFileSchema, options.overridesFile);
    overridesVersion = overrides.version ?? 'unversioned';
    Object.assign(references, overrides.references);
    for (const cutoff of overrides.cutoffs) {
      const index = cutoffs.findIndex((c) => c.id === cutoff.id);
      if (index >= 0) cutoffs[index] = cutoff;
      else cutoffs.push(cutoff);
      origin.set(cutoff.id, options.overridesFile);
      overridden.push(cutoff.id);
    }
  }

  checkCutoffs(cutoffs, references, (id) => origin.get(id) ?? cutoffsPath);

  for (const point of decisions.decisionPoints) {
    for (const ref of point.references) {
      if (references[ref] === undefined) {
        throw new KnowledgeBaseError(
          decisionsPath,
          `decisionPoints ${point.id}`,
          `unknown reference "${ref}"`,
        );
      }
    }
  }
  const parameters = {} as Record<ParameterName, number>;
  for (const name of PARAMETER_NAMES) {
    const parameter = decisions.parameters[name];
    if (parameter === undefined) throw new KnowledgeBaseError(decisionsPath, `parameters.${name}`, 'missing');
    if (references[parameter.reference] === undefined) {
      throw new KnowledgeBaseError(
        decisionsPath,
        `parameters.${name}`,
        `unknown reference "${parameter.reference}"`,
      );
    }
    parameters[name] = parameter.value;
  }
  for (const [name, caveat] of Object.entries(decisions.caveats)) {
    for (const ref of caveat.references) {
      if (references[ref] === undefined) {
        throw new KnowledgeBaseError(decisionsPath, `caveats.${name}`, `unknown reference "${ref}"`);
      }
    }
  }
  const { version: clinicalVersion, ...clinicalData } = clinical;
  for (const ref of clinicalReferences(clinical)) {
    if (references[ref.id] === undefined) {
      throw new KnowledgeBaseError(clinicalPath, ref.where, `unknown reference "${ref.id}"`);
    }
  }
  for (const [where, listId] of [
    ['glucocorticoids.systemicRoutesList', clinical.glucocorticoids.systemicRoutesList],
    ['glucocorticoids.nonSystemicRoutesList', clinical.glucocorticoids.nonSystemicRoutesList],
    ['renal.egfrList', clinical.renal.egfrList],
  ] as const) {
    if (codeListsFile.codeLists[listId] === undefined) {
      throw new KnowledgeBaseError(clinicalPath, where, `unknown code list "${listId}"`);
    }
  }
  if (decisions.cardTopics.length !== CARD_TOPICS.length) {
    throw new KnowledgeBaseError(decisionsPath, 'cardTopics', 'must list each card topic exactly once');
  }

  const codeLists = {} as Record<CodeListId, CodeList>;
  for (const [id, list] of Object.entries(codeListsFile.codeLists) as [CodeListId, CodeList][]) {
    codeLists[id] = { id, title: list.title, description: list.description, codes: list.codes };
  }

  const version = [
    `code-lists ${codeListsFile.version}`,
    `cutoffs ${cutoffsFile.version}`,
    `decision-points ${decisions.version}`,
    `references ${referencesFile.version}`,
    `clinical-data ${clinicalVersion}`,
    ...(overridesVersion === undefined ? [] : [`overrides ${overridesVersion}`]),
  ].join('; ');

  return {
    version,
    codeLists,
    cutoffs,
    references,
    decisionPoints: decisions.decisionPoints,
    parameters,
    caveats: decisions.caveats as KnowledgeBase['caveats'],
    cardTopics: decisions.cardTopics,
    overrideReasons: decisions.overrideReasons,
    source: decisions.source,
    clinicalData,
    overriddenCutoffs: overridden,
  };
}

/** Every reference id the clinical-data file cites, with where, for the cross-check at load. */
function clinicalReferences(c: ClinicalDataFile): { id: string; where: string }[] {
  return [
    ...c.zScoreRule.references.map((id) => ({ id, where: 'zScoreRule' })),
    ...c.tScoreRule.references.map((id) => ({ id, where: 'tScoreRule' })),
    {
      id: c.glucocorticoids.exposureThresholdMgPerDay.reference,
      where: 'glucocorticoids.exposureThresholdMgPerDay',
    },
    { id: c.glucocorticoids.exposureMinDays.reference, where: 'glucocorticoids.exposureMinDays' },
    { id: c.glucocorticoids.conversionReference, where: 'glucocorticoids.conversionReference' },
    { id: c.glucocorticoids.renewalGapDays.reference, where: 'glucocorticoids.renewalGapDays' },
    ...c.treatments.flatMap((t) => t.references.map((id) => ({ id, where: `treatments ${t.ingredient}` }))),
    { id: c.renal.egfrLookbackMonths.reference, where: 'renal.egfrLookbackMonths' },
    { id: c.renal.bisphosphonateEgfrMin.reference, where: 'renal.bisphosphonateEgfrMin' },
    { id: c.renal.ckdMbdReference, where: 'renal.ckdMbdReference' },
    { id: c.vbqNorms.reference, where: 'vbqNorms' },
    { id: c.fieldStrengthEffect.reference, where: 'fieldStrengthEffect' },
    ...c.fieldStrengthEffect.supporting.map((s) => ({
      id: s.reference,
      where: 'fieldStrengthEffect.supporting',
    })),
    ...c.riskEstimates.map((r) => ({ id: r.reference, where: `riskEstimates ${r.id}` })),
  ];
}
