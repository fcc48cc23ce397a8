/**
 * Enough terminology to check required bindings offline: ValueSet membership for value sets that can
 * be decided from the definitions at hand (enumerated concepts, whole local code systems, code regex
 * filters, is-a over a local hierarchy, nested value sets). Anything else (SNOMED CT hierarchies,
 * BCP-13 mime types, external code systems) is reported as "not enumerable" and left unchecked, which is
 * what a validator without a terminology server does too. Pure: no I/O.
 */

export interface CodeSystemConceptLike {
  code?: string;
  concept?: CodeSystemConceptLike[];
}

export interface CodeSystemLike {
  resourceType: 'CodeSystem';
  url?: string;
  content?: string;
  concept?: CodeSystemConceptLike[];
}

export interface ValueSetFilterLike {
  property?: string;
  op?: string;
  value?: string;
}

export interface ValueSetIncludeLike {
  system?: string;
  concept?: { code?: string }[];
  filter?: ValueSetFilterLike[];
  valueSet?: string[];
}

export interface ValueSetLike {
  resourceType: 'ValueSet';
  url?: string;
  compose?: { include?: ValueSetIncludeLike[]; exclude?: ValueSetIncludeLike[] };
}

/** Decides membership of a code in one value set. `system` undefined means "any system" (code type). */
export interface ValueSetMatcher {
  readonly url: string;
  contains(system: string | undefined, code: string): boolean;
}

/** Strips a `|version` suffix from a canonical reference. */
export function canonicalUrl(reference: string): string {
  const bar = reference.indexOf('|');
  return bar >= 0 ? reference.slice(0, bar) : reference;
}

type CodePredicate = (code: string) => boolean;

/** An index of CodeSystems and ValueSets with memoised, lazily compiled matchers. */
export class TerminologyIndex {
  private readonly codeSystems = new Map<string, CodeSystemLike>();
  private readonly valueSets = new Map<string, ValueSetLike>();
  private readonly matchers = new Map<string, ValueSetMatcher | null>();
  private readonly codeSets = new Map<string, Set<string> | null>();

  /** Adds CodeSystems and ValueSets (later additions replace earlier ones with the same URL). */
  add(resources: Iterable<{ resourceType?: string; url?: string }>): void {
    for (const resource of resources) {
      if (!resource.url) continue;
      if (resource.resourceType === 'CodeSystem')
        this.codeSystems.set(resource.url, resource as CodeSystemLike);
      else if (resource.resourceType === 'ValueSet')
        this.valueSets.set(resource.url, resource as ValueSetLike);
    }
    this.matchers.clear();
    this.codeSets.clear();
  }

  hasValueSet(url: string): boolean {
    return this.valueSets.has(canonicalUrl(url));
  }

  getValueSet(url: string): ValueSetLike | undefined {
    return this.valueSets.get(canonicalUrl(url));
  }

  getCodeSystem(url: string): CodeSystemLike | undefined {
    return this.codeSystems.get(canonicalUrl(url));
  }

  /**
   * The matcher for a value set, or undefined when membership cannot be decided offline (unknown value
   * set, external code system, unsupported filter).
   */
  matcher(url: string): ValueSetMatcher | undefined {
    const key = canonicalUrl(url);
    if (this.matchers.has(key)) return this.matchers.get(key) ?? undefined;
    // Guards against value sets that include themselves through a cycle.
    this.matchers.set(key, null);
    const compiled = this.compile(key);
    this.matchers.set(key, compiled ?? null);
    return compiled;
  }

  /** Membership test; undefined when the value set is not enumerable here. */
  contains(url: string, system: string | undefined, code: string): boolean | undefined {
    return this.matcher(url)?.contains(system, code);
  }

  private compile(url: string): ValueSetMatcher | undefined {
    const vs = this.valueSets.get(url);
    const includes = vs?.compose?.include;
    if (!vs || !includes || includes.length === 0) return undefined;
    const include: IncludeMatcher[] = [];
    for (const part of includes) {
      const m = this.compileInclude(part);
      if (!m) return undefined;
      include.push(m);
    }
    const exclude: IncludeMatcher[] = [];
    for (const part of vs.compose?.exclude ?? []) {
      const m = this.compileInclude(part);
      if (!m) return undefined;
      exclude.push(m);
    }
    return {
      url,
      contains: (system, code) =>
        include.some((m) => m(system, code)) && !exclude.some((m) => m(system, code)),
    };
  }

  private compileInclude(part: ValueSetIncludeLike): IncludeMatcher | undefined {
    const nested: ValueSetMatcher[] = [];
    for (const ref of part.valueSet ?? []) {
      const m = this.matcher(ref);
      if (!m) return undefined;
      nested.push(m);
    }
    const inNested = (system: string | undefined, code: string) =>
      nested.every((m) => m.contains(system, code));
    if (!part.system) {
      if (nested.length === 0) return undefined;
      return inNested;
    }
    const system = part.system;
    let predicate: CodePredicate;
    if (part.concept && part.concept.length > 0) {
      const codes = new Set(
        part.concept.map((c) => c.code).filter((c): c is string => typeof c === 'string'),
      );
      predicate = (code) => codes.has(code);
    } else if (part.filter && part.filter.length > 0) {
      const filters: CodePredicate[] = [];
      for (const f of part.filter) {
        const compiled = this.compileFilter(system, f);
        if (!compiled) return undefined;
        filters.push(compiled);
      }
      predicate = (code) => filters.every((f) => f(code));
    } else {
      const all = this.allCodes(system);
      if (!all) return undefined;
      predicate = (code) => all.has(code);
    }
    return (s, code) => (s === undefined || s === system) && predicate(code) && inNested(s, code);
  }

  private compileFilter(system: string, filter: ValueSetFilterLike): CodePredicate | undefined {
    const { property, op, value } = filter;
    if (value === undefined) return undefined;
    if (op === 'regex' && property === 'code') {
      let re: RegExp;
      try {
        // FHIR regex filters match the whole code; wrapping makes unanchored patterns behave the same.
        re = new RegExp(`^(?:${value})$`);
      } catch {
        return undefined;
      }
      return (code) => re.test(code);
    }
    if ((op === 'is-a' || op === 'descendent-of') && property === 'concept') {
      const cs = this.codeSystems.get(system);
      if (!cs || cs.content !== 'complete') return undefined;
      const below = descendants(cs.concept ?? [], value);
      if (!below) return () => false;
      if (op === 'is-a') below.add(value);
      return (code) => below.has(code);
    }
    return undefined;
  }

  private allCodes(system: string): Set<string> | undefined {
    if (this.codeSets.has(system)) return this.codeSets.get(system) ?? undefined;
    const cs = this.codeSystems.get(system);
    const set = cs && cs.content === 'complete' ? flatten(cs.concept ?? []) : undefined;
    this.codeSets.set(system, set ?? null);
    return set;
  }
}

type IncludeMatcher = (system: string | undefined, code: string) => boolean;

function flatten(concepts: CodeSystemConceptLike[], into = new Set<string>()): Set<string> {
  for (const c of concepts) {
    if (c.code) into.add(c.code);
    if (c.concept) flatten(c.concept, into);
  }
  return into;
}

function descendants(concepts: CodeSystemConceptLike[], code: string): Set<string> | undefined {
  for (const c of concepts) {
    if (c.code === code) return flatten(c.concept ?? []);
    const found = c.concept ? descendants(c.concept, code) : undefined;
    if (found) return found;
  }
  return undefined;
}
