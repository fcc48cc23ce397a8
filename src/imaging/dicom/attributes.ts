/** Typed reading of naturalized dcmjs attribute values: absent or empty values come back undefined. */
import type { NaturalizedDataset } from 'dcmjs';

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a string attribute; empty strings count as absent. */
export function str(ds: NaturalizedDataset, key: string): string | undefined {
  const v = first(ds[key]);
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const t = v.replace(/\0/g, '').trim();
    return t === '' ? undefined : t;
  }
  if (typeof v === 'number') return String(v);
  if (typeof v === 'object' && v !== null && 'Alphabetic' in v) {
    const a = (v as { Alphabetic?: unknown }).Alphabetic;
    return typeof a === 'string' && a.trim() !== '' ? a.trim() : undefined;
  }
  return undefined;
}

/** Reads a numeric attribute (DS/IS/US/FD, possibly string-typed when the VR was UN). */
export function num(ds: NaturalizedDataset, key: string): number | undefined {
  const v = first(ds[key]);
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  return Number.isFinite(n) ? n : undefined;
}

/** Reads a multi-valued string attribute (CS). */
export function strs(ds: NaturalizedDataset, key: string): string[] {
  const v = ds[key];
  const arr = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return arr
    .flatMap((x) => (typeof x === 'string' ? x.split('\\') : []))
    .map((x) => x.trim().toUpperCase())
    .filter((x) => x !== '');
}

export function nums(ds: NaturalizedDataset, key: string): number[] | undefined {
  const v = ds[key];
  if (!Array.isArray(v)) return undefined;
  const out = v.map((x) => (typeof x === 'number' ? x : Number(x)));
  return out.every((n) => Number.isFinite(n)) ? out : undefined;
}

/** Returns the items of a sequence attribute as datasets. */
export function seq(ds: NaturalizedDataset, key: string): NaturalizedDataset[] {
  const v = ds[key];
  const arr = Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : [];
  return arr.filter(
    (x): x is NaturalizedDataset => typeof x === 'object' && x !== null && !ArrayBuffer.isView(x),
  );
}
