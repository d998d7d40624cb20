import type { AbstractBatchOperation, AbstractLevel, AbstractPutOptions, AbstractSublevel } from 'abstract-level'
import type { FileSystem } from 'lsm-level'
import { openEngine, type EngineTuning } from './open-engine.js'
import { storageKey, userKeyOf, type KeyRange } from './storage-keys.js'

/**
 * Put options with `sync` (classic-level's and lsm-level's fsync-before-resolve flag, not in
 * abstract-level's types): `sync: true` is what a `dw` acknowledgement promises.
 */
export type DurablePutOptions = AbstractPutOptions<any, any> & { sync?: boolean }

/** Options for a put that fsyncs before resolving when `sync` is true. */
export function durable (sync: boolean): DurablePutOptions {
  return { sync }
}

type Root = AbstractLevel<any, string, string>

/** An engine operation on one of the node's sublevels, as NodeStorage's batches take it. */
export type SpaceOperation =
  | { readonly type: 'put', readonly sublevel: ByteSpace, readonly key: string, readonly value: Uint8Array }
  | { readonly type: 'del', readonly sublevel: ByteSpace, readonly key: string }

/**
 * What another component keeps per stored key (anti-entropy's key hash index): the operations to
 * add to the batch that stores a key's object (`bytes`) or removes it (undefined), so that what it
 * keeps can never disagree with the objects, crash or not. `at` is storageKey(key), hashed once per
 * write for the object and every companion. Called synchronously just before the batch is handed to
 * the engine; must not throw.
 */
export type ObjectCompanion = (key: string, bytes: Uint8Array | undefined, at: string) => readonly SpaceOperation[]

/** The metadata key syncBarrier() writes. */
const SYNC_BARRIER_KEY = 'sync-barrier'

/**
 * Metadata key prefix of a range drop (dropRange): RANGE_DROP_PREFIX + the range's start -> JSON
 * { lt?, spaces }. Written before the drop's clears and deleted after them, all handed to the engine
 * together, so a crash that kept some clears but not all of them leaves the marker, and open()
 * finishes the drop before anything else is written.
 */
export const RANGE_DROP_PREFIX = 'range-drop/'

interface RangeDropMarker {
  readonly lt?: string
  readonly spaces: readonly string[]
}
/** A keyspace of the node's engine: string keys, byte values. */
export type ByteSpace = AbstractSublevel<Root, any, string, Uint8Array>
/** A keyspace of the node's engine: string keys, string values (small metadata). */
export type TextSpace = AbstractSublevel<Root, any, string, string>

/**
 * Sublevel names, kept short because the engine stores the prefix with every key. Objects, metadata
 * and (in the cluster) hints and Merkle trees share one engine, so one WAL and one fsync cover them.
 * Objects, the tombstone index and hints are keyed by storageKey (storage-keys.ts: a partition is one
 * range); storage-format.ts moves a directory of the earlier layout (LEGACY_SPACES) into them.
 */
export const SPACES = Object.freeze({ objects: 'o', tombstones: 't', meta: 'meta', hints: 'h' })

/** The spaces of storage format 0, keyed by the user key. */
export const LEGACY_SPACES = Object.freeze({ objects: 'obj', tombstones: 'tomb', hints: 'hint' })

/** Where an object walk starts and stops. */
export interface ObjectWalk {
  /** Only this engine range (partitionRange, bucketRange); the whole keyspace when absent. */
  readonly range?: KeyRange
  /** Start after this user key (the last one a previous walk of the same range gave). */
  readonly after?: string
}

/** Iterator options of `walk` over a space keyed by storageKey. */
export function walkOptions (walk: ObjectWalk): { gt?: string, gte?: string, lt?: string } {
  const lt = walk.range?.lt === undefined ? {} : { lt: walk.range.lt }
  if (walk.after !== undefined) return { gt: storageKey(walk.after), ...lt }
  return walk.range === undefined ? {} : { gte: walk.range.gte, ...lt }
}

/** One node's engine, split into sublevels by purpose. */
export class NodeStorage {
  readonly #db: AbstractLevel<any, string, string>
  /** The engine's name, as /v1/health reports it. */
  readonly engineName: string
  /**
   * storageKey(key) -> encoded StoredObject (see object-codec.ts): engine keys, so that a partition
   * is one range. Read and write user keys through getObject/objectEntries/writeObject.
   */
  readonly objects: ByteSpace
  /**
   * Index of deleted keys: storageKey(key) -> time (ms) of its newest tombstone, for every key whose
   * versions are all tombstones. Kept in the same atomic batch as the object, so the reaper reads only this.
   */
  readonly tombstones: TextSpace
  /** Node metadata: identity, dot counter lease, context secret, storage format. */
  readonly meta: TextSpace
  /** Hints (hint-store.ts): owner | 0x00 | storageKey(key) -> encoded StoredObject. */
  readonly hints: ByteSpace
  /** Bytes of encoded objects handed to the engine since open (the user bytes of write amplification). */
  storedBytes = 0
  readonly #companions: ObjectCompanion[] = []
  /** Spaces keyed by storageKey besides the objects and the tombstone index (the key hash index): a range drop clears them too. */
  readonly #keyedSpaces: string[] = []
  readonly #dropListeners: Array<(range: KeyRange) => void> = []

