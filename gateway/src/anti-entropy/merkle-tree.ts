/**
 * The hashing every Merkle tree of anti-entropy shares (Dynamo 4.7, Riak's hashtrees): the shape, a
 * leaf bucket's hash, and the interior levels above the buckets.
 *
 * Shape: a fixed fan-out F and depth D. Level 0 is the root; level d holds F^d nodes; level D holds
 * the F^D leaf buckets. Both replicas of a partition must use the same shape (merkle-shape.ts).
 *
 *                       root = H(n1_0 | n1_1 | ... | n1_F-1)               level 0
 *              n1_i = H(n2_Fi | ... | n2_Fi+F-1)                           interior levels
 *   bucket_b = XOR of H(u32be len(key) | key | valueHash) over its keys    level D
 *
 * A bucket hash is the XOR of its entries' hashes (entryHash), so it does not depend on the order
 * keys were added, and an entry can be taken out again by XOR. Interior nodes hash their children
 * in order and are recomputed lazily (MerkleNodes): a changed bucket marks the D nodes above it
 * dirty, and reading a hash recomputes only dirty nodes, so many writes between two exchanges cost
 * one rehash of the touched paths.
 *
 * Hashes are SHA-1 (20 bytes, node:crypto): collision resistance is not needed, only a negligible
 * chance that two different bucket contents hash alike, and SHA-1 is fast and everywhere.
 */
import { createHash, hash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'

/** Fan-out and depth; F^D leaf buckets. */
export interface MerkleShape {
  readonly fanout: number
  readonly depth: number
}

/** One key and the hash of what is stored under it. */
export interface MerkleEntry {
  readonly key: Buffer
  readonly valueHash: Buffer
}

/** SHA-1 digests are 20 bytes; every node hash has this length. */
export const MERKLE_HASH_BYTES = 20

/** 2^24 buckets: beyond that the bucket index would need more than the 32 hash bits we read, and the hash arrays pass 300 MB. */
export const MAX_MERKLE_BUCKETS = 16_777_216

/** Throws CLUSTER_INVALID_MERKLE_SHAPE unless fanout in 2..256, depth >= 1 and fanout^depth <= MAX_MERKLE_BUCKETS. */
export function assertMerkleShape (shape: MerkleShape): void {
  const { fanout, depth } = shape ?? {}
  if (!Number.isInteger(fanout) || fanout < 2 || fanout > 256 || !Number.isInteger(depth) || depth < 1 || fanout ** depth > MAX_MERKLE_BUCKETS) {
    throw new GatewayError('CLUSTER_INVALID_MERKLE_SHAPE',
      `Merkle shape fanout=${String(fanout)} depth=${String(depth)} is invalid: fanout must be 2..256, depth >= 1, and fanout^depth <= ${MAX_MERKLE_BUCKETS}`)
  }
}

/** The hash of one (key, value hash) entry; a bucket hash is the XOR of its entries' hashes. */
export function entryHash (key: Uint8Array, valueHash: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(4 + key.length + valueHash.length)
  input.writeUInt32BE(key.length, 0)
  input.set(key, 4)
  input.set(valueHash, 4 + key.length)
  return hash('sha1', input, 'buffer')
}

/** XOR the MERKLE_HASH_BYTES of `h` into `target` at `offset`: adds an entry to a bucket hash, or takes it out again. */
export function xorHashInto (target: Uint8Array, offset: number, h: Uint8Array): void {
  for (let i = 0; i < MERKLE_HASH_BYTES; i++) target[offset + i]! ^= h[i]!
}

/**
 * The node hashes of one tree, level by level: its owner writes the bucket hashes (level D), the
 * interior nodes above them are recomputed when read, only where a bucket below changed.
 */
export class MerkleNodes {
  readonly shape: MerkleShape
  /** F^D. */
  readonly bucketCount: number
  /** Per level, the node hashes back to back; level D holds the bucket hashes, always current. */
  readonly #levels: Buffer[] = []
  /** Per interior level, 1 where the node hash must be recomputed. */
  readonly #dirty: Uint8Array[] = []
  #rehashed = 0

  /** Every bucket hash zero (no entries); throws CLUSTER_INVALID_MERKLE_SHAPE for a bad shape. */
  constructor (shape: MerkleShape) {
    assertMerkleShape(shape)
    this.shape = Object.freeze({ fanout: shape.fanout, depth: shape.depth })
    this.bucketCount = shape.fanout ** shape.depth
    for (let d = 0; d <= shape.depth; d++) {
      this.#levels.push(Buffer.alloc(shape.fanout ** d * MERKLE_HASH_BYTES))
      if (d < shape.depth) this.#dirty.push(new Uint8Array(shape.fanout ** d).fill(1))
    }
  }

  /** Bytes the hash levels and their dirty flags take (one flag counted per node of every level). */
  static bytesFor (shape: MerkleShape): number {
    let bytes = 0
    for (let d = 0; d <= shape.depth; d++) bytes += shape.fanout ** d * (MERKLE_HASH_BYTES + 1)
    return bytes
  }

  /** Interior node hashes computed so far (a work counter for tests). */
  get interiorHashesComputed (): number {
    return this.#rehashed
  }

  /** Set bucket `b`'s hash; returns false (and marks nothing) when it is unchanged. */
  setBucket (b: number, hash: Uint8Array): boolean {
    const leaves = this.#levels[this.shape.depth]!
    const at = b * MERKLE_HASH_BYTES
    if (leaves.subarray(at, at + MERKLE_HASH_BYTES).equals(hash)) return false
    leaves.set(hash, at)
    this.#markDirty(b)
    return true
  }

  /** XOR an entry's hash into bucket `b` (adding the entry, or taking it out again). */
  xorBucket (b: number, h: Uint8Array): void {
    xorHashInto(this.#levels[this.shape.depth]!, b * MERKLE_HASH_BYTES, h)
    this.#markDirty(b)
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

  /** An independent copy (hashes, dirty marks). */
  clone (): MerkleNodes {
    const copy = new MerkleNodes(this.shape)
    this.#levels.forEach((level, d) => level.copy(copy.#levels[d]!))
    this.#dirty.forEach((dirty, d) => copy.#dirty[d]!.set(dirty))
    return copy
  }

  #markDirty (bucket: number): void {
    let index = bucket
    for (let d = this.shape.depth - 1; d >= 0; d--) {
      index = Math.floor(index / this.shape.fanout)
      const dirty = this.#dirty[d]!
      if (dirty[index] === 1) return // a dirty node's ancestors are dirty already
      dirty[index] = 1
    }
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
    this.#rehashed++
  }
}
