import type { Logger } from 'pino'
import { BucketHash, BucketTree } from './bucket-tree.js'
import { GatewayError } from '../error/gateway-error.js'
import type { MerkleEntry, MerkleShape } from './merkle-tree.js'
import type { MerklePeer } from './merkle-diff.js'
import type { ReplicaStore, StoredChange } from '../replica/replica-store.js'
import type { ByteSpace } from '../replica/node-storage.js'
import { bucketOf, bucketRange, partitionRange, PREFIX_CHARS, type KeyRange } from '../replica/storage-keys.js'
import { bucketShape, defaultBucketCount } from './merkle-shape.js'
import type { KeyHashIndex } from './key-hash-index.js'

/** Bytes of bucket trees kept in memory at most (the least recently used partition's tree goes first). */
export const TREE_CACHE_BYTES = 64 * 1024 * 1024

/** Partitions whose key hash index one build step makes complete and marks built (one synced metadata write per step). */
export const BUILD_GROUP_PARTITIONS = 64

/**
 * building: the key hash index of some partitions is being built (exchanges of those are skipped),
 * or the background pass is still computing trees (an exchange computes the trees it needs itself);
 * ready: every partition is indexed and, when they fit the cache, every tree computed; failed:
 * building the index failed (start() retries).
 */
export type TreesState = 'building' | 'ready' | 'failed' | 'closed'

export interface PartitionTreesOptions {
  readonly store: ReplicaStore
  /** The per-key hash index the trees are computed from (kept in the objects' batches). */
  readonly index: KeyHashIndex
  /** The engine's object space: what a build of the index reads. */
  readonly objects: ByteSpace
  /** Q: every key's partition derives from it. */
  readonly partitionCount: number
  /** Buckets per partition (a power of two); defaultBucketCount(Q) when absent. Every replica must use the same. */
  readonly buckets?: number
  /** Bytes of trees kept in memory at most (TREE_CACHE_BYTES when absent). */
  readonly cacheBytes?: number
  readonly logger: Logger
}

/** Figures for /v1/cluster. */
export interface TreesStats {
  readonly state: TreesState
  readonly shape: MerkleShape
  /** Of the partitions whose trees are in memory, those holding at least one key. */
  readonly partitions: number
  /** Keys in the partitions whose trees are in memory, as of their buckets' last computation. */
  readonly keys: number
  /** How long the last build of the key hash index took (ms), once one finished. */
  readonly buildMs?: number
  /** Buckets per partition. */
  readonly buckets: number
  /** Partitions whose key hash index is complete (exchanges of the others are skipped). */
  readonly indexedPartitions: number
  /** Partitions whose bucket tree is in memory. */
  readonly cachedPartitions: number
  /** Of those, partitions whose tree has been computed (the others wait for their first scan). */
  readonly computedPartitions: number
}

/**
 * One partition's tree as an exchange reads it: node hashes from memory, bucket entries and every
 * entry from the key hash index. Satisfies MerklePeer, so diffMerkle and the internode routes use it.
 */
export interface LocalPartition extends MerklePeer {
  readonly partition: number
  readonly shape: MerkleShape
  root: () => Buffer
  nodeHashes: (level: number, indices: readonly number[]) => Buffer[]
  /** Each bucket's entries, sorted by key bytes. */
  bucketEntries: (indices: readonly number[]) => Promise<MerkleEntry[][]>
  /** Every entry of the partition, bucket by bucket. */
  entries: () => AsyncGenerator<MerkleEntry>
  /** True when the partition holds no key here (as of the last refresh). */
  readonly empty: boolean
}

/**
 * Anti-entropy's hash trees, with memory O(partitions x buckets) whatever the node stores. Each
 * partition's tree holds only bucket hashes (BucketTree); a bucket hash is computed from the
 * key hash index (key-hash-index.ts), which the objects' own batches keep current, so nothing here
 * can disagree with the data after a crash: there is no persisted tree to trust or distrust. A
 * stored change marks its bucket stale; reading a tree (local()) first rescans its stale buckets,
 * each one index range. Trees live in a bounded cache (TREE_CACHE_BYTES); a tree not in it is
 * computed by one scan of its partition's index range when needed. At start the index is checked
 * (a stored mark per partition) and the missing partitions are built in the background, while the
 * node serves; until a partition's index is complete its exchanges are skipped, as initiator and
 * when asked (not-ready). Then, when every tree fits the cache, a background pass computes them one
 * partition (one index range) at a time; an exchange never waits for that pass, only for the scan
 * of the partition it compares. Nothing proportional to the key count runs before the node serves
 * or before its first exchange.
 */
