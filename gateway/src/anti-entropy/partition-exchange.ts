import { diffMerkle, type KeyDifference } from './merkle-diff.js'
import type { MerkleShape } from './merkle-tree.js'
import { BucketTree } from './bucket-tree.js'
import type { LocalPartition } from './partition-trees.js'
import type { ReplicaStore } from '../replica/replica-store.js'
import { isDeleted, type StoredObject } from '../replica/stored-object.js'
import { sameVersions } from '../version/dvv.js'
import type { RemoteReplica } from './remote-replica.js'
import { hasCode } from '../error/gateway-error.js'

/** Keys read from a peer per objects call: bounds one answer (objects can be large) and the time a call takes. */
export const READ_BATCH_KEYS = 128

/** Bytes of objects sent per merge call (at least one object goes, however large). */
export const MERGE_BATCH_BYTES = 4 * 1024 * 1024

/** Keys per page when this replica's tree is empty and it takes the peer's whole partition. */
export const PAGE_KEYS = 500

export interface PartitionExchangeOptions {
  /** The peer's root of this partition, as its roots answer gave it. */
  readonly peerRoot: Buffer
  /** Handle at most this many differing keys (the rest shows up again next time). */
  readonly maxKeys: number
  /**
   * True for a tombstone the reaper may remove (all versions deleted, older than the grace): such a
   * tombstone against nothing on the other side is not a difference worth sending. The side holding
   * it reaps it soon (its reap guard accepts a replica holding nothing), and sending it would bring
   * back what the other side just reaped, round after round.
   */
  readonly reapable: (object: StoredObject) => boolean
}

/** What one exchange of one partition with one peer did. */
export interface PartitionExchangeResult {
  /** Keys whose value hashes differed (or that one side lacked). */
  readonly differing: number
  /** Keys whose peer copy was merged here. */
  readonly pulled: number
  /** Keys sent to the peer to merge (ours, or the merge of both). */
  readonly pushed: number
  /** True when more keys differed than maxKeys. */
  readonly truncated: boolean
  /** Keys skipped because this replica's stored set does not decode (each logged by the store's reader; an operator must delete or restore it). */
  readonly damaged?: number
}

/**
 * Bring one partition of this replica and of `peer` to the same contents: compare the trees
 * (diffMerkle descends only into differing subtrees), read the peer's copy of every key it holds
 * that differs and merge it here, then send the peer the merged set wherever it lacks something
 * we hold. Both replicas end with the DVV sync of both sets (the merge is commutative), so the next
 * comparison finds equal roots. Concurrent writes may make a key differ again: the next round sees it.
 */
export async function exchangePartition (partition: number, local: LocalPartition, peer: RemoteReplica, store: ReplicaStore,
  options: PartitionExchangeOptions): Promise<PartitionExchangeResult> {
  if (local.empty) return takeWholePartition(partition, peer, store, options)
  const all: KeyDifference[] = []
  if (peerRootIsEmpty(local.shape, options.peerRoot)) {
    for await (const e of local.entries()) all.push({ key: e.key, local: e.valueHash })
  } else {
    all.push(...(await diffMerkle(local, peer.tree(partition, local.shape))).differences)
  }
  const truncated = all.length > options.maxKeys
  const differences = truncated ? all.slice(0, options.maxKeys) : all
  const toPull = differences.filter((d) => d.remote !== undefined).map((d) => d.key.toString('utf8'))
  const toPush: string[] = differences.filter((d) => d.remote === undefined).map((d) => d.key.toString('utf8'))
  const merged = new Map<string, StoredObject>()
  let pulled = 0

  let damaged = 0
  for (let i = 0; i < toPull.length; i += READ_BATCH_KEYS) {
    const keys = toPull.slice(i, i + READ_BATCH_KEYS)
    const theirs = await peer.read(keys)
    for (const [j, key] of keys.entries()) {
      const object = theirs[j]
      if (object === undefined) { toPush.push(key); continue } // gone there since the comparison (reaped)
      const ours = await mergePulled(store, key, object, options.reapable)
      if (ours === 'damaged') { damaged++; continue }
      if (ours === undefined) continue
      pulled++
      if (!sameVersions(ours, object)) merged.set(key, ours)
    }
  }

  const outgoing: Array<{ key: string, object: StoredObject }> = [...merged].map(([key, object]) => ({ key, object }))
  for (const key of toPush) {
    const object = await skippingDamaged(async () => store.read(key))
    if (object === 'damaged') { damaged++; continue }
    // Not held any more: reaped since the comparison (the reap's batch removed its index entry too).
    if (object === undefined) continue
    if (options.reapable(object)) continue
    outgoing.push({ key, object })
  }
  let batch: typeof outgoing = []
  let bytes = 0
  for (const item of outgoing) {
    batch.push(item)
    bytes += item.object.siblings.reduce((n, s) => n + s.value.value.length + 64, item.key.length)
    if (bytes >= MERGE_BATCH_BYTES) {
      await peer.merge(batch)
      batch = []
      bytes = 0
    }
  }
  if (batch.length > 0) await peer.merge(batch)
  return { differing: all.length, pulled, pushed: outgoing.length, truncated, damaged }
}

