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

function sha1Hex(namespace: Buffer, name: string): string {
  if (oneShotHash === undefined)
    return nodeCrypto.createHash('sha1').update(namespace).update(name, 'utf8').digest('hex');
  // UTF-8 takes at most 3 bytes per UTF-16 code unit, so this size always holds the name.
  const room = namespace.length + name.length * 3;
  // A name beyond 64 KiB (not one we make) gets a buffer of its own rather than a lasting big scratch.
  if (scratch.length < room && room <= 65_536) scratch = Buffer.alloc(room);
  const input = scratch.length >= room ? scratch : Buffer.alloc(room);
  namespace.copy(input, 0);
  const written = input.write(name, namespace.length, 'utf8');
  return oneShotHash('sha1', input.subarray(0, namespace.length + written), 'hex');
}

/** The variant nibble (10xx) of a hex digit's low two bits. */
const VARIANT = ['8', '9', 'a', 'b'];

/** A version-5 UUID of `name` in `namespace`. */
export function uuidV5(name: string, namespace: string = CARD_UUID_NAMESPACE): string {
  // The first 16 bytes of the hash as hex, with the version (5, byte 6's high nibble = hex digit 12)
  // and the variant (10xx, byte 8's high nibble = hex digit 16) set in the text itself: no Buffer per
  // uuid, the same result as setting the bits in the bytes.
  const hex = sha1Hex(uuidBytes(namespace), name);
  const variant = VARIANT[Number.parseInt(hex[16]!, 16) & 0x3]!;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