  private constructor (db: AbstractLevel<any, string, string>, engineName: string) {
    this.#db = db
    this.engineName = engineName
    this.objects = db.sublevel<string, Uint8Array>(SPACES.objects, { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.tombstones = db.sublevel<string, string>(SPACES.tombstones, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    this.meta = db.sublevel<string, string>(SPACES.meta, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    this.hints = this.space(SPACES.hints)
  }

  /** One atomic engine batch of operations on this storage's sublevels. */
  async batch (ops: Array<AbstractBatchOperation<Root, any, any>>, sync = false): Promise<void> {
    await this.#db.batch(ops, durable(sync))
  }

  /**
   * Store a key's encoded object and its tombstone-index entry in one atomic engine batch.
   * `deleted`: the time of the newest tombstone when every version is one, null when some version
   * is live, undefined to leave the index entry as it is (no change of state).
   */
  async writeObject (key: string, bytes: Uint8Array, deleted: number | null | undefined, sync: boolean): Promise<void> {
    this.storedBytes += bytes.length
    const at = storageKey(key)
    const extra = this.#companionOps(key, bytes, at)
    if (deleted === undefined && extra.length === 0) { await this.objects.put(at, bytes, durable(sync)); return }
    await this.#db.batch([
      { type: 'put', sublevel: this.objects, key: at, value: bytes },
      ...(deleted === undefined
        ? []
        : [deleted === null
            ? { type: 'del' as const, sublevel: this.tombstones, key: at }
            : { type: 'put' as const, sublevel: this.tombstones, key: at, value: String(deleted) }]),
      ...extra
    ] as any[], durable(sync))
  }

  /** Remove a key's object and its tombstone-index entry atomically (reaping). */
  async removeObject (key: string): Promise<void> {
    const at = storageKey(key)
    await this.#db.batch([
      { type: 'del', sublevel: this.objects, key: at },
      { type: 'del', sublevel: this.tombstones, key: at },
      ...this.#companionOps(key, undefined, at)
    ] as any[])
  }

  /**
   * Apply `ops` in one batch, handed to the engine in this call (so after every write handed to it
   * before, and before every write handed to it after): for a companion's own upkeep.
   */
  async applyOperations (ops: readonly SpaceOperation[]): Promise<void> {
    await this.#db.batch(ops as any[])
  }

  /** Add `companion`'s operations to every later object write and removal (see ObjectCompanion). */
  addObjectCompanion (companion: ObjectCompanion): void {
    this.#companions.push(companion)
  }

