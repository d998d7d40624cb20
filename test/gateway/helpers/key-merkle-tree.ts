/**
 * A per-key Merkle tree: the in-memory model of one replica's partition that merkle-diff's tests
 * compare against. It keeps every key (~250 B a key), which is why a node keeps BucketTrees over its
 * key hash index instead; the hashing (bucket hashes, interior levels) is the nodes' own
 * (anti-entropy/merkle-tree.ts), so the model's roots mean what a node's mean.
 *
 * A bucket is a map key -> valueHash; update and remove adjust its hash by XOR in O(1). A key's
 * bucket is chosen by bytes 4..7 of the SHA-1 of the key, bits the partition choice does not use.
 */
import { GatewayError } from '../../../gateway/src/error/gateway-error.js'
import { entryHash, MerkleNodes, type MerkleEntry, type MerkleShape } from '../../../gateway/src/anti-entropy/merkle-tree.js'
import { keyHash } from '../../../gateway/src/ring/partition.js'

/** 16 x 16 x 16 = 4,096 buckets. */
export const DEFAULT_MERKLE_SHAPE: MerkleShape = Object.freeze({ fanout: 16, depth: 3 })

/** A value hash is sent with a one-byte length (merkle-codec.ts). */
const MAX_VALUE_HASH_BYTES = 255

function assertValueHash (key: Uint8Array, valueHash: Uint8Array): void {
  if (!(valueHash instanceof Uint8Array) || valueHash.length === 0 || valueHash.length > MAX_VALUE_HASH_BYTES) {
    throw new GatewayError('CLUSTER_INVALID_OPTION',
      `value hash for key ${Buffer.from(key).toString('hex')} must be 1..${MAX_VALUE_HASH_BYTES} bytes; pass the digest of the stored sibling set`)
  }
}

const nameOf = (key: Uint8Array): string => Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')

/** The hash tree of one partition on one replica, holding its keys. */
export class MerkleTree {
  readonly #nodes: MerkleNodes
  /** Bucket maps from key (bytes as a latin1 string) to value hash; created on first use. */
  readonly #buckets: Array<Map<string, Buffer> | undefined>
  #size = 0

  /** An empty tree of the given shape. */
  constructor (shape: MerkleShape = DEFAULT_MERKLE_SHAPE, nodes = new MerkleNodes(shape)) {
    this.#nodes = nodes
    this.#buckets = new Array<Map<string, Buffer> | undefined>(nodes.bucketCount)
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

  get shape (): MerkleShape {
    return this.#nodes.shape
  }

  /** An independent copy: later changes to either do not show in the other. */
  clone (): MerkleTree {
    const copy = new MerkleTree(this.shape, this.#nodes.clone())
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
    return this.#nodes.bucketCount
  }

  /** Interior node hashes computed so far. */
  get interiorHashesComputed (): number {
    return this.#nodes.interiorHashesComputed
  }

  /** The bucket (0..F^D-1) a key falls in. */
  bucketOf (key: Uint8Array): number {
    return keyHash(key).readUInt32BE(4) % this.bucketCount
  }

  /** Sets key's value hash (insert or replace); a no-op if unchanged. */
  update (key: Uint8Array, valueHash: Uint8Array): void {
    assertValueHash(key, valueHash)
    const b = this.bucketOf(key)
    const name = nameOf(key)
    let bucket = this.#buckets[b]
    if (bucket === undefined) this.#buckets[b] = bucket = new Map()
    const old = bucket.get(name)
    if (old !== undefined) {
      if (old.equals(valueHash)) return
      this.#nodes.xorBucket(b, entryHash(key, old))
    } else {
      this.#size++
    }
    this.#nodes.xorBucket(b, entryHash(key, valueHash))
    bucket.set(name, Buffer.from(valueHash))
  }

  /** Removes key; returns whether it was present. */
  remove (key: Uint8Array): boolean {
    const b = this.bucketOf(key)
    const bucket = this.#buckets[b]
    const name = nameOf(key)
    const old = bucket?.get(name)
    if (bucket === undefined || old === undefined) return false
    this.#nodes.xorBucket(b, entryHash(key, old))
    bucket.delete(name)
    if (bucket.size === 0) this.#buckets[b] = undefined
    this.#size--
    return true
  }

  /** The value hash stored for key, or undefined. */
  get (key: Uint8Array): Buffer | undefined {
    const found = this.#buckets[this.bucketOf(key)]?.get(nameOf(key))
    return found === undefined ? undefined : Buffer.from(found)
  }

  /** The root hash. */
  root (): Buffer {
    return this.#nodes.root()
  }

  /** Hashes of the given nodes of one level (level D = buckets); copies. */
  nodeHashes (level: number, indices: readonly number[]): Buffer[] {
    return this.#nodes.nodeHashes(level, indices)
  }

  /** The entries of each given bucket, each list sorted by key bytes. */
  bucketEntries (indices: readonly number[]): MerkleEntry[][] {
    return indices.map((b) => {
      if (!Number.isInteger(b) || b < 0 || b >= this.bucketCount) {
        throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle bucket ${String(b)} is outside 0..${this.bucketCount - 1}`)
      }
      const bucket = this.#buckets[b]
      if (bucket === undefined) return []
      // latin1 strings compare by code unit = byte, so this is key byte order.
      return [...bucket.keys()].sort().map((name) => ({ key: Buffer.from(name, 'latin1'), valueHash: Buffer.from(bucket.get(name)!) }))
    })
  }

  /** Every entry, bucket by bucket (keys sorted within a bucket). */
  * entries (): Generator<MerkleEntry> {
    for (let b = 0; b < this.bucketCount; b++) {
      if (this.#buckets[b] !== undefined) yield * this.bucketEntries([b])[0]!
    }
  }
}
