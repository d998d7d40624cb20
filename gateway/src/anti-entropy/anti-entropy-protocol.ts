/**
 * The internode endpoints of anti-entropy (after the common ones in internode/internode-protocol.ts): what
 * one replica of a partition asks another while comparing their Merkle trees and exchanging the
 * keys that differ. Every call is a POST with a binary body, is signed like every internode call
 * (and so is its answer), and answers 200 with a binary body (204 for a merge). Integers are varints,
 * strings and byte strings a varint length then the bytes (encoding/bytes.ts).
 *
 *   POST /internal/v1/anti-entropy/roots     which of these partitions do you replicate, and their roots?
 *     body:   u8 format | varint fanout | varint depth | varint count | count x varint partition
 *     answer: u8 format | count x (u8 status | [20 B root hash when status = ROOT_OK])
 *             status: ROOT_OK, ROOT_NOT_REPLICA (this node does not replicate it: skip it),
 *             ROOT_NOT_READY (its key hash index of the partition is still being built, or its tree
             was not computed within the call's budget: try again later)
 *   POST /internal/v1/anti-entropy/nodes     hashes of some nodes of one level of one tree
 *     body:   u8 format | varint partition | varint level | varint count | count x varint index
 *     answer: the hashes, 20 B each, back to back (merkle-codec.ts encodeNodeHashes)
 *   POST /internal/v1/anti-entropy/buckets   the entries (key, value hash) of some leaf buckets
 *     body:   u8 format | varint partition | varint count | count x varint bucket
 *     answer: merkle-codec.ts encodeBucketEntries
 *   POST /internal/v1/anti-entropy/objects   the stored sets of some keys
 *     body:   u8 format | varint count | count x string key
 *     answer: u8 format | count x (u8 present | [bytes object, the object codec's encoding])
 *   POST /internal/v1/anti-entropy/partition every key of one partition with its stored set, in pages
 *     body:   u8 format | varint partition | varint first bucket | string after key ('' = from the
 *             bucket's first key) | varint max keys
 *     answer: u8 format | u8 done | [varint next bucket | string next after key, when not done]
 *             | varint count | count x (string key | bytes object)
 *             (for a replica whose tree of the partition is empty: it needs everything, so no
 *             hashes are worth comparing; keys go in key hash index order, so bucket by bucket;
 *             the next cursor's after key is the last key sent)
 *   POST /internal/v1/anti-entropy/merge     merge these sets into yours (DVV sync, not fsynced)
 *     body:   u8 format | varint count | count x (string key | bytes object)
 *     answer: 204
 *
 * Roots of a shape the answering node does not use, and nodes or buckets of a partition it does not
 * replicate or whose index is not complete, are a 400 (invalid-parameter); a partition stays
 * comparable once a roots call said ROOT_OK, until the node shuts down (503 shutting-down). Format 2:
 * buckets are slices of the key's ring-hash prefix (storage-keys.ts bucketOf). A comparison therefore costs one roots call per peer
 * for many partitions, then per differing partition depth + 1 calls for hashes and buckets, then
 * one or two batches of objects: traffic follows the size of the difference, not of the data.
 */
import { ByteReader, ByteWriter, malformedBytes } from '../encoding/bytes.js'
import { MERKLE_HASH_BYTES, type MerkleShape } from './merkle-tree.js'
import { INTERNODE_PREFIX } from '../internode/internode-protocol.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import type { StoredObject } from '../replica/stored-object.js'

export const ANTI_ENTROPY_PREFIX = `${INTERNODE_PREFIX}anti-entropy/`
export const ROOTS_PATH = `${ANTI_ENTROPY_PREFIX}roots`
export const NODES_PATH = `${ANTI_ENTROPY_PREFIX}nodes`
export const BUCKETS_PATH = `${ANTI_ENTROPY_PREFIX}buckets`
export const OBJECTS_PATH = `${ANTI_ENTROPY_PREFIX}objects`
export const MERGE_PATH = `${ANTI_ENTROPY_PREFIX}merge`
export const PARTITION_PATH = `${ANTI_ENTROPY_PREFIX}partition`

/** Every request and answer body above has this media type. */
export const ANTI_ENTROPY_MEDIA_TYPE = 'application/vnd.levelring.anti-entropy'

/** Bumped when a layout above changes; a node refuses formats it does not know (400). */
export const ANTI_ENTROPY_FORMAT = 2

export const ROOT_OK = 0
export const ROOT_NOT_REPLICA = 1
export const ROOT_NOT_READY = 2

