import { versionHash } from '../anti-entropy/version-hash.js'
import { encodeObject } from '../replica/object-codec.js'
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
