/**
 * Required value-set bindings and reference target types, which `@medplum/core` validateResource does
 * not check. Walks a resource
 * alongside a StructureDefinition snapshot (recursing into complex data types through their base
 * definitions and into slices matched by pattern/value discriminators) and checks every value bound with
 * strength `required` against an enumerable value set. Pure: definitions come in through `BindingContext`.
 */
import type { TerminologyIndex } from './terminology.js';

export interface ElementDefinitionLike {
  id?: string;
  path: string;
  sliceName?: string;
  type?: { code?: string; targetProfile?: string[] }[];
  binding?: { strength?: string; valueSet?: string };
  slicing?: { discriminator?: { type?: string; path?: string }[] };
  [key: string]: unknown;
}

export interface StructureDefinitionLike {
  resourceType: 'StructureDefinition';
  url: string;
  type?: string;
  kind?: string;
  snapshot?: { element?: ElementDefinitionLike[] };
}

export interface BindingIssue {
  /** `binding`: a code outside a required value set; `reference`: a reference to a type not allowed. */
  kind: 'binding' | 'reference';
  /** Location in the resource, e.g. `Observation.component[2].code`. */
  path: string;
  message: string;
  /** The value set (binding) or the allowed target profiles (reference). */
  rule: string;
}

export interface BindingContext {
  /** Base definition of a FHIR type (`Quantity`, `Observation`, ...). */
  typeDefinition(type: string): StructureDefinitionLike | undefined;
  /** Resource type constrained by a profile URL (for reference targets that are profiles). */
  profileType?(url: string): string | undefined;
  terminology: TerminologyIndex;
}

interface IndexedDefinition {
  byId: Map<string, ElementDefinitionLike>;
  /** Slices per sliced element id. */
  slices: Map<string, ElementDefinitionLike[]>;
  /** Element ids that have children in this snapshot. */
  parents: Set<string>;
}

const indexCache = new WeakMap<StructureDefinitionLike, IndexedDefinition>();

