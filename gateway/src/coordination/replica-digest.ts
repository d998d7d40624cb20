import { versionHash } from '../anti-entropy/version-hash.js'
import type { KeyHashIndex } from '../anti-entropy/key-hash-index.js'
import { encodeObject } from '../replica/object-codec.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import type { StoredObject } from '../replica/stored-object.js'

/**
 * A replica's digest of one key, what a digest read answers instead of the set: the anti-entropy
 * version hash of its stored set in hex (anti-entropy/version-hash.ts), or NO_DIGEST when it holds
 * nothing. The hash covers every byte of the set but the clock's timestamps, so two replicas
 * have equal digests exactly when they hold the same versions: the same clock counters and the same
 * siblings, values and tombstones included. A sibling or a tombstone one replica holds and another
 * lacks always makes the digests differ; timestamps, which only steer pruning, never do.
 */
export type ReplicaDigest = string

/** The digest of a replica that holds nothing for the key (never written, or reaped). */
export const NO_DIGEST: ReplicaDigest = ''

/** The digest of a set as stored (the object codec's bytes), or NO_DIGEST for none. */
export function digestOfStored (stored: Uint8Array | undefined): ReplicaDigest {
  return stored === undefined ? NO_DIGEST : versionHash(stored).toString('hex')
}

/** The digest of a decoded set, equal to digestOfStored of its canonical encoding. */
export function digestOf (object: StoredObject | undefined): ReplicaDigest {
  return object === undefined ? NO_DIGEST : digestOfStored(encodeObject(object))
}

/**
 * This replica's digest of `key` as a digest read answers it: the version hash the key hash index
 * holds for it where the index vouches (KeyHashIndex.storedHash: 20 bytes read, nothing hashed), else
 * the stored bytes read and hashed. Both are the hash of the same stored set, so which one answered
 * never changes what a digest stands for. Synchronous (the engine's getSync; the store must be open):
 * a digest read is a point read or two, which the promise layers of an awaited get would cost more than.
 */
export function storedDigest (store: Pick<ReplicaStore, 'readEncodedSync'>, index: Pick<KeyHashIndex, 'storedHashSync'> | undefined, key: string): ReplicaDigest {
  const held = index === undefined ? null : index.storedHashSync(key)
  if (held !== null) return Buffer.from(held.buffer, held.byteOffset, held.byteLength).toString('hex')
  return digestOfStored(store.readEncodedSync(key))
}

/**
 * This replica's stored set of `key` (the object codec's bytes, the caller's own) and its digest, as a
 * coordinator's read of its own copy needs both: the digest from the key hash index where it vouches
 * (KeyHashIndex.storedHashSync), else the bytes hashed. Both are read synchronously one after the
 * other, so no write can land between them: the index entry is the hash of exactly these bytes.
 */
export function storedWithDigest (
  store: Pick<ReplicaStore, 'readEncodedSync'>, index: Pick<KeyHashIndex, 'storedHashSync'> | undefined, key: string
): { readonly stored: Uint8Array | undefined, readonly digest: ReplicaDigest } {
  const stored = store.readEncodedSync(key)
  if (stored === undefined) return { stored, digest: NO_DIGEST }
  const held = index === undefined ? null : index.storedHashSync(key)
  return { stored, digest: held === null ? digestOfStored(stored) : Buffer.from(held.buffer, held.byteOffset, held.byteLength).toString('hex') }
}
