import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { rasterize, roiStats, statsOf } from '../../src/imaging/roi-stats.js';
import { prng } from '../helpers/phantom.js';

/** Brute-force reference: every pixel centre tested against a predicate. */
function reference(width: number, height: number, inside: (x: number, y: number) => boolean): number[] {
  const out: number[] = [];
  for (let r = 0; r < height; r++)
    for (let c = 0; c < width; c++) if (inside(c + 0.5, r + 0.5)) out.push(r * width + c);
  return out;
}

describe('rasterize', () => {
  it('matches the textbook inside test for axis-aligned ellipses at many centres and sizes', () => {
    const rnd = prng(7);
    for (let i = 0; i < 50; i++) {
      const cx = 20 + rnd() * 20;
      const cy = 20 + rnd() * 20;
      const a = 2 + rnd() * 12;
      const b = 2 + rnd() * 12;
      const got = Array.from(
        rasterize(
          {
            shape: 'ellipse',
            points: [
              [cx - a, cy],
              [cx + a, cy],
              [cx, cy - b],
              [cx, cy + b],
            ],
          },
          64,
          64,
        ),
      );
      const want = reference(64, 64, (x, y) => ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1);
      expect(got).toEqual(want);
    }
  });

  it('handles a rotated ellipse (axes given by their end points)', () => {
    const t = Math.PI / 6;
    const [cx, cy, a, b] = [32, 30, 14, 6];
    const u = [Math.cos(t), Math.sin(t)];
    const v = [-Math.sin(t), Math.cos(t)];
    const pts: [number, number][] = [
      [cx - a * u[0]!, cy - a * u[1]!],
      [cx + a * u[0]!, cy + a * u[1]!],
      [cx - b * v[0]!, cy - b * v[1]!],
      [cx + b * v[0]!, cy + b * v[1]!],
    ];
    const got = Array.from(rasterize({ shape: 'ellipse', points: pts }, 64, 64));
    const want = reference(64, 64, (x, y) => {
      const du = (x - cx) * u[0]! + (y - cy) * u[1]!;
      const dv = (x - cx) * v[0]! + (y - cy) * v[1]!;
      return (du / a) ** 2 + (dv / b) ** 2 <= 1;
    });
    expect(got).toEqual(want);
    expect(got.length).toBeGreaterThan(200);
  });

  it('includes exactly the pixel centres of a rectangle with integer corners', () => {
    const idx = rasterize(
      {
        shape: 'rectangle',
        points: [
          [10, 4],
          [14, 7],
        ],
      },
      32,
      16,
    );
    expect(idx.length).toBe(4 * 3);
    expect(idx[0]).toBe(4 * 32 + 10);
    expect(idx[idx.length - 1]).toBe(6 * 32 + 13);
  });

  it('rasterizes a concave polygon with the even-odd rule', () => {
    // An L shape: 6x6 square minus its top-right 3x3 quadrant = 27 pixels.
    const poly: [number, number][] = [
      [2, 2],
      [5, 2],
      [5, 5],
      [8, 5],
      [8, 8],
      [2, 8],
    ];
    const idx = rasterize({ shape: 'polygon', points: poly }, 16, 16);
    expect(idx.length).toBe(27);
    expect(Array.from(idx)).toEqual(
      reference(16, 16, (x, y) => x > 2 && x < 8 && y > 2 && y < 8 && !(x > 5 && y < 5)),
    );
  });

  it('refuses shapes that leave the image or contain no pixel centre', () => {
    expect(() =>
      rasterize(
        {
          shape: 'rectangle',
          points: [
            [-2, 0],
            [4, 4],
          ],
        },
        16,
        16,
      ),
    ).toThrow(AppError);
    expect(() =>
      rasterize(
        {
          shape: 'rectangle',
          points: [
            [1.1, 1.1],
            [1.4, 1.4],
          ],
        },
        16,
        16,
      ),
    ).toThrow(/no pixel centre/);
    expect(() =>
      rasterize(
        {
          shape: 'ellipse',
          points: [
            [4, 4],
            [4, 4],
            [4, 3],
            [4, 5],
          ],
        },
        16,
        16,
      ),
    ).toThrow(/degenerate/);
  });
});

describe('statsOf', () => {
  it('computes mean, median (odd and even counts), population SD, min and max', () => {
    const odd = statsOf(Float64Array.from([5, 1, 3]));
    expect(odd).toMatchObject({ pixelCount: 3, mean: 3, median: 3, min: 1, max: 5 });
    expect(odd.sd).toBeCloseTo(Math.sqrt(8 / 3), 12);
    const even = statsOf(Float64Array.from([4, 1, 3, 10]));
    expect(even.median).toBe(3.5);
    expect(even.mean).toBe(4.5);
  });

  it('roiStats reads the values at the rasterized pixels', () => {
    const values = new Float64Array(8 * 8).map((_, i) => i);
    const s = roiStats(
      {
        shape: 'rectangle',
        points: [
          [2, 2],
          [4, 3],
        ],
      },
      { width: 8, height: 8, values },
    );
    expect(s.pixelCount).toBe(2);
    expect(s.mean).toBe((18 + 19) / 2);
  });
});
