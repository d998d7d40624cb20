/**
 * Keys to partitions (Dynamo's strategy 3, as Riak does it): the hash space of a key is the 160-bit
 * SHA-1 of its bytes, cut into Q equal partitions (Q a power of two), so partition p holds the keys
 * whose hash lies in [p * 2^160 / Q, (p + 1) * 2^160 / Q), i.e. whose top log2(Q) hash bits equal p.
 * "Clockwise" on the ring means increasing hash, so partition p is followed by p + 1, and Q - 1 by 0.
 */
import { hash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'

/**
 * The cluster's default Q: 2048 partitions keep every cluster of 3..336 equal nodes within 15% of the mean share
 * (shares differ by at most one partition, so ceil(Q/n) <= 1.15 Q/n is needed; 512 meets it up to 84 nodes), so a
 * cluster can grow to hundreds of nodes without being recreated. What it costs (a ~4 KB ring in gossip, a claim
 * step of ~0.15 s per membership change, 14 MiB of anti-entropy trees at 3 nodes) is in docs/operations.md, "Picking Q".
 */
export const DEFAULT_PARTITION_COUNT = 2048

/**
 * Upper bound on Q: the ring is gossiped whole (~50 KB of JSON at 16,384) and the claim step costs
 * O(moved x Q). 16,384 keeps some 2,300 equal nodes within 15% of the mean share (Q >= 7 x nodes);
 * `npm run simulate` shows the trade-off for a cluster size (docs/operations.md, "Picking Q").
 */
export const MAX_PARTITION_COUNT = 16384

/** Bytes of the hash that select the partition: 32 bits cover every Q up to MAX_PARTITION_COUNT. */
const PARTITION_HASH_BYTES = 4

const TWO_32 = 2 ** 32

/** The ring position of a key: SHA-1 of its bytes (a string is taken as UTF-8); 20 bytes. */
export function keyHash (key: Uint8Array | string): Buffer {
  // One-shot crypto.hash (Node >= 20.12) is ~30% cheaper than createHash for short keys.
  return hash('sha1', key, 'buffer')
}

/** Throws CLUSTER_INVALID_PARTITION_COUNT unless q is a power of two in 1..MAX_PARTITION_COUNT. */
export function assertPartitionCount (q: number): void {
  if (!Number.isInteger(q) || q < 1 || q > MAX_PARTITION_COUNT || (q & (q - 1)) !== 0) {
    throw new GatewayError('CLUSTER_INVALID_PARTITION_COUNT',
      `partition count ${String(q)} is not a power of two between 1 and ${MAX_PARTITION_COUNT}; pick one such as 64, 256 or 1024`)
  }
}

/** The partition (0 <= p < q) of a key hash: its top log2(q) bits. q must pass assertPartitionCount. */
export function partitionOfHash (hash: Uint8Array, q: number): number {
  if (hash.length < PARTITION_HASH_BYTES) {
    throw new GatewayError('CLUSTER_INVALID_PARTITION', `a key hash needs at least ${PARTITION_HASH_BYTES} bytes, got ${hash.length}; pass keyHash(key)`)
  }
  const top = ((hash[0]! << 24) | (hash[1]! << 16) | (hash[2]! << 8) | hash[3]!) >>> 0
  // q divides 2^32, so this is an exact shift by 32 - log2(q) (and still right for q = 1, where >>> 32 would not be).
  return Math.floor(top / (TWO_32 / q))
}

/** The partition (0 <= p < q) holding a key. q must pass assertPartitionCount. */
export function partitionOf (key: Uint8Array | string, q: number): number {
  return partitionOfHash(keyHash(key), q)
}

/** The first hash (as a 40-digit hex string) of partition p of q: where its range starts on the ring, for display. */
export function partitionStart (p: number, q: number): string {
  assertPartition(p, q)
  const start = (BigInt(p) << 160n) / BigInt(q)
  return start.toString(16).padStart(40, '0')
}

/** Throws CLUSTER_INVALID_PARTITION unless p is an integer in 0..q-1. */
export function assertPartition (p: number, q: number): void {
  if (!Number.isInteger(p) || p < 0 || p >= q) {
    throw new GatewayError('CLUSTER_INVALID_PARTITION', `partition ${String(p)} is outside 0..${q - 1} of a ring of ${q} partitions`)
  }
}

/** Partitions per node that keep equal nodes within ~12.5% of the mean share (max/mean <= 1 + nodes/Q), zone rounding included within 15%. */
export const PARTITIONS_PER_NODE = 8

/**
 * The Q to create a cluster with when it may grow to `nodes` nodes: the smallest power of two of at
 * least PARTITIONS_PER_NODE per node (at least 64, at most MAX_PARTITION_COUNT).
 */
export function recommendedPartitionCount (nodes: number): number {
  let q = 64
  while (q < nodes * PARTITIONS_PER_NODE && q < MAX_PARTITION_COUNT) q *= 2
  return q
}
