import { createHash } from 'node:crypto';

/**
 * A DICOM UID derived from a key (2.25 + 128 bits of sha256): writing the same SR twice gives the same
 * UIDs, so a re-run stores the same instance instead of a second copy.
 */
export function uidFromKey(key: string): string {
  const hex = createHash('sha256').update(key).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** A UID generator yielding `uidFromKey(key#1)`, `uidFromKey(key#2)`, ... */
export function keyedUidGenerator(key: string): () => string {
  let n = 0;
  return () => uidFromKey(`${key}#${++n}`);
}
