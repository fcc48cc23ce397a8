/**
 * Deterministic UUIDs (RFC 4122 version 5, SHA-1 name-based): the same patient, finding and data always
 * give the same card uuid, so feedback and deduplication across hook calls work.
 */
import { createHash } from 'node:crypto';

/** Our namespace for card and suggestion uuids (a fixed random UUID). */
export const CARD_UUID_NAMESPACE = '4c0d5f2e-8a51-4d8e-9b7b-2f3c1e6a9d40';

/** Namespace bytes by namespace text: parsing the hex on every uuid showed up in buildCards' profile. */
const namespaceBytes = new Map<string, Buffer>();

function uuidBytes(uuid: string): Buffer {
  let bytes = namespaceBytes.get(uuid);
  if (bytes === undefined) {
    bytes = Buffer.from(uuid.replace(/-/g, ''), 'hex');
    // Only a handful of namespaces exist (ours and the tests'); the bound keeps a caller's stray input
    // from growing the cache.
    if (namespaceBytes.size < 16) namespaceBytes.set(uuid, bytes);
  }
  return bytes;
}

/** A version-5 UUID of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string = CARD_UUID_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