/** A peer's answer for one partition: its root hash, or why it has none to compare. */
export type RootAnswer = Buffer | 'not-replica' | 'not-ready'

/** Ask for the roots of `partitions` of trees shaped `shape`. */
export interface RootsRequest {
  readonly shape: MerkleShape
  readonly partitions: readonly number[]
}

export function encodeRootsRequest (request: RootsRequest): Buffer {
  const w = new ByteWriter(16 + request.partitions.length * 3)
  w.u8(ANTI_ENTROPY_FORMAT).varint(request.shape.fanout).varint(request.shape.depth).varint(request.partitions.length)
  for (const p of request.partitions) w.varint(p)
  return w.finish()
}

export function decodeRootsRequest (bytes: Uint8Array): RootsRequest {
  const r = reader(bytes)
  const shape = { fanout: r.varint(), depth: r.varint() }
  const partitions = list(r, () => r.varint())
  end(r)
  return { shape, partitions }
}

export function encodeRootsAnswer (roots: readonly RootAnswer[]): Buffer {
  const w = new ByteWriter(1 + roots.length * (1 + MERKLE_HASH_BYTES))
  w.u8(ANTI_ENTROPY_FORMAT)
  for (const root of roots) {
    if (root === 'not-replica') w.u8(ROOT_NOT_REPLICA)
    else if (root === 'not-ready') w.u8(ROOT_NOT_READY)
    else w.u8(ROOT_OK).raw(root)
  }
  return w.finish()
}

/** Decode the answer to a roots request for `count` partitions. */
export function decodeRootsAnswer (bytes: Uint8Array, count: number): RootAnswer[] {
  const r = reader(bytes)
  const roots: RootAnswer[] = []
  for (let i = 0; i < count; i++) {
    const at = r.offset
    const status = r.u8()
    if (status === ROOT_OK) roots.push(Buffer.from(r.raw(MERKLE_HASH_BYTES)))
    else if (status === ROOT_NOT_REPLICA) roots.push('not-replica')
    else if (status === ROOT_NOT_READY) roots.push('not-ready')
    else throw malformedBytes(`unknown root status ${status}`, at)
  }
  end(r)
  return roots
}

/** Ask for node hashes of one level of one partition's tree. */
export interface NodesRequest {
  readonly partition: number
  readonly level: number
  readonly indices: readonly number[]
}

export function encodeNodesRequest (request: NodesRequest): Buffer {
  const w = new ByteWriter(16 + request.indices.length * 3)
  w.u8(ANTI_ENTROPY_FORMAT).varint(request.partition).varint(request.level).varint(request.indices.length)
  for (const i of request.indices) w.varint(i)
  return w.finish()
}

export function decodeNodesRequest (bytes: Uint8Array): NodesRequest {
  const r = reader(bytes)
  const partition = r.varint()
  const level = r.varint()
  const indices = list(r, () => r.varint())
  end(r)
  return { partition, level, indices }
}

/** Ask for the entries of some buckets of one partition's tree. */
export interface BucketsRequest {
  readonly partition: number
  readonly buckets: readonly number[]
}

export function encodeBucketsRequest (request: BucketsRequest): Buffer {
  const w = new ByteWriter(16 + request.buckets.length * 3)
  w.u8(ANTI_ENTROPY_FORMAT).varint(request.partition).varint(request.buckets.length)
  for (const b of request.buckets) w.varint(b)
  return w.finish()
}

export function decodeBucketsRequest (bytes: Uint8Array): BucketsRequest {
  const r = reader(bytes)
  const partition = r.varint()
  const buckets = list(r, () => r.varint())
  end(r)
  return { partition, buckets }
}

export function encodeKeys (keys: readonly string[]): Buffer {
  const w = new ByteWriter(16 + keys.reduce((n, k) => n + k.length + 2, 0))
  w.u8(ANTI_ENTROPY_FORMAT).varint(keys.length)
  for (const key of keys) w.string(key)
  return w.finish()
}

export function decodeKeys (bytes: Uint8Array): string[] {
  const r = reader(bytes)
  const keys = list(r, () => r.string())
  end(r)
  return keys
}

/** One key's stored set as it travels: the object codec's bytes (undefined: the node holds none). */
export interface KeyObject {
  readonly key: string
  readonly bytes: Uint8Array | undefined
}

/** The answer to an objects request: each key's bytes or absence, in the order asked. */
export function encodeObjectsAnswer (objects: readonly KeyObject[]): Buffer {
  const w = new ByteWriter(16 + objects.reduce((n, o) => n + (o.bytes?.length ?? 0) + 4, 0))
  w.u8(ANTI_ENTROPY_FORMAT)
  for (const o of objects) {
    if (o.bytes === undefined) w.u8(0)
    else w.u8(1).bytes(o.bytes)
  }
  return w.finish()
}

