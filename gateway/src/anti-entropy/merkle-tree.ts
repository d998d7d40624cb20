/**
 * A Merkle tree over one partition's keys, for anti-entropy (Dynamo 4.7, Riak's hashtrees).
 *
 * Shape: a fixed fan-out F and depth D (default 16 and 3). Level 0 is the root; level d holds F^d
 * nodes; level D holds the F^D leaf buckets (4,096 by default). A key's bucket is chosen by bytes 4..7
 * of the SHA-1 of the key, bits the partition choice (the top bits, partition.ts) does not use, so
 * the keys of one partition spread over all buckets. Both replicas must use the same shape.
 *
 *                       root = H(n1_0 | n1_1 | ... | n1_15)                level 0
 *              n1_i = H(n2_16i | ... | n2_16i+15)                          level 1 (16)
 *          n2_j = H(bucket_16j | ... | bucket_16j+15)                      level 2 (256)
 *   bucket_b = XOR of H(u32be len(key) | key | valueHash) over its keys    level 3 (4,096)
 *
 * A bucket is a map key -> valueHash (the hash of the stored sibling set, computed by the replica
 * store). Its hash is the XOR of its entries' hashes, so update and remove adjust it in O(1) without
 * re-reading the bucket, and it does not depend on insertion order. Interior nodes hash their
 * children in order and are recomputed lazily: a change marks the D nodes above its bucket dirty
 * (O(depth), stopping at the first already-dirty one), and reading a hash recomputes only dirty
 * nodes. Many writes between two exchanges cost one rehash of the touched paths.
 *
 * Hashes are SHA-1 (20 bytes, node:crypto): collision resistance is not needed, only a negligible
 * chance that two different bucket contents hash alike, and SHA-1 is fast and everywhere.
 *
 * The tree keeps the keys themselves (not only their hashes), ~250 B a key: a node does not keep
 * these (PartitionTrees keeps BucketTrees over the key hash index, O(buckets) a partition). It
 * remains as the in-memory model of a replica that diffMerkle's tests compare against.
 */
import { createHash, hash } from 'node:crypto'
import { GatewayError } from '../error/gateway-error.js'
import { keyHash } from '../ring/partition.js'

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

/** 16 x 16 x 16 = 4,096 buckets: ~25 keys a bucket at 100k keys per partition, and a differing key costs ~3 x 16 hashes to find. */
export const DEFAULT_MERKLE_SHAPE: MerkleShape = Object.freeze({ fanout: 16, depth: 3 })

/** SHA-1 digests are 20 bytes; every node hash has this length. */
export const MERKLE_HASH_BYTES = 20

/** 2^24 buckets: beyond that the bucket index would need more than the 32 hash bits we read, and the hash arrays pass 300 MB. */
export const MAX_MERKLE_BUCKETS = 16_777_216

/** A value hash is stored with a one-byte length (merkle-codec.ts). */
export const MAX_VALUE_HASH_BYTES = 255

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

function xorInto (target: Buffer, offset: number, h: Buffer): void {
  for (let i = 0; i < MERKLE_HASH_BYTES; i++) target[offset + i]! ^= h[i]!
}

function assertValueHash (key: Uint8Array, valueHash: Uint8Array): void {
  if (!(valueHash instanceof Uint8Array) || valueHash.length === 0 || valueHash.length > MAX_VALUE_HASH_BYTES) {
    throw new GatewayError('CLUSTER_INVALID_OPTION',
      `value hash for key ${Buffer.from(key).toString('hex')} must be 1..${MAX_VALUE_HASH_BYTES} bytes; pass the digest of the stored sibling set`)
  }
}

/** The hash tree of one partition on one replica. */
export class MerkleTree {
  readonly shape: MerkleShape
  readonly #bucketCount: number
  /** Per level, the node hashes back to back; level D (the buckets) is always current. */
  readonly #levels: Buffer[] = []
  /** Per interior level, 1 where the node hash must be recomputed. */
  readonly #dirty: Uint8Array[] = []
  /** Bucket maps from key (bytes as a latin1 string) to value hash; created on first use. */
  readonly #buckets: Array<Map<string, Buffer> | undefined>
  #size = 0
  #rehashed = 0

  /** An empty tree of the given shape. */
  constructor (shape: MerkleShape = DEFAULT_MERKLE_SHAPE) {
    assertMerkleShape(shape)
    this.shape = Object.freeze({ fanout: shape.fanout, depth: shape.depth })
    this.#bucketCount = shape.fanout ** shape.depth
    for (let d = 0; d <= shape.depth; d++) {
      this.#levels.push(Buffer.alloc(shape.fanout ** d * MERKLE_HASH_BYTES))
      if (d < shape.depth) this.#dirty.push(new Uint8Array(shape.fanout ** d).fill(1))
    }
    this.#buckets = new Array<Map<string, Buffer> | undefined>(this.#bucketCount)
  }

  /** A tree holding the given entries (later duplicates of a key win). */
  static build (entries: Iterable<MerkleEntry>, shape: MerkleShape = DEFAULT_MERKLE_SHAPE): MerkleTree {
    const tree = new MerkleTree(shape)
    for (const e of entries) tree.update(e.key, e.valueHash)
    return tree
  }

