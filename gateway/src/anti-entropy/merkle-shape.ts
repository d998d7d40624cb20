import type { MerkleShape } from './merkle-tree.js'

/**
 * Leaf buckets aimed at over the whole ring (all Q partitions' trees together): 2^18 keeps a
 * bucket at about 4 keys per million stored keys, so finding one differing key costs about
 * 16 x depth node hashes plus a handful of bucket entries, while the hash arrays of a node's
 * trees stay a few MB at any Q.
 */
export const RING_BUCKET_TARGET = 2 ** 18

/** Every tree uses this fan-out: 16 children per node, so a differing path costs 16 hashes per level. */
export const MERKLE_FANOUT = 16

/** Deepest tree: 16^4 = 65,536 buckets per partition (Q <= 16). */
export const MAX_MERKLE_DEPTH = 4

/**
 * The Merkle tree shape of one partition in a ring of `partitionCount` partitions: fan-out 16 and
 * the depth that brings Q x 16^depth nearest to RING_BUCKET_TARGET. Every replica derives the same
 * shape from Q (fixed for a cluster's life), so trees of one partition are always comparable.
 *
 *   Q        1..16   32..256   512..4096   8192..16384
 *   depth        4         3           2             1
 *   buckets  65,536     4,096         256            16   (per partition; 256 at the default Q of 2048)
 */
export function merkleShapeFor (partitionCount: number): MerkleShape {
  const perPartition = RING_BUCKET_TARGET / partitionCount
  const depth = Math.round(Math.log(perPartition) / Math.log(MERKLE_FANOUT))
  return Object.freeze({ fanout: MERKLE_FANOUT, depth: Math.min(MAX_MERKLE_DEPTH, Math.max(1, depth)) })
}

/** Fewest and most anti-entropy buckets per partition (--aae-buckets). */
export const MIN_AAE_BUCKETS = 16
export const MAX_AAE_BUCKETS = 2 ** 20

/** The buckets per partition when --aae-buckets is not set: the leaves of merkleShapeFor(Q) (256 at the default Q of 2048). */
export function defaultBucketCount (partitionCount: number): number {
  const { fanout, depth } = merkleShapeFor(partitionCount)
  return fanout ** depth
}

/**
 * The tree shape over `buckets` leaves (a power of two, MIN_AAE_BUCKETS..MAX_AAE_BUCKETS), so that
 * fanout^depth = buckets: fan-out 16 when buckets is a power of 16, otherwise the fewest levels whose
 * fan-out is a power of two of at most 256 (2^11 buckets, whose exponent is prime, get a binary tree):
 *
 *   buckets   16   32   64   128   256   512   1024   4096   2^11   65,536   2^20
 *   shape   16x1 32x1 64x1 128x1  16x2  8x3   32x2   16x3   2x11    16x4    16x5
 */
export function bucketShape (buckets: number): MerkleShape {
  const k = Math.log2(buckets)
  if (!Number.isInteger(k) || buckets < MIN_AAE_BUCKETS || buckets > MAX_AAE_BUCKETS) {
    throw new RangeError(`anti-entropy buckets per partition must be a power of two from ${MIN_AAE_BUCKETS} to ${MAX_AAE_BUCKETS}, got ${String(buckets)}`)
  }
  if (k % 4 === 0) return Object.freeze({ fanout: 16, depth: k / 4 })
  for (let depth = 1; depth <= k; depth++) {
    if (k % depth === 0 && k / depth <= 8) return Object.freeze({ fanout: 2 ** (k / depth), depth })
  }
  return Object.freeze({ fanout: 2, depth: k })
}
