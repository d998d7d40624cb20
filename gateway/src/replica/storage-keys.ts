/**
 * The engine key of a user key: a fixed-width prefix of its ring hash before the key itself, so that
 * one partition's keys (and, within it, one anti-entropy bucket's keys) are one contiguous engine range
 * whatever Q is. The prefix is the top 32 bits of the key's SHA-1 as 8 lowercase hex digits: hex sorts
 * like the number it spells, and every Q up to MAX_PARTITION_COUNT (2^14) divides 2^32, so partition p
 * of q is exactly the prefixes [p * 2^32 / q, (p + 1) * 2^32 / q).
 */
import { keyHash, assertPartition, assertPartitionCount } from '../ring/partition.js'
import { GatewayError } from '../error/gateway-error.js'

/** Hex digits of the prefix. */
export const PREFIX_CHARS = 8

const TWO_32 = 2 ** 32

/** The prefix number (top 32 bits of the key's SHA-1). */
export function prefixNumber (key: string | Uint8Array): number {
  const h = keyHash(key)
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0
}

function hex8 (n: number): string {
  return n.toString(16).padStart(PREFIX_CHARS, '0')
}

/** The engine key of a user key. */
export function storageKey (key: string): string {
  return hex8(prefixNumber(key)) + key
}

/** The engine key of a user key whose prefix number is already known (no second hash of the key). */
export function storageKeyOfPrefix (prefix: number, key: string): string {
  return hex8(prefix) + key
}

/** The user key of an engine key; throws on a key too short to carry a prefix. */
export function userKeyOf (engineKey: string): string {
  if (engineKey.length < PREFIX_CHARS) {
    throw new GatewayError('LEVELRING_CORRUPT_OBJECT', `stored key ${JSON.stringify(engineKey)} is shorter than its ${PREFIX_CHARS}-digit partition prefix`)
  }
  return engineKey.slice(PREFIX_CHARS)
}

/** An engine key range, as abstract-level iterator/clear options take it. */
export interface KeyRange {
  readonly gte: string
  /** Absent for the last range (its end is the end of the keyspace). */
  readonly lt?: string
}

function prefixRange (start: number, end: number): KeyRange {
  return end >= TWO_32 ? { gte: hex8(start) } : { gte: hex8(start), lt: hex8(end) }
}

/** The engine range of partition p of q. */
export function partitionRange (p: number, q: number): KeyRange {
  assertPartitionCount(q)
  assertPartition(p, q)
  const width = TWO_32 / q
  return prefixRange(p * width, (p + 1) * width)
}

/**
 * Anti-entropy buckets: each partition of q is cut into `buckets` (a power of two, q * buckets <= 2^32)
 * equal prefix ranges, so a bucket's keys are one contiguous range too.
 */
export function bucketOf (key: string | Uint8Array, q: number, buckets: number): { partition: number, bucket: number } {
  const n = prefixNumber(key)
  const width = TWO_32 / q
  const partition = Math.floor(n / width)
  return { partition, bucket: Math.floor((n - partition * width) / (width / buckets)) }
}

/** The engine range of bucket b of partition p. */
export function bucketRange (p: number, q: number, b: number, buckets: number): KeyRange {
  assertPartitionCount(q)
  assertPartition(p, q)
  if (!Number.isInteger(buckets) || buckets < 1 || (buckets & (buckets - 1)) !== 0 || q * buckets > TWO_32) {
    throw new GatewayError('CLUSTER_INVALID_PARTITION_COUNT', `buckets per partition ${String(buckets)} is not a power of two with partitions x buckets <= 2^32`)
  }
  if (!Number.isInteger(b) || b < 0 || b >= buckets) {
    throw new GatewayError('CLUSTER_INVALID_PARTITION', `bucket ${String(b)} is outside 0..${buckets - 1}`)
  }
  const width = TWO_32 / q / buckets
  const start = (TWO_32 / q) * p + width * b
  return prefixRange(start, start + width)
}