/**
 * Merge a set pulled from another replica into what is stored here: what is held after the merge;
 * undefined for a tombstone the reaper may remove that finds nothing here (merging it would bring a
 * reaped delete back as a fresh tombstone); 'damaged' when the stored set here does not decode.
 */
export async function mergePulled (store: ReplicaStore, key: string, object: StoredObject,
  reapable: (object: StoredObject) => boolean): Promise<StoredObject | undefined | 'damaged'> {
  return await skippingDamaged(async () => {
    if (reapable(object) && (await store.read(key)) === undefined) return undefined
    return await store.merge(key, object, { sync: false })
  })
}

/** Run a store call for one key; a stored set that does not decode (LEVELRING_CORRUPT_OBJECT) is 'damaged', not a failed exchange. */
async function skippingDamaged<T> (call: () => Promise<T>): Promise<T | 'damaged'> {
  try {
    return await call()
  } catch (err) {
    if (hasCode(err, 'LEVELRING_CORRUPT_OBJECT')) return 'damaged'
    throw err
  }
}

/**
 * This replica holds nothing of the partition (wiped, or new to it): every key the peer holds
 * differs, so comparing hashes would only add cost (at depth 2, 273 node hashes and 256 bucket
 * lists per partition, about as many bytes as the keys themselves at ~40 keys a partition). The
 * peer's keys and sets come whole instead, page by page, and are merged here. (When it is the
 * peer's tree that is empty, exchangePartition sends it every key of ours, likewise without a diff.)
 */
async function takeWholePartition (partition: number, peer: RemoteReplica, store: ReplicaStore, options: PartitionExchangeOptions): Promise<PartitionExchangeResult> {
  let from: { bucket: number, after: string } | undefined = { bucket: 0, after: '' }
  let pulled = 0
  let seen = 0
  while (from !== undefined && pulled < options.maxKeys) {
    const page: Awaited<ReturnType<RemoteReplica['partitionPage']>> = await peer.partitionPage(partition, from, Math.min(PAGE_KEYS, options.maxKeys - pulled))
    for (const { key, object } of page.objects) {
      seen++
      const ours = await mergePulled(store, key, object, options.reapable)
      if (ours !== undefined && ours !== 'damaged') pulled++
    }
    from = page.next
  }
  return { differing: seen, pulled, pushed: 0, truncated: from !== undefined }
}

/** True when `root` is that of a tree holding nothing. */
function peerRootIsEmpty (shape: MerkleShape, root: Buffer): boolean {
  return root.equals(emptyRoot(shape))
}

const emptyRoots = new Map<string, Buffer>()

/** The root of a tree holding nothing. */
function emptyRoot (shape: MerkleShape): Buffer {
  const name = `${shape.fanout}x${shape.depth}`
  let root = emptyRoots.get(name)
  if (root === undefined) {
    const tree = new BucketTree(shape)
    for (const b of tree.takeStale()) tree.setBucket(b, Buffer.alloc(20), 0)
    emptyRoots.set(name, root = tree.root())
  }
  return root
}

/** True when every version of `object` is a tombstone written at or before `cutoff` (ms). */
export function tombstoneOlderThan (object: StoredObject, cutoff: number): boolean {
  return isDeleted(object) && object.siblings.every((s) => s.value.lastModified <= cutoff)
}
