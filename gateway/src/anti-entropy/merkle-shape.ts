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
 *   buckets  65,536     4,096         256            16   (per partition; Q = 512, the default: 256)
 */
export function merkleShapeFor (partitionCount: number): MerkleShape {
  const perPartition = RING_BUCKET_TARGET / partitionCount
  const depth = Math.round(Math.log(perPartition) / Math.log(MERKLE_FANOUT))
  return Object.freeze({ fanout: MERKLE_FANOUT, depth: Math.min(MAX_MERKLE_DEPTH, Math.max(1, depth)) })
}