export class PartitionTrees {
  readonly shape: MerkleShape
  readonly partitionCount: number
  readonly bucketCount: number
  readonly #options: PartitionTreesOptions
  readonly #cache = new Map<number, BucketTree>()
  readonly #maxCached: number
  /** Per partition, the refresh in progress: refreshes of one tree never overlap. */
  readonly #refreshing = new Map<number, Promise<void>>()
  /** Partitions whose tree in the cache has been computed once (a new tree waits for its first scan). */
  readonly #computed = new Set<number>()
  readonly #unsubscribe: () => void
  #built = new Set<number>()
  #state: TreesState = 'building'
  #run: Promise<void> | undefined
  #buildMs: number | undefined
  #readyWaiters: Array<() => void> = []
  /** Set once every partition's index is complete (or the trees closed): what an exchange of any partition needs. */
  #indexed = false
  #indexedWaiters: Array<() => void> = []

  constructor (options: PartitionTreesOptions) {
    this.#options = options
    this.partitionCount = options.partitionCount
    this.bucketCount = options.buckets ?? defaultBucketCount(options.partitionCount)
    this.shape = bucketShape(this.bucketCount)
    this.#maxCached = Math.max(1, Math.floor((options.cacheBytes ?? TREE_CACHE_BYTES) / BucketTree.bytesFor(this.shape)))
    // Subscribed before the node serves anything, so no change is missed.
    const unsubscribeStored = options.store.onStored((change) => this.#onStored(change))
    const unsubscribeDropped = options.store.onDropped((range) => this.#onDropped(range))
    this.#unsubscribe = () => { unsubscribeStored(); unsubscribeDropped() }
  }

  get state (): TreesState {
    return this.#state
  }

  /** True when partition p's index is complete: its tree can be compared. */
  isReady (p: number): boolean {
    return this.#state !== 'closed' && this.#built.has(p)
  }

  /** Start checking (and building what is missing of) the index; returns at once. */
  start (): void {
    if (this.#state !== 'building' && this.#state !== 'failed') return
    this.#state = 'building'
    this.#run ??= this.#prepare().finally(() => { this.#run = undefined })
  }

  /** Resolves once every partition's index is complete (or the trees are closed). */
  async whenReady (): Promise<void> {
    if (this.#state === 'ready' || this.#state === 'closed') return
    await new Promise<void>((resolve) => this.#readyWaiters.push(resolve))
  }

  /**
   * Resolves once every partition's index is complete (or the trees are closed): every partition can
   * then be compared, its tree computed on demand if the background pass has not reached it.
   */
  async whenIndexed (): Promise<void> {
    if (this.#indexed || this.#state === 'closed') return
    await new Promise<void>((resolve) => this.#indexedWaiters.push(resolve))
  }

  /** The tree of partition p, its stale buckets recomputed first (p's index must be complete: isReady). */
  async local (p: number): Promise<LocalPartition> {
    const tree = this.#cached(p)
    await this.#refresh(p, tree)
    return this.#view(p, tree)
  }

  /** Whether p's tree is in memory and computed (reading it costs no scan of the whole partition). */
  isCached (p: number): boolean {
    return this.#computed.has(p)
  }

  stats (): TreesStats {
    let keys = 0
    let partitions = 0
    for (const tree of this.#cache.values()) {
      keys += tree.keys
      if (tree.keys > 0) partitions++
    }
    return {
      state: this.#state,
      shape: this.shape,
      partitions,
      keys,
      ...(this.#buildMs === undefined ? {} : { buildMs: this.#buildMs }),
      buckets: this.bucketCount,
      indexedPartitions: this.#built.size,
      cachedPartitions: this.#cache.size,
      computedPartitions: this.#computed.size
    }
  }

  /** Stop following changes and stop a build in progress (waits for its current step). */
  async close (): Promise<void> {
    this.#unsubscribe()
    this.#setState('closed')
    await this.#run
    await Promise.all([...this.#refreshing.values()])
  }

  #onStored (change: StoredChange): void {
    const { partition, bucket } = bucketOf(change.key, this.partitionCount, this.bucketCount)
    this.#cache.get(partition)?.markStale(bucket)
  }

  /** A range dropped whole (a partition given up): every bucket of the trees it covers is stale. */
  #onDropped (range: KeyRange): void {
    const width = 2 ** 32 / this.partitionCount
    const start = Number.parseInt(range.gte.slice(0, PREFIX_CHARS).padEnd(PREFIX_CHARS, '0'), 16)
    const end = range.lt === undefined ? 2 ** 32 : Number.parseInt(range.lt.slice(0, PREFIX_CHARS).padEnd(PREFIX_CHARS, '0'), 16)
    for (let p = Math.floor(start / width); p < this.partitionCount && p * width < end; p++) {
      const tree = this.#cache.get(p)
      if (tree !== undefined) for (let b = 0; b < this.bucketCount; b++) tree.markStale(b)
    }
  }

  /** bucketOf (storage-keys.ts) from a key's prefix number, without hashing the key again. */
  #bucketOfPrefix (prefix: number): { partition: number, bucket: number } {
    const width = 2 ** 32 / this.partitionCount
    const partition = Math.floor(prefix / width)
    return { partition, bucket: Math.floor((prefix - partition * width) / (width / this.bucketCount)) }
  }

  /** p's tree from the cache (most recently used now), or a new one with every bucket stale. */
  #cached (p: number): BucketTree {
    let tree = this.#cache.get(p)
    if (tree !== undefined) {
      this.#cache.delete(p)
      this.#cache.set(p, tree)
      return tree
    }
    tree = new BucketTree(this.shape)
    this.#cache.set(p, tree)
    for (const old of this.#cache.keys()) {
      if (this.#cache.size <= this.#maxCached) break
      this.#cache.delete(old)
      this.#computed.delete(old)
    }
    return tree
  }

  async #refresh (p: number, tree: BucketTree): Promise<void> {
    for (;;) {
      const running = this.#refreshing.get(p)
      if (running === undefined) break
      await running
    }
    if (tree.staleCount === 0) return
    const work = this.#recompute(p, tree)
    this.#refreshing.set(p, work)
    try {
      await work
      // Still this partition's tree (not evicted meanwhile): it now holds computed buckets.
      if (this.#cache.get(p) === tree) this.#computed.add(p)
    } finally {
      this.#refreshing.delete(p)
    }
  }

  /** Rescan the stale buckets of p: one range each, or the whole partition's range when many are stale. */
  async #recompute (p: number, tree: BucketTree): Promise<void> {
    const { index } = this.#options
    const q = this.partitionCount
    const stale = tree.takeStale()
    if (stale.length * 8 >= this.bucketCount) {
      const wanted = new Uint8Array(this.bucketCount)
      for (const b of stale) wanted[b] = 1
      const sums = new Map<number, BucketHash>(stale.map((b) => [b, new BucketHash()]))
      for await (const { key, valueHash, prefix } of index.entries(partitionRange(p, q))) {
        const { bucket } = this.#bucketOfPrefix(prefix)
        if (wanted[bucket] === 1) sums.get(bucket)!.add(Buffer.from(key, 'utf8'), valueHash)
      }
      for (const [b, sum] of sums) tree.setBucket(b, sum.hash, sum.keys)
      return
    }
    for (const b of stale) {
      const sum = new BucketHash()
      for await (const { key, valueHash } of index.entries(bucketRange(p, q, b, this.bucketCount))) sum.add(Buffer.from(key, 'utf8'), valueHash)
      tree.setBucket(b, sum.hash, sum.keys)
    }
  }

  #view (p: number, tree: BucketTree): LocalPartition {
    const { index } = this.#options
    const q = this.partitionCount
    const buckets = this.bucketCount
    const bucketEntries = async (indices: readonly number[]): Promise<MerkleEntry[][]> => {
      const out: MerkleEntry[][] = []
      for (const b of indices) {
        if (!Number.isInteger(b) || b < 0 || b >= buckets) {
          throw new GatewayError('CLUSTER_INVALID_OPTION', `Merkle bucket ${String(b)} is outside 0..${buckets - 1}`)
        }
        const entries: MerkleEntry[] = []
        for await (const { key, valueHash } of index.entries(bucketRange(p, q, b, buckets))) entries.push({ key: Buffer.from(key, 'utf8'), valueHash: Buffer.from(valueHash) })
        out.push(entries.sort((x, y) => Buffer.compare(x.key, y.key)))
      }
      return out
    }
    return {
      partition: p,
      shape: this.shape,
      root: () => tree.root(),
      nodeHashes: (level, indices) => tree.nodeHashes(level, indices),
      bucketEntries,
      entries: async function * () {
        for (let b = 0; b < buckets; b++) yield * (await bucketEntries([b]))[0]!
      },
      empty: tree.keys === 0
    }
  }

  /** Load which partitions' index is complete, build the rest (background), then compute the trees that fit the cache. */
  async #prepare (): Promise<void> {
    const { index, objects, logger } = this.#options
    const q = this.partitionCount
    try {
      this.#built = await index.builtPartitions(q)
      const missing = Array.from({ length: q }, (_, p) => p).filter((p) => !this.#built.has(p))
      if (missing.length > 0) {
        const started = performance.now()
        logger.info({ partitions: missing.length }, 'anti-entropy: building the key hash index of partitions that have none')
        // A few partitions per call, each one range: a partition is compared as soon as its group is
        // built, and a build cut short (a crash, a stop) keeps the groups it marked built.
        for (let at = 0; at < missing.length; at += BUILD_GROUP_PARTITIONS) {
          const group = missing.slice(at, at + BUILD_GROUP_PARTITIONS)
          const done = await index.build(group, q, objects, logger, () => this.#state === 'closed')
          if (!done) return
          for (const p of group) this.#built.add(p)
        }
        this.#buildMs = Math.round(performance.now() - started)
        logger.info({ partitions: missing.length, ms: this.#buildMs }, 'anti-entropy: key hash index built')
      }
    } catch (err) {
      if (this.#state === 'closed') return
      this.#state = 'failed'
      logger.error({ err }, 'anti-entropy: building the key hash index failed; the next round retries')
      return
    }
    this.#markIndexed()
    // Warm the cache so a peer's roots call finds the trees computed; an exchange of a partition the
    // pass has not reached computes that tree itself (one partition's scan), and `ready` then means
    // every tree is in memory.
    if (this.#maxCached >= q) {
      try {
        await this.#computeEach()
      } catch (err) {
        if (this.#state !== 'closed') logger.warn({ err }, 'anti-entropy: computing the partition trees failed; each is computed when needed')
      }
    }
    if (this.#state === 'closed') return
    this.#setState('ready')
  }

  /**
   * Compute the tree of every partition not computed yet, one partition at a time, each by one scan
   * of its own index range: memory is one partition's bucket sums, and an exchange waits at most for
   * the partition being scanned (never for the pass), whose next partition waits for the trees
   * exchanges are computing. Partitions an exchange computed are skipped.
   */
  async #computeEach (): Promise<void> {
    for (let p = 0; p < this.partitionCount; p++) {
      // Exchanges first: the pass waits while trees an exchange asked for are being computed.
      for (;;) {
        const asked = [...this.#refreshing.values()]
        if (asked.length === 0) break
        await Promise.allSettled(asked)
      }
      if (this.#state === 'closed') return
      if (this.#computed.has(p)) continue
      await this.local(p)
    }
  }

  #markIndexed (): void {
    this.#indexed = true
    const waiters = this.#indexedWaiters
    this.#indexedWaiters = []
    for (const resolve of waiters) resolve()
  }

  #setState (state: TreesState): void {
    this.#state = state
    if (state === 'closed') this.#markIndexed()
    if (state === 'ready' || state === 'closed') {
      const waiters = this.#readyWaiters
      this.#readyWaiters = []
      for (const resolve of waiters) resolve()
    }
  }
}