  /**
   * Name a space keyed by storageKey that goes with the objects (a companion's), so dropRange() clears
   * it too; `onDrop` is called synchronously just before a drop's operations are handed to the engine.
   */
  addKeyedSpace (name: string, onDrop?: (range: KeyRange) => void): void {
    if (!this.#keyedSpaces.includes(name)) this.#keyedSpaces.push(name)
    if (onDrop !== undefined) this.#dropListeners.push(onDrop)
  }

  /**
   * Remove every key of `range` (a storage-key range: partitionRange) from the objects, the tombstone
   * index and the keyed spaces, as one unit: a range tombstone per space (lsm-level's clear(), O(1)
   * however many keys the range holds), between a marker put and its removal, all handed to the
   * engine in this call. So the drop is ordered after every write handed to the engine before the
   * call and before every write handed after it (which survives), and a crash in the middle is
   * finished by the next open (see RANGE_DROP_PREFIX). The caller makes sure nothing in the range
   * still needs to be kept (ReplicaStore.dropFenced).
   */
  async dropRange (range: KeyRange): Promise<void> {
    for (const listener of this.#dropListeners) listener(range)
    const spaces = [...this.#keyedSpaces, SPACES.tombstones, SPACES.objects]
    const marker: RangeDropMarker = range.lt === undefined ? { spaces } : { lt: range.lt, spaces }
    const markerKey = RANGE_DROP_PREFIX + range.gte
    await Promise.all([
      this.meta.put(markerKey, JSON.stringify(marker)),
      ...spaces.map(async (name) => { await this.#rawSpace(name).clear(range) }),
      this.meta.del(markerKey)
    ])
  }

  /** Finish the range drops a crash interrupted (their markers are still there): before the node writes anything. */
  async #finishRangeDrops (): Promise<void> {
    for await (const [key, json] of this.meta.iterator({ gte: RANGE_DROP_PREFIX, lt: RANGE_DROP_PREFIX + '\uffff' })) {
      const marker = JSON.parse(json) as RangeDropMarker
      const gte = key.slice(RANGE_DROP_PREFIX.length)
      const range = marker.lt === undefined ? { gte } : { gte, lt: marker.lt }
      for (const name of marker.spaces) await this.#rawSpace(name).clear(range)
      await this.meta.del(key, durable(true))
    }
  }

  #rawSpace (name: string): AbstractSublevel<Root, any, string, unknown> {
    return this.#db.sublevel<string, unknown>(name, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  #companionOps (key: string, bytes: Uint8Array | undefined, at: string): SpaceOperation[] {
    return this.#companions.length === 0 ? [] : this.#companions.flatMap((companion) => companion(key, bytes, at))
  }

  /**
   * Resolves once every write handed to the engine before this call is applied (the engine applies
   * writes in the order they are handed to it): a cheap unsynced metadata write.
   */
  async writeBarrier (): Promise<void> {
    await this.meta.put(SYNC_BARRIER_KEY, '')
  }

  /** The encoded object stored for user key `key`, if any. */
  async getObject (key: string): Promise<Uint8Array | undefined> {
    return await this.objects.get(storageKey(key))
  }

  /**
   * getObject read synchronously (the engine's getSync; the storage must be open). The bytes are
   * the caller's own (the engine copies a value out of its memtable or block), so views of them stay valid.
   */
  getObjectSync (key: string): Uint8Array | undefined {
    return this.objects.getSync(storageKey(key))
  }

  /**
   * The stored objects of `walk`'s range as [user key, encoded object], in engine order (partition
   * by partition, by hash within one): a range walk reads only that range's bytes.
   */
  async * objectEntries (walk: ObjectWalk = {}): AsyncGenerator<[string, Uint8Array]> {
    for await (const [at, bytes] of this.objects.iterator(walkOptions(walk))) yield [userKeyOf(at), bytes]
  }

  /** The tombstone index of `walk`'s range as [user key, time of the newest tombstone], in engine order. */
  async * tombstoneEntries (walk: ObjectWalk = {}): AsyncGenerator<[string, string]> {
    for await (const [at, deletedAt] of this.tombstones.iterator(walkOptions(walk))) yield [userKeyOf(at), deletedAt]
  }

  /** Open (creating if needed) the engine in `dataDir`; `fs` and `tuning` as for openEngine. */
  static async open (dataDir: string, fs?: FileSystem, tuning: EngineTuning = {}): Promise<NodeStorage> {
    const { db, name } = await openEngine(dataDir, fs, tuning)
    const storage = new NodeStorage(db, name)
    try {
      await storage.#finishRangeDrops()
    } catch (err) {
      await db.close()
      throw err
    }
    return storage
  }

  /**
   * Make every write made so far durable: an fsynced write of a metadata key, which syncs the one
   * WAL holding all earlier writes. For a durable acknowledgement (dw, a hint's delivery) of a write
   * that changed nothing: the state it rests on may have been stored without an fsync.
   */
  async syncBarrier (): Promise<void> {
    await this.meta.put(SYNC_BARRIER_KEY, '', durable(true))
  }

  /** A byte-valued sublevel for another component (hints, Merkle trees). */
  space (name: string): ByteSpace {
    return this.#db.sublevel<string, Uint8Array>(name, { keyEncoding: 'utf8', valueEncoding: 'view' })
  }

  /** The engine's statistics (lsm-level's 'lsm.stats' property); undefined while it is not open or for an engine without them. */
  engineStats (): unknown {
    const db = this.#db as { status: string, getProperty?: (name: string) => unknown }
    return db.status === 'open' ? db.getProperty?.('lsm.stats') : undefined
  }

  /**
   * A checkpoint of the engine in `dir` (a new directory on the data directory's file system): the
   * engine's files as of one moment, tables hard-linked, taken while the node keeps serving. Throws
   * LEVELRING_UNSUPPORTED for an engine without checkpoints.
   */
  async checkpoint (dir: string): Promise<{ tables: number, linked: number, bytes: number }> {
    const db = this.#db as { checkpoint?: (dir: string) => Promise<{ tables: number, linked: number, bytes: number }> }
    if (db.checkpoint === undefined) throw new Error(`the ${this.engineName} engine cannot write checkpoints`)
    return await db.checkpoint(dir)
  }

  /** Close the engine; waits for pending writes. */
  async close (): Promise<void> {
    await this.#db.close()
  }
}
