import { retainSiblings, type DvvSet, type Sibling } from '../version/dvv.js'

/** One stored version of a key: a value with its content type, or a tombstone left by a delete. */
export interface StoredVersion {
  readonly tombstone: boolean
  /** As the writer sent it; '' for a tombstone. */
  readonly contentType: string
  /** Wall-clock time of the write at the replica that stamped it (ms since epoch). */
  readonly lastModified: number
  /** The value's bytes; empty for a tombstone. */
  readonly value: Uint8Array
}

/** What a replica stores per key: the DVV set of its versions. */
export type StoredObject = DvvSet<StoredVersion>

/** A tombstone stamped at `now`. */
export function tombstoneVersion (now: number): StoredVersion {
  return { tombstone: true, contentType: '', lastModified: now, value: new Uint8Array(0) }
}

/**
 * The canonical form every replica applies after a change: when any live version exists, tombstone
 * siblings are dropped (their dots stay in the clock, so they count as superseded). A write that is
 * concurrent with a delete therefore wins, and because every replica applies the same rule, merged
 * replicas converge to the same set.
 */
export function normalise (object: StoredObject): StoredObject {
  if (!object.siblings.some((s) => !s.value.tombstone)) return object
  return retainSiblings(object, (s) => !s.value.tombstone)
}

/** The versions a reader sees: every sibling that is not a tombstone. */
export function liveSiblings (object: StoredObject): readonly Sibling<StoredVersion>[] {
  return object.siblings.filter((s) => !s.value.tombstone)
}

/** True when the key was deleted: it has versions and all of them are tombstones. */
export function isDeleted (object: StoredObject): boolean {
  return object.siblings.length > 0 && object.siblings.every((s) => s.value.tombstone)
}
