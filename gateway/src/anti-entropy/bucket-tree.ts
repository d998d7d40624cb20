import { entryHash, MERKLE_HASH_BYTES, MerkleNodes, xorHashInto, type MerkleShape } from './merkle-tree.js'

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
 * Interior nodes are rehashed lazily, only above changed buckets (MerkleNodes, merkle-tree.ts).
 */
export class BucketTree {
  readonly shape: MerkleShape
  readonly bucketCount: number
  readonly #nodes: MerkleNodes
  /** 1 where the bucket hash may be out of date (its keys changed since it was computed). */
  readonly #stale: Uint8Array
  #staleCount: number
  /** Keys per bucket, as of the bucket's last computation. */
  readonly #counts: Uint32Array
  #keys = 0

  /** A tree whose every bucket is stale (nothing computed yet). */
  constructor (shape: MerkleShape) {
    this.#nodes = new MerkleNodes(shape)
    this.shape = this.#nodes.shape
    this.bucketCount = this.#nodes.bucketCount
    this.#stale = new Uint8Array(this.bucketCount).fill(1)
    this.#staleCount = this.bucketCount
    this.#counts = new Uint32Array(this.bucketCount)
  }

  /** Bytes this tree holds (hash levels, flags, counts): what the tree cache budgets. */
  static bytesFor (shape: MerkleShape): number {
    return MerkleNodes.bytesFor(shape) + shape.fanout ** shape.depth * 5
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
    this.#nodes.setBucket(bucket, hash)
  }

  /** The root hash: equal roots mean (all but certainly) equal contents. */
  root (): Buffer {
    return this.#nodes.root()
  }

  /** Hashes of the given nodes of one level (level D = buckets), rehashing dirty interior ones; copies. */
  nodeHashes (level: number, indices: readonly number[]): Buffer[] {
    return this.#nodes.nodeHashes(level, indices)
  }
}

/** Accumulates one bucket's hash (XOR of its entries' hashes) and key count. */
export class BucketHash {
  readonly hash = Buffer.alloc(MERKLE_HASH_BYTES)
  keys = 0

  add (key: Uint8Array, valueHash: Uint8Array): void {
    xorHashInto(this.hash, 0, entryHash(key, valueHash))
    this.keys++
  }
}
