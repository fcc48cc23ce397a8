/**
 * Deterministic UUIDs (RFC 4122 version 5, SHA-1 name-based): the same patient, finding and data always
 * give the same card uuid, so feedback and deduplication across hook calls work.
 */
import * as nodeCrypto from 'node:crypto';

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

/**
 * SHA-1 of namespace + name. The one-shot crypto.hash (Node >= 20.12) costs about half of a
 * createHash object with two updates, and a card call makes one uuid per card and per suggestion;
 * older Node 20 releases lack it (hence the namespace import and the check) and take createHash.
 */
const oneShotHash: typeof nodeCrypto.hash | undefined =
  typeof nodeCrypto.hash === 'function' ? nodeCrypto.hash : undefined;

/** The hash input, reused: hashing is synchronous, and a fresh buffer per uuid drained the pool. */
let scratch = Buffer.alloc(512);

function sha1(namespace: Buffer, name: string): Buffer {
  if (oneShotHash === undefined)
    return nodeCrypto.createHash('sha1').update(namespace).update(name, 'utf8').digest();
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, so this size always holds the name.
  const room = namespace.length + name.length * 3;
  // A name beyond 64 KiB (not one we make) gets a buffer of its own rather than a lasting big scratch.
  if (scratch.length < room && room <= 65_536) scratch = Buffer.alloc(room);
  const input = scratch.length >= room ? scratch : Buffer.alloc(room);
  namespace.copy(input, 0);
  const written = input.write(name, namespace.length, 'utf8');
  return oneShotHash('sha1', input.subarray(0, namespace.length + written), 'buffer');
}

/** A version-5 UUID of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string = CARD_UUID_NAMESPACE): string {
  const hash = sha1(uuidBytes(namespace), name);
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