  /** Like build, from an async iterator (e.g. a scan of the partition's keys in the engine). */
  static async buildAsync (entries: AsyncIterable<MerkleEntry> | Iterable<MerkleEntry>, shape: MerkleShape = DEFAULT_MERKLE_SHAPE): Promise<MerkleTree> {
    const tree = new MerkleTree(shape)
    for await (const e of entries) tree.update(e.key, e.valueHash)
    return tree
  }

  /**
   * An independent copy: later changes to either do not show in the other. Lets an exchange compare
   * against a stable snapshot while writes keep updating the live tree.
   */
  clone (): MerkleTree {
    const copy = new MerkleTree(this.shape)
    this.#levels.forEach((level, d) => level.copy(copy.#levels[d]!))
    this.#dirty.forEach((dirty, d) => copy.#dirty[d]!.set(dirty))
    // Value hashes are never mutated in place (update stores a copy), so the maps can share them.
    this.#buckets.forEach((bucket, b) => { if (bucket !== undefined) copy.#buckets[b] = new Map(bucket) })
    copy.#size = this.#size
    return copy
  }

  /** Number of keys held. */
  get size (): number {
    return this.#size
  }

  /** F^D, the number of leaf buckets. */
  get bucketCount (): number {
    return this.#bucketCount
  }

  /** Interior node hashes computed so far (a work counter for tests and metrics). */
  get interiorHashesComputed (): number {
    return this.#rehashed
  }

  /** The bucket (0..F^D-1) a key falls in. */
  bucketOf (key: Uint8Array): number {
    return keyHash(key).readUInt32BE(4) % this.#bucketCount
  }

  /** Sets key's value hash (insert or replace); O(1) plus O(depth) dirty marks; a no-op if unchanged. */
  update (key: Uint8Array, valueHash: Uint8Array): void {
    assertValueHash(key, valueHash)
    const b = this.bucketOf(key)
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
    let bucket = this.#buckets[b]
    if (bucket === undefined) {
      bucket = new Map()
      this.#buckets[b] = bucket
    }
    const old = bucket.get(name)
    if (old !== undefined) {
      if (old.equals(valueHash)) return
      xorInto(this.#levels[this.shape.depth]!, b * MERKLE_HASH_BYTES, entryHash(key, old))
    } else {
      this.#size++
    }
    xorInto(this.#levels[this.shape.depth]!, b * MERKLE_HASH_BYTES, entryHash(key, valueHash))
    bucket.set(name, Buffer.from(valueHash))
    this.#markDirty(b)
  }

  /** Removes key; returns whether it was present. */
  remove (key: Uint8Array): boolean {
    const b = this.bucketOf(key)
    const bucket = this.#buckets[b]
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
    const old = bucket?.get(name)
    if (bucket === undefined || old === undefined) return false
    xorInto(this.#levels[this.shape.depth]!, b * MERKLE_HASH_BYTES, entryHash(key, old))
    bucket.delete(name)
    if (bucket.size === 0) this.#buckets[b] = undefined
    this.#size--
    this.#markDirty(b)
    return true
  }

  /** The value hash stored for key, or undefined. */
  get (key: Uint8Array): Buffer | undefined {
    const name = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
    const found = this.#buckets[this.bucketOf(key)]?.get(name)
    return found === undefined ? undefined : Buffer.from(found)
  }

  /** The root hash: equal roots mean (all but certainly) equal contents. */
  root (): Buffer {
    return this.nodeHashes(0, [0])[0]!
  }

  /** Hashes of the given nodes of one level (level D = buckets), rehashing dirty ones; copies. */
  nodeHashes (level: number, indices: readonly number[]): Buffer[] {
    if (!Number.isInteger(level) || level < 0 || level > this.shape.depth) {
      throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle level ${String(level)} is outside 0..${this.shape.depth}`)
    }
    const count = this.shape.fanout ** level
    return indices.map(i => {
      if (!Number.isInteger(i) || i < 0 || i >= count) {
        throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle node ${String(i)} is outside 0..${count - 1} at level ${level}`)
      }
      if (level < this.shape.depth) this.#rehash(level, i)
      const at = i * MERKLE_HASH_BYTES
      return Buffer.from(this.#levels[level]!.subarray(at, at + MERKLE_HASH_BYTES))
    })
  }

  /** The entries of each given bucket, each list sorted by key bytes. */
  bucketEntries (indices: readonly number[]): MerkleEntry[][] {
    return indices.map(b => {
      if (!Number.isInteger(b) || b < 0 || b >= this.#bucketCount) {
        throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle bucket ${String(b)} is outside 0..${this.#bucketCount - 1}`)
      }
      const bucket = this.#buckets[b]
      if (bucket === undefined) return []
      // latin1 strings compare by code unit = byte, so this is key byte order.
      return [...bucket.keys()].sort().map(name => ({ key: Buffer.from(name, 'latin1'), valueHash: Buffer.from(bucket.get(name)!) }))
    })
  }

  /** Every entry, bucket by bucket (keys sorted within a bucket). */
  * entries (): Generator<MerkleEntry> {
    for (let b = 0; b < this.#bucketCount; b++) {
      if (this.#buckets[b] !== undefined) yield * this.bucketEntries([b])[0]!
    }
  }

  #markDirty (bucket: number): void {
    let index = bucket
    for (let d = this.shape.depth - 1; d >= 0; d--) {
      index = Math.floor(index / this.shape.fanout)
      const dirty = this.#dirty[d]!
      // A dirty node's ancestors are dirty already.
      if (dirty[index] === 1) return
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