/** Decode the answer to an objects request for `keys`; throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT. */
export function decodeObjectsAnswer (bytes: Uint8Array, keys: readonly string[]): Array<StoredObject | undefined> {
  const r = reader(bytes)
  const out = keys.map((key) => (r.u8() === 0 ? undefined : decodeObject(key, r.bytes())))
  end(r)
  return out
}

/** A merge request: keys with the sets to merge into the receiver's. */
export function encodeMergeRequest (objects: ReadonlyArray<{ readonly key: string, readonly object: StoredObject }>): Buffer {
  const encoded = objects.map((o) => ({ key: o.key, bytes: encodeObject(o.object) }))
  const w = new ByteWriter(16 + encoded.reduce((n, o) => n + o.bytes.length + o.key.length + 8, 0))
  w.u8(ANTI_ENTROPY_FORMAT).varint(encoded.length)
  for (const o of encoded) w.string(o.key).bytes(o.bytes)
  return w.finish()
}

/** Decode a merge request; throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT (naming the key). */
export function decodeMergeRequest (bytes: Uint8Array): Array<{ key: string, object: StoredObject }> {
  const r = reader(bytes)
  const out = list(r, () => {
    const key = r.string()
    return { key, object: decodeObject(key, r.bytes()) }
  })
  end(r)
  return out
}

/** Where a page of a partition's keys starts: a bucket, and the key in it after which to go on ('' = its first). */
export interface PartitionCursor {
  readonly bucket: number
  readonly after: string
}

/** Ask for a page of every key of a partition. */
export interface PartitionRequest {
  readonly partition: number
  readonly from: PartitionCursor
  readonly maxKeys: number
}

export function encodePartitionRequest (request: PartitionRequest): Buffer {
  return new ByteWriter(32 + request.from.after.length).u8(ANTI_ENTROPY_FORMAT).varint(request.partition)
    .varint(request.from.bucket).string(request.from.after).varint(request.maxKeys).finish()
}

export function decodePartitionRequest (bytes: Uint8Array): PartitionRequest {
  const r = reader(bytes)
  const partition = r.varint()
  const from = { bucket: r.varint(), after: r.string() }
  const maxKeys = r.varint()
  end(r)
  return { partition, from, maxKeys }
}

/** A page of a partition's keys and where the next one starts (undefined: this was the last). */
export interface PartitionPage {
  readonly objects: ReadonlyArray<{ readonly key: string, readonly bytes: Uint8Array }>
  readonly next: PartitionCursor | undefined
}

export function encodePartitionPage (page: PartitionPage): Buffer {
  const w = new ByteWriter(32 + page.objects.reduce((n, o) => n + o.bytes.length + o.key.length + 8, 0))
  w.u8(ANTI_ENTROPY_FORMAT).u8(page.next === undefined ? 1 : 0)
  if (page.next !== undefined) w.varint(page.next.bucket).string(page.next.after)
  w.varint(page.objects.length)
  for (const o of page.objects) w.string(o.key).bytes(o.bytes)
  return w.finish()
}

/** Decode a page; objects decoded (throws LEVELRING_MALFORMED_BYTES or LEVELRING_CORRUPT_OBJECT). */
export function decodePartitionPage (bytes: Uint8Array): { objects: Array<{ key: string, object: StoredObject }>, next: PartitionCursor | undefined } {
  const r = reader(bytes)
  const done = r.u8() === 1
  const next = done ? undefined : { bucket: r.varint(), after: r.string() }
  const objects = list(r, () => {
    const key = r.string()
    return { key, object: decodeObject(key, r.bytes()) }
  })
  end(r)
  return { objects, next }
}

function reader (bytes: Uint8Array): ByteReader {
  const r = new ByteReader(bytes)
  const format = r.u8()
  if (format !== ANTI_ENTROPY_FORMAT) throw malformedBytes(`anti-entropy format ${format}, this node speaks ${ANTI_ENTROPY_FORMAT} (mixed versions?)`, 0)
  return r
}

/** A counted list. Items are read one by one (each at least a byte), so a forged count fails at the body's end instead of allocating. */
function list<T> (r: ByteReader, item: () => T): T[] {
  const count = r.varint()
  const out: T[] = []
  for (let i = 0; i < count; i++) out.push(item())
  return out
}

function end (r: ByteReader): void {
  if (!r.done) throw malformedBytes('trailing bytes after an anti-entropy message', r.offset)
}
