import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { Logger } from 'pino'
import { MerkleTree, type MerkleShape } from './merkle-tree.js'
import { partitionOf } from '../ring/partition.js'
import type { ReplicaStore, StoredChange } from '../replica/replica-store.js'
import type { ByteSpace } from '../replica/node-storage.js'
import { merkleShapeFor } from './merkle-shape.js'
import { versionHash } from './version-hash.js'
import { hasCode } from '../error/gateway-error.js'
import { userKeyOf } from '../replica/storage-keys.js'

/**
 * Keys read from the engine per step of a build. Between steps the event loop serves requests, so
 * a build of a million keys delays no request by more than one step (~a few ms).
 */
export const BUILD_CHUNK = 1_000

/** building: the first scan of the engine runs; ready: every tree is current; failed: the scan failed (start() retries). */
export type TreesState = 'building' | 'ready' | 'failed' | 'closed'

export interface PartitionTreesOptions {
  readonly store: ReplicaStore
  /** The engine's object space (storage.objects): what the build scans. */
  readonly objects: ByteSpace
  /** Q: every key's partition, and the trees' shape (merkleShapeFor), derive from it. */
  readonly partitionCount: number
  readonly logger: Logger
}

/** Figures for /v1/cluster. */
export interface TreesStats {
  readonly state: TreesState
  readonly shape: MerkleShape
  /** Partitions holding at least one key. */
  readonly partitions: number
  readonly keys: number
  /** How long the last build took (ms), once one finished. */
  readonly buildMs?: number
}

/**
 * One Merkle tree per partition over the keys this node stores (key -> versionHash of its set).
 * Trees live in memory only: they are built by one scan of the engine when the node starts (in
 * bounded steps, in the background) and kept current from then on by the store's stored-change
 * events, so they never disagree with the engine the way a persisted copy could after a crash. A
 * change that lands while the scan runs is applied at once and the scan skips that key, since the
 * scan's snapshot may predate it. Until the build is done the node neither starts exchanges nor
 * answers them (state `building`), so a half-built tree never makes a peer send what we hold.
 */
export class PartitionTrees {
  readonly shape: MerkleShape
  readonly partitionCount: number
  readonly #options: PartitionTreesOptions
  readonly #trees = new Map<number, MerkleTree>()
  readonly #unsubscribe: () => void
  #state: TreesState = 'building'
  /** Keys changed since the running scan began: their tree entry is newer than what the scan reads. */
  #touched: Set<string> | undefined = new Set()
  #build: Promise<void> | undefined
  #buildMs: number | undefined
  #readyWaiters: Array<() => void> = []

  constructor (options: PartitionTreesOptions) {
    this.#options = options
    this.partitionCount = options.partitionCount
    this.shape = merkleShapeFor(options.partitionCount)
    // Subscribed before the node serves anything, so no change is missed between scan and events.
    this.#unsubscribe = options.store.onStored((change) => this.#onStored(change))
  }

  get state (): TreesState {
    return this.#state
  }

  /** Start the build (or restart one that failed); returns at once. */
  start (): void {
    if (this.#state !== 'building' && this.#state !== 'failed') return
    this.#build ??= this.#rebuild().finally(() => { this.#build = undefined })
  }

  /** Resolves once the trees are ready (or closed). */
  async whenReady (): Promise<void> {
    if (this.#state === 'ready' || this.#state === 'closed') return
    await new Promise<void>((resolve) => this.#readyWaiters.push(resolve))
  }

  /** The tree of partition p, created empty if this node holds no key of it. */
  tree (p: number): MerkleTree {
    let tree = this.#trees.get(p)
    if (tree === undefined) {
      tree = new MerkleTree(this.shape)
      this.#trees.set(p, tree)
    }
    return tree
  }

  stats (): TreesStats {
    let keys = 0
    let partitions = 0
    for (const tree of this.#trees.values()) {
      keys += tree.size
      if (tree.size > 0) partitions++
    }
    return { state: this.#state, shape: this.shape, partitions, keys, ...(this.#buildMs === undefined ? {} : { buildMs: this.#buildMs }) }
  }

  /** Stop following changes and stop a build in progress (waits for its current step). */
  async close (): Promise<void> {
    this.#unsubscribe()
    this.#setState('closed')
    await this.#build
  }

  #onStored (change: StoredChange): void {
    this.#touched?.add(change.key)
    const key = Buffer.from(change.key, 'utf8')
    const tree = this.tree(partitionOf(key, this.partitionCount))
    if (change.bytes === undefined) tree.remove(key)
    else tree.update(key, versionHash(change.bytes))
  }

  async #rebuild (): Promise<void> {
    const started = performance.now()
    const { objects, logger } = this.#options
    this.#trees.clear()
    const touched = new Set<string>()
    this.#touched = touched
    this.#state = 'building'
    let keys = 0
    try {
      const iterator = objects.iterator()
      try {
        for (;;) {
          const entries = await iterator.nextv(BUILD_CHUNK)
          if (entries.length === 0 || this.state === 'closed') break
          for (const [engineKey, bytes] of entries) {
            const key = userKeyOf(engineKey) // the object space is keyed by storageKey
            if (touched.has(key)) continue
            let hash
            try {
              hash = versionHash(bytes)
            } catch (err) {
              // Left out of the tree: its peers see it missing here and send their copy, whose merge replaces it.
              if (hasCode(err, 'LEVELRING_MALFORMED_BYTES')) { logger.error({ key, err: err.message }, 'anti-entropy: a stored object does not decode; left for a peer to repair'); continue }
              throw err
            }
            const name = Buffer.from(key, 'utf8')
            this.tree(partitionOf(name, this.partitionCount)).update(name, hash)
            keys++
          }
          await yieldToEventLoop()
        }
      } finally {
        await iterator.close()
      }
    } catch (err) {
      if (this.state === 'closed') return
      this.#state = 'failed'
      logger.error({ err }, 'anti-entropy: building the Merkle trees from the engine failed; the next round retries')
      return
    }
    if (this.state === 'closed') return
    this.#touched = undefined
    this.#buildMs = Math.round(performance.now() - started)
    this.#setState('ready')
    logger.info({ keys, partitions: this.stats().partitions, ms: this.#buildMs, shape: this.shape }, 'anti-entropy: Merkle trees built')
  }

  #setState (state: TreesState): void {
    this.#state = state
    if (state === 'ready' || state === 'closed') {
      const waiters = this.#readyWaiters
      this.#readyWaiters = []
      for (const resolve of waiters) resolve()
    }
  }
}
