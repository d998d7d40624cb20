import { createHash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'
import { assertMerkleShape, entryHash, MERKLE_HASH_BYTES, type MerkleShape } from './merkle-tree.js'

/**
 * The hash tree of one partition on one replica, over bucket hashes only (no keys): what anti-entropy
 * keeps in memory per partition, O(buckets) bytes whatever the partition holds.
 *
 *              root = H(n1_0 | ... | n1_F-1)                     level 0
 *                   ...                                           interior levels, each node H(its F children)
 *   bucket_b = XOR of entryHash(key, versionHash) over its keys   level D (F^D buckets)
 *
 * A key's bucket is bucketOf(key, Q, F^D) (storage-keys.ts): a slice of the key's 32-bit ring-hash
 * prefix, so a bucket's keys are one range of the key hash index, and a bucket hash is recomputed
 * by scanning just that range. A write only marks its bucket stale (markStale); the owner rescans
 * stale buckets before it reads the tree (PartitionTrees.local) and stores the results (setBucket).
 * Interior nodes are rehashed lazily, only above changed buckets.
 */
export class BucketTree {
  readonly shape: MerkleShape
  readonly bucketCount: number
  /** Per level, the node hashes back to back; level D holds the bucket hashes. */
  readonly #levels: Buffer[] = []
  /** Per interior level, 1 where the node hash must be recomputed. */
  readonly #dirty: Uint8Array[] = []
  /** 1 where the bucket hash may be out of date (its keys changed since it was computed). */
  readonly #stale: Uint8Array
  #staleCount: number
  /** Keys per bucket, as of the bucket's last computation. */
  readonly #counts: Uint32Array
  #keys = 0

  /** A tree whose every bucket is stale (nothing computed yet). */
  constructor (shape: MerkleShape) {
    assertMerkleShape(shape)
    this.shape = shape
    this.bucketCount = shape.fanout ** shape.depth
    for (let d = 0; d <= shape.depth; d++) {
      this.#levels.push(Buffer.alloc(shape.fanout ** d * MERKLE_HASH_BYTES))
      if (d < shape.depth) this.#dirty.push(new Uint8Array(shape.fanout ** d).fill(1))
    }
    this.#stale = new Uint8Array(this.bucketCount).fill(1)
    this.#staleCount = this.bucketCount
    this.#counts = new Uint32Array(this.bucketCount)
  }

  /** Bytes this tree holds (hash levels, flags, counts): what the tree cache budgets. */
  static bytesFor (shape: MerkleShape): number {
    let bytes = 0
    for (let d = 0; d <= shape.depth; d++) bytes += shape.fanout ** d * (MERKLE_HASH_BYTES + 1)
    return bytes + shape.fanout ** shape.depth * 5
  }

  /** Keys in the tree's buckets as of their last computation. */
  get keys (): number {
    return this.#keys
  }

  /** Buckets waiting for a rescan. */
  get staleCount (): number {
    return this.#staleCount
  }

  markStale (bucket: number): void {
    if (this.#stale[bucket] === 1) return
    this.#stale[bucket] = 1
    this.#staleCount++
  }

  /**
   * The stale buckets, each flag cleared: call just before reading their index ranges, so that a
   * change landing during the read marks its bucket stale again.
   */
  takeStale (): number[] {
    const out: number[] = []
    if (this.#staleCount === 0) return out
    for (let b = 0; b < this.bucketCount; b++) {
      if (this.#stale[b] === 1) { out.push(b); this.#stale[b] = 0 }
    }
    this.#staleCount = 0
    return out
  }

  /** Store a computed bucket hash and its key count; marks the interior above dirty when it changed. */
  setBucket (bucket: number, hash: Uint8Array, keys: number): void {
    this.#keys += keys - this.#counts[bucket]!
    this.#counts[bucket] = keys
    const leaves = this.#levels[this.shape.depth]!
    const at = bucket * MERKLE_HASH_BYTES
    if (leaves.subarray(at, at + MERKLE_HASH_BYTES).equals(hash)) return
    leaves.set(hash, at)
    let index = bucket
    for (let d = this.shape.depth - 1; d >= 0; d--) {
      index = Math.floor(index / this.shape.fanout)
      if (this.#dirty[d]![index] === 1) return // a dirty node's ancestors are dirty already
      this.#dirty[d]![index] = 1
    }
  }

  /** The root hash: equal roots mean (all but certainly) equal contents. */
  root (): Buffer {
    return this.nodeHashes(0, [0])[0]!
  }

  /** Hashes of the given nodes of one level (level D = buckets), rehashing dirty interior ones; copies. */
  nodeHashes (level: number, indices: readonly number[]): Buffer[] {
    if (!Number.isInteger(level) || level < 0 || level > this.shape.depth) {
      throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle level ${String(level)} is outside 0..${this.shape.depth}`)
    }
    const count = this.shape.fanout ** level
    return indices.map((i) => {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle node ${String(i)} is outside 0..${count - 1} at level ${level}`)
      }
      if (level < this.shape.depth) this.#rehash(level, i)
      const at = i * MERKLE_HASH_BYTES
      return Buffer.from(this.#levels[level]!.subarray(at, at + MERKLE_HASH_BYTES))
    })
  }

  #rehash (level: number, index: number): void {
    const dirty = this.#dirty[level]!
    if (dirty[index] === 0) return
    const { fanout } = this.shape
    const first = index * fanout
    if (level + 1 < this.shape.depth) {
      for (let c = first; c < first + fanout; c++) this.#rehash(level + 1, c)
    }
    const children = this.#levels[level + 1]!.subarray(first * MERKLE_HASH_BYTES, (first + fanout) * MERKLE_HASH_BYTES)
    createHash('sha1').update(children).digest().copy(this.#levels[level]!, index * MERKLE_HASH_BYTES)
    dirty[index] = 0
  }
}

/** Accumulates one bucket's hash (XOR of its entries' hashes) and key count. */
export class BucketHash {
  readonly hash = Buffer.alloc(MERKLE_HASH_BYTES)
  keys = 0

  add (key: Uint8Array, valueHash: Uint8Array): void {
    const h = entryHash(key, valueHash)
    for (let i = 0; i < MERKLE_HASH_BYTES; i++) this.hash[i]! ^= h[i]!
    this.keys++
  }
}
