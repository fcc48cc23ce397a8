import { createHash } from 'node:crypto';

/**
 * A DICOM UID derived from a seed (2.25 + 128 bits of sha256): writing the same SR twice gives the same
 * UIDs, so a re-run stores the same instance instead of a second copy.
 */
export function uidFromSeed(seed: string): string {
  const hex = createHash('sha256').update(seed).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${hex}`).toString(10)}`;
}

/** A UID generator yielding `uidFromSeed(seed#1)`, `uidFromSeed(seed#2)`, ... */
export function seededUidGenerator(seed: string): () => string {
  let n = 0;
  return () => uidFromSeed(`${seed}#${++n}`);
}