function indexDefinition(sd: StructureDefinitionLike): IndexedDefinition {
  const cached = indexCache.get(sd);
  if (cached) return cached;
  const byId = new Map<string, ElementDefinitionLike>();
  const slices = new Map<string, ElementDefinitionLike[]>();
  const parents = new Set<string>();
  for (const ed of sd.snapshot?.element ?? []) {
    const id = ed.id ?? ed.path;
    byId.set(id, ed);
    const dot = id.lastIndexOf('.');
    if (dot > 0) parents.add(id.slice(0, dot));
    if (ed.sliceName && id.endsWith(`:${ed.sliceName}`)) {
      const base = id.slice(0, id.length - ed.sliceName.length - 1);
      const list = slices.get(base) ?? [];
      list.push(ed);
      slices.set(base, list);
    }
  }
  const indexed = { byId, slices, parents };
  indexCache.set(sd, indexed);
  return indexed;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True when `value` contains everything in `pattern` (FHIR pattern[x] semantics). */
export function deepIncludes(value: unknown, pattern: unknown): boolean {
  if (Array.isArray(pattern)) {
    if (!Array.isArray(value)) return false;
    return pattern.every((p) => value.some((v) => deepIncludes(v, p)));
  }
  if (isRecord(pattern)) {
    if (!isRecord(value)) return false;
    return Object.entries(pattern).every(([k, p]) => deepIncludes(value[k], p));
  }
  return value === pattern;
}

function patternOf(ed: ElementDefinitionLike): unknown {
  for (const [key, value] of Object.entries(ed)) {
    if (key.startsWith('pattern') || key.startsWith('fixed')) return value;
  }
  return undefined;
}

function valuesAt(value: unknown, path: string): unknown[] {
  if (path === '$this' || path === '') return [value];
  let current: unknown[] = [value];
  for (const part of path.split('.')) {
    const next: unknown[] = [];
    for (const item of current) {
      if (!isRecord(item)) continue;
      const child = item[part];
      if (Array.isArray(child)) next.push(...child);
      else if (child !== undefined) next.push(child);
    }
    current = next;
  }
  return current;
}

/** The slice (if any) a repetition belongs to, by pattern/value discriminators. */
function matchSlice(
  item: unknown,
  sliced: ElementDefinitionLike,
  candidates: ElementDefinitionLike[],
  def: IndexedDefinition,
): ElementDefinitionLike | undefined {
  const discriminators = sliced.slicing?.discriminator ?? [];
  if (discriminators.length === 0) return undefined;
  if (!discriminators.every((d) => d.type === 'pattern' || d.type === 'value')) return undefined;
  return candidates.find((slice) =>
    discriminators.every((d) => {
      const path = d.path ?? '$this';
      const sliceId = slice.id ?? slice.path;
      const target = path === '$this' ? slice : def.byId.get(`${sliceId}.${path}`);
      const pattern = target ? patternOf(target) : undefined;
      if (pattern === undefined) return false;
      return valuesAt(item, path).some((v) => deepIncludes(v, pattern));
    }),
  );
}

function baseTypeOf(profileUrl: string): string | undefined {
  const prefix = 'http://hl7.org/fhir/StructureDefinition/';
  return profileUrl.startsWith(prefix) ? profileUrl.slice(prefix.length) : undefined;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Finds the element for a JSON key, handling choice types (`valueQuantity` -> `value[x]` + Quantity). */
function elementFor(
  def: IndexedDefinition,
  parentId: string,
  key: string,
): { id: string; ed: ElementDefinitionLike; type: string | undefined } | undefined {
  const direct = def.byId.get(`${parentId}.${key}`);
  if (direct) return { id: `${parentId}.${key}`, ed: direct, type: direct.type?.[0]?.code };
  for (let i = key.length - 1; i > 0; i--) {
    const suffix = key.slice(i);
    if (!/^[A-Z]/.test(suffix)) continue;
    const choiceId = `${parentId}.${key.slice(0, i)}[x]`;
    const choice = def.byId.get(choiceId);
    if (!choice) continue;
    const type = choice.type?.find((ty) => ty.code && capitalize(ty.code) === suffix)?.code;
    if (type) return { id: choiceId, ed: choice, type };
  }
  // A slice whose children were not unfolded in the snapshot inherits the unsliced element's children.
  const unsliced = parentId.replace(/:[^.]+/g, '');
  return unsliced !== parentId ? elementFor(def, unsliced, key) : undefined;
}

const PRIMITIVE = /^[a-z]/;

class BindingWalker {
  readonly issues: BindingIssue[] = [];

  constructor(private readonly ctx: BindingContext) {}

  walkResource(resource: Record<string, unknown>, sd: StructureDefinitionLike, path: string): void {
    const def = indexDefinition(sd);
    const rootId = sd.snapshot?.element?.[0]?.id ?? sd.type ?? '';
    this.walkObject(resource, def, rootId, path);
  }

  private walkObject(
    obj: Record<string, unknown>,
    def: IndexedDefinition,
    parentId: string,
    path: string,
  ): void {
    for (const [key, raw] of Object.entries(obj)) {
      if (key === 'resourceType' || key.startsWith('_')) continue;
      const found = elementFor(def, parentId, key);
      if (!found) continue;
      const items = Array.isArray(raw) ? raw : [raw];
      const candidates = def.slices.get(found.id);
      items.forEach((item, i) => {
        const itemPath = Array.isArray(raw) ? `${path}.${key}[${i}]` : `${path}.${key}`;
        let id = found.id;
        let ed = found.ed;
        if (candidates) {
          const slice = matchSlice(item, found.ed, candidates, def);
          if (slice) {
            id = slice.id ?? id;
            ed = slice;
          }
        }
        this.visitValue(item, ed, found.type, def, id, itemPath);
      });
    }
  }

  private visitValue(
    value: unknown,
    ed: ElementDefinitionLike,
    type: string | undefined,
    def: IndexedDefinition,
    id: string,
    path: string,
  ): void {
    if (ed.binding?.strength === 'required' && ed.binding.valueSet) {
      this.checkBinding(value, type, ed.binding.valueSet, path);
    }
    if (type === 'Reference' && isRecord(value)) {
      const targets = ed.type?.find((t) => t.code === 'Reference')?.targetProfile;
      if (targets && targets.length > 0) this.checkReference(value, targets, path);
    }
    if (!isRecord(value)) return;
    if (def.parents.has(id)) {
      this.walkObject(value, def, id, path);
      return;
    }
    if (!type || PRIMITIVE.test(type)) return;
    if (type === 'Resource' || type === 'DomainResource') {
      const rt = value['resourceType'];
      const sd = typeof rt === 'string' ? this.ctx.typeDefinition(rt) : undefined;
      if (sd) this.walkResource(value, sd, path);
      return;
    }
    const typeSd = this.ctx.typeDefinition(type);
    if (typeSd) {
      const typeDef = indexDefinition(typeSd);
      this.walkObject(value, typeDef, typeSd.snapshot?.element?.[0]?.id ?? type, path);
    }
  }

  /**
   * Checks the resource type named by `reference` (relative, absolute or versioned) and `type` against
   * the allowed targets. Contained (`#id`), `urn:` and identifier-only references carry no type to check
   * beyond `type`.
   */
  private checkReference(value: Record<string, unknown>, targets: string[], path: string): void {
    const allowed = new Set<string>();
    for (const target of targets) {
      const type = this.ctx.profileType?.(target) ?? baseTypeOf(target);
      // A target we cannot resolve (or Resource itself) admits anything.
      if (!type || type === 'Resource') return;
      allowed.add(type);
    }
    const named: string[] = [];
    if (typeof value['type'] === 'string') named.push(value['type']);
    const ref = value['reference'];
    if (typeof ref === 'string' && !ref.startsWith('#') && !ref.startsWith('urn:')) {
      const match =
        /(?:^|\/)([A-Z][A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/.exec(ref);
      if (match?.[1]) named.push(match[1]);
    }
    for (const type of named) {
      if (!allowed.has(type)) {
        this.issues.push({
          kind: 'reference',
          path,
          message: `reference to ${type} is not allowed here (allowed: ${[...allowed].join(', ')})`,
          rule: targets.join(' | '),
        });
        return;
      }
    }
  }

  private checkBinding(value: unknown, type: string | undefined, valueSet: string, path: string): void {
    const matcher = this.ctx.terminology.matcher(valueSet);
    if (!matcher) return;
    const fail = (message: string) => this.issues.push({ kind: 'binding', path, message, rule: valueSet });
    if (typeof value === 'string') {
      if (!matcher.contains(undefined, value))
        fail(`code '${value}' is not in the required value set ${valueSet}`);
      return;
    }
    if (!isRecord(value)) return;
    const codingOk = (c: unknown) =>
      isRecord(c) &&
      typeof c['code'] === 'string' &&
      matcher.contains(typeof c['system'] === 'string' ? c['system'] : undefined, c['code']);
    const describe = (c: unknown) =>
      isRecord(c) ? `${String(c['system'] ?? '(no system)')}#${String(c['code'] ?? '(no code)')}` : '?';
    if (type === 'CodeableConcept' || Array.isArray(value['coding'])) {
      const codings = Array.isArray(value['coding']) ? value['coding'] : [];
      if (codings.length === 0) {
        fail(`a coding from the required value set ${valueSet} is needed (text alone is not enough)`);
      } else if (!codings.some(codingOk)) {
        fail(`none of ${codings.map(describe).join(', ')} is in the required value set ${valueSet}`);
      }
      return;
    }
    if ('code' in value || 'system' in value) {
      if (!codingOk(value)) fail(`${describe(value)} is not in the required value set ${valueSet}`);
    }
  }
}

/** Checks the required bindings of `sd` (a base type or a profile) on `resource`. */
export function checkRequiredBindings(
  resource: Record<string, unknown>,
  sd: StructureDefinitionLike,
  ctx: BindingContext,
): BindingIssue[] {
  const walker = new BindingWalker(ctx);
  const rootPath = typeof resource['resourceType'] === 'string' ? resource['resourceType'] : (sd.type ?? '');
  walker.walkResource(resource, sd, rootPath);
  return walker.issues;
}
