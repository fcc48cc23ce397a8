/** Test side of the phantom: the generator lives in src/imaging/phantom.ts (the `vbq sample` command uses it). */
export {
  blockByName,
  blockCentre,
  ellipseIn,
  encodePart10,
  lumbarRois,
  makePhantom,
  prng,
} from '../../src/imaging/phantom.js';
export type { Block, Phantom, PhantomOptions, PhantomSyntax } from '../../src/imaging/phantom.js';

/**
 * Independent reference statistics for tests: brute force over every pixel with the textbook inside test
 * of an axis-aligned ellipse (centre, semi-axes) or rectangle, on the truth array.
 */
export function referenceStats(
  truth: Float64Array,
  width: number,
  inside: (x: number, y: number) => boolean,
): { n: number; mean: number; median: number; sd: number } {
  const vals: number[] = [];
  for (let i = 0; i < truth.length; i++) {
    const x = (i % width) + 0.5;
    const y = Math.floor(i / width) + 0.5;
    if (inside(x, y)) vals.push(truth[i]!);
  }
  const n = vals.length;
  const mean = vals.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
  const sorted = [...vals].sort((a, b) => a - b);
  const median = n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return { n, mean, median, sd };
}
