import { AppError } from '../errors.js';
import type { Point, RoiShape } from './roi.js';

/** Statistics of the pixels whose centres lie inside an ROI (values after modality rescale). */
export interface RoiStats {
  pixelCount: number;
  mean: number;
  median: number;
  /** Population standard deviation (divides by n), as DICOM viewers report it. */
  sd: number;
  min: number;
  max: number;
}

/** A shape in pixel coordinates; pixel (c, r) has its centre at (c + 0.5, r + 0.5). */
export interface Shape {
  shape: RoiShape;
  points: Point[];
}

interface Raster {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
  inside(x: number, y: number): boolean;
}

function ellipseRaster(points: Point[]): Raster {
  const [p0, p1, p2, p3] = points as [Point, Point, Point, Point];
  const cx = (p0[0] + p1[0] + p2[0] + p3[0]) / 4;
  const cy = (p0[1] + p1[1] + p2[1] + p3[1]) / 4;
  const ax = p1[0] - p0[0];
  const ay = p1[1] - p0[1];
  const aLen = Math.hypot(ax, ay);
  const b = Math.hypot(p3[0] - p2[0], p3[1] - p2[1]) / 2;
  const a = aLen / 2;
  if (!(a > 0) || !(b > 0)) throw new Error('degenerate ellipse (an axis has zero length)');
  const ux = ax / aLen;
  const uy = ay / aLen;
  // Second axis taken perpendicular to the first: viewers store it so, and it keeps the test exact.
  const vx = -uy;
  const vy = ux;
  const ex = Math.sqrt((a * ux) ** 2 + (b * vx) ** 2);
  const ey = Math.sqrt((a * uy) ** 2 + (b * vy) ** 2);
  const a2 = a * a;
  const b2 = b * b;
  return {
    minX: cx - ex,
    maxX: cx + ex,
    minY: cy - ey,
    maxY: cy + ey,
    inside: (x, y) => {
      const dx = x - cx;
      const dy = y - cy;
      const du = dx * ux + dy * uy;
      const dv = dx * vx + dy * vy;
      return (du * du) / a2 + (dv * dv) / b2 <= 1;
    },
  };
}

function rectangleRaster(points: Point[]): Raster {
  const [p0, p1] = points as [Point, Point];
  const minX = Math.min(p0[0], p1[0]);
  const maxX = Math.max(p0[0], p1[0]);
  const minY = Math.min(p0[1], p1[1]);
  const maxY = Math.max(p0[1], p1[1]);
  if (!(maxX > minX) || !(maxY > minY)) throw new Error('degenerate rectangle (zero width or height)');
  return { minX, maxX, minY, maxY, inside: (x, y) => x >= minX && x <= maxX && y >= minY && y <= maxY };
}

function polygonRaster(points: Point[]): Raster {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const n = points.length;
  return {
    minX: Math.min(...xs),
    maxX: Math.max(...xs),
    minY: Math.min(...ys),
    maxY: Math.max(...ys),
    // Even-odd rule with half-open edges, so a point on a shared edge counts exactly once.
    inside: (x, y) => {
      let inside = false;
      for (let i = 0, j = n - 1; i < n; j = i++) {
        const [xi, yi] = points[i]!;
        const [xj, yj] = points[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
      return inside;
    },
  };
}

function raster(s: Shape): Raster {
  if (s.shape === 'ellipse') return ellipseRaster(s.points);
  if (s.shape === 'rectangle') return rectangleRaster(s.points);
  return polygonRaster(s.points);
}

/**
 * Returns the row-major indices of the pixels whose centres lie inside the shape (exact test per pixel).
 * Throws `AppError('invalid-roi')` when the shape is degenerate or leaves the image.
 */
export function rasterize(s: Shape, width: number, height: number, roiName = 'ROI'): Uint32Array {
  let r: Raster;
  try {
    r = raster(s);
  } catch (err) {
    throw new AppError('invalid-roi', `${roiName}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const tolerance = 1e-6;
  if (
    r.minX < -tolerance ||
    r.minY < -tolerance ||
    r.maxX > width + tolerance ||
    r.maxY > height + tolerance
  ) {
    throw new AppError(
      'invalid-roi',
      `${roiName}: the ${s.shape} extends outside the ${width}x${height} image`,
    );
  }
  const c0 = Math.max(0, Math.floor(r.minX - 0.5));
  const c1 = Math.min(width - 1, Math.ceil(r.maxX - 0.5));
  const r0 = Math.max(0, Math.floor(r.minY - 0.5));
  const r1 = Math.min(height - 1, Math.ceil(r.maxY - 0.5));
  const out: number[] = [];
  for (let row = r0; row <= r1; row++) {
    const y = row + 0.5;
    for (let col = c0; col <= c1; col++) {
      if (r.inside(col + 0.5, y)) out.push(row * width + col);
    }
  }
  if (out.length === 0)
    throw new AppError('invalid-roi', `${roiName}: the ${s.shape} contains no pixel centre`);
  return Uint32Array.from(out);
}

/** Computes statistics over the given values (non-empty). */
export function statsOf(values: Float64Array): RoiStats {
  const n = values.length;
  if (n === 0) throw new Error('statsOf: no values');
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i]!;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i]! - mean) ** 2;
  const sorted = Float64Array.from(values).sort();
  const mid = n >> 1;
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { pixelCount: n, mean, median, sd: Math.sqrt(ss / n), min, max };
}

/** Gathers the pixel values at the given indices. */
export function gather(values: Float64Array, indices: Uint32Array): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = values[indices[i]!]!;
  return out;
}

/** Rasterizes the shape on a frame and returns its statistics. */
export function roiStats(
  s: Shape,
  frame: { width: number; height: number; values: Float64Array },
  roiName?: string,
): RoiStats {
  return statsOf(gather(frame.values, rasterize(s, frame.width, frame.height, roiName)));
}
