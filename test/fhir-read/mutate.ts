/**
 * fast-check arbitraries that damage realistic FHIR JSON: at a random place in the tree, a value is
 * replaced by arbitrary JSON or by a shape FHIR readers typically trip on (null, a number for a string,
 * an object for an array...), or removed. Several such mutations are applied in sequence.
 */
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type PathStep = string | number;

/** Every path in a JSON tree (the root excluded), depth first. */
export function paths(value: unknown, prefix: PathStep[] = []): PathStep[][] {
  const out: PathStep[][] = [];
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      out.push([...prefix, i], ...paths(item, [...prefix, i]));
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push([...prefix, key], ...paths(item, [...prefix, key]));
    }
  }
  return out;
}

const TRAPS: Json[] = [
  null,
  0,
  -1,
  1e308,
  '',
  ' ',
  'x',
  '0000-01-01',
  '2026-02-30',
  'not-a-date',
  true,
  [],
  [null],
  [1, 'a'],
  {},
  { coding: 'x' },
  { coding: [null, 5, { system: 7, code: {} }] },
  { reference: 5 },
  { value: 'NaN' },
  { resourceType: 'Bundle', entry: 'x' },
  { resourceType: 5 },
  JSON.parse('{"__proto__": {"polluted": true}, "coding": [{"code": "x"}]}') as Json,
  'a'.repeat(5000),
];

export type Mutation = { kind: 'set'; at: number; value: Json } | { kind: 'delete'; at: number };

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.constantFrom(...TRAPS),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }), weight: 1 },
);

/** A deep copy of `root` with the mutations applied (each picks a path of the tree as it is by then). */
const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export function applyMutations<T>(root: T, mutations: readonly Mutation[]): T {
  let tree = clone(root) as unknown;
  for (const mutation of mutations) {
    const all = paths(tree);
    if (all.length === 0) {
      if (mutation.kind === 'set') tree = clone(mutation.value);
      continue;
    }
    const path = all[mutation.at % all.length]!;
    let parent = tree as Record<string | number, unknown>;
    for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
    const last = path[path.length - 1]!;
    if (mutation.kind === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else {
      // defineProperty, so a key named __proto__ stays data and never changes a prototype.
      Object.defineProperty(parent, last, {
        value: clone(mutation.value),
        writable: true,
        enumerable: true,
        configurable: true,
      });
    }
  }
  return tree as T;
}
