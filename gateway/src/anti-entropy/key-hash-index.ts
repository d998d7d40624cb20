import type { Logger } from 'pino'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { ByteSpace, NodeStorage, SpaceOperation } from '../replica/node-storage.js'
import { PREFIX_CHARS, partitionRange, prefixNumber, storageKey, storageKeyOfPrefix, userKeyOf, type KeyRange } from '../replica/storage-keys.js'
import { versionHash } from './version-hash.js'
import { hasCode } from '../error/gateway-error.js'

/**
 * The per-key hash index of anti-entropy: for every stored key K, the engine entry
 * `storageKey(K) -> versionHash(K's stored set)` (20 bytes) in its own sublevel. Its keys carry the
 * same 32-bit ring-hash prefix as the partition-ordered object layout (storage-keys.ts), so one
 * partition, and one bucket of it, is one contiguous range of the index whatever Q is.
 *
 * The index is written in the same engine batch as the object (NodeStorage's object companion), so it
 * never disagrees with the objects, after a crash or a power loss alike: what the objects hold after
 * recovery, the index holds. A data directory whose index was never written (made before the index
 * existed, or whose objects were rewritten by a migration) has its index built per partition by
 * build(), in the background, while the node serves; which partitions are built is kept in the
 * node's metadata (`aae-index`).
 */
export const KEY_HASH_SPACE = 'aae'

/** Metadata key: which partitions' index entries are complete (JSON {partitions: Q, built: base64 bitmap}). */
export const INDEX_STATE_KEY = 'aae-index'

/** Objects read per build step; the event loop serves requests between steps. */
export const BUILD_CHUNK = 1_000

/** One index entry: a user key, the version hash of its stored set, and the key's 32-bit ring-hash prefix. */
export interface KeyHashEntry {
  readonly key: string
  readonly valueHash: Uint8Array
  /** The prefix number (storage-keys.ts prefixNumber), read from the entry's key rather than hashed again. */
  readonly prefix: number
}

const attached = new WeakMap<NodeStorage, KeyHashIndex>()

/** What changed while one build of the index runs. */
interface BuildWatch {
  readonly keys: Set<string>
  readonly dropped: KeyRange[]
}

/** Whether storage key `at` lies in one of `ranges`. */
function inRanges (at: string, ranges: readonly KeyRange[]): boolean {
  return ranges.some((r) => at >= r.gte && (r.lt === undefined || at < r.lt))
}

/** The index of one node's storage (one per NodeStorage: attach() it before the node writes anything). */
export class KeyHashIndex {
  readonly space: ByteSpace
  readonly #storage: NodeStorage
  /** The built partitions as last loaded or stored (builtPartitions, build): what storedHash may vouch for. */
  #built: { readonly q: number, readonly partitions: ReadonlySet<number> } | undefined
  /** Per running build, what changed while it runs: keys whose index entry is newer than what the build read, and ranges dropped. */
  readonly #watchers = new Set<BuildWatch>()

  private constructor (storage: NodeStorage) {
    this.#storage = storage
    this.space = storage.space(KEY_HASH_SPACE)
    storage.addObjectCompanion((key, bytes, at) => this.#operations(key, bytes, at))
    // A partition dropped as a range (NodeStorage.dropRange) loses its index entries in the same unit.
    storage.addKeyedSpace(KEY_HASH_SPACE, (range) => { for (const watch of this.#watchers) watch.dropped.push(range) })
  }

  /**
   * The index of `storage`, maintained from now on with every object write and removal. Every mode
   * of the node attaches it at open, so a data directory that served without a cluster still has a
   * complete index when it joins one.
   */
  static attach (storage: NodeStorage): KeyHashIndex {
    let index = attached.get(storage)
    if (index === undefined) attached.set(storage, index = new KeyHashIndex(storage))
    return index
  }

  /** The index's part of the batch that stores `bytes` (or removes the object) at engine key `at` (storageKey(key)). */
  #operations (key: string, bytes: Uint8Array | undefined, at: string): SpaceOperation[] {
    for (const watch of this.#watchers) watch.keys.add(key)
    if (bytes === undefined) return [{ type: 'del', sublevel: this.space, key: at }]
    let hash: Buffer
    try {
      hash = versionHash(bytes)
    } catch (err) {
      // Not an object's encoding (never from the replica store): no entry, so peers see the key missing and send theirs.
      if (hasCode(err, 'LEVELRING_MALFORMED_BYTES')) return [{ type: 'del', sublevel: this.space, key: at }]
      throw err
    }
    return [{ type: 'put', sublevel: this.space, key: at, value: hash }]
  }

  /**
   * The entries of one engine range of the index (a partition's or a bucket's), in index order. The
   * event loop is let go between pages, so a scan of millions of entries delays no request by more
   * than one page.
   */
  async * entries (range: KeyRange): AsyncGenerator<KeyHashEntry> {
    const iterator = this.space.iterator(range)
    try {
      for (let pages = 0; ; pages++) {
        if (pages > 0) await yieldToEventLoop()
        const page = await iterator.nextv(BUILD_CHUNK)
        if (page.length === 0) return
        for (const [at, valueHash] of page) yield { key: userKeyOf(at), valueHash, prefix: Number.parseInt(at.slice(0, PREFIX_CHARS), 16) }
      }
    } finally {
      await iterator.close()
    }
  }

  /** Partitions of q whose index is complete, as stored (a fresh set when none is, or Q changed). */
  async builtPartitions (q: number): Promise<Set<number>> {
    const stored = await this.#storage.meta.get(INDEX_STATE_KEY)
    const built = new Set<number>()
    const state = stored === undefined ? undefined : JSON.parse(stored) as { partitions: number, built: string }
    if (state !== undefined && state.partitions === q) {
      const bits = Buffer.from(state.built, 'base64')
      for (let p = 0; p < q; p++) if (((bits[p >> 3] ?? 0) & (1 << (p & 7))) !== 0) built.add(p)
    }
    this.#built = { q, partitions: new Set(built) }
    return built
  }

  /**
   * The version hash of `key`'s stored set as the index holds it, read instead of the object (20
   * bytes, nothing hashed): a digest read's answer. The index is written in the object's own batch, so
   * where it is complete the entry is exactly versionHash of what a read of the object returns at the
   * same moment. Returns null where the index cannot vouch for the key: its partition is not known to
   * be built (before builtPartitions was loaded, while a build runs, or never), or the index holds no
   * entry (no object, or one that does not decode: the caller reads the object, so those answers stay
   * exactly what a read of the object gives).
   */
  async storedHash (key: string): Promise<Uint8Array | null> {
    const built = this.#built
    if (built === undefined) return null
    const prefix = prefixNumber(key)
    if (!built.partitions.has(Math.floor(prefix / (2 ** 32 / built.q)))) return null
    return (await this.space.get(storageKeyOfPrefix(prefix, key))) ?? null
  }

  /**
   * storedHash read synchronously (the engine's getSync; the storage must be open): read right after
   * a synchronous read of the object, with nothing in between, it is the hash of those very bytes.
   */
  storedHashSync (key: string): Uint8Array | null {
    const built = this.#built
    if (built === undefined) return null
    const prefix = prefixNumber(key)
    if (!built.partitions.has(Math.floor(prefix / (2 ** 32 / built.q)))) return null
    return this.space.getSync(storageKeyOfPrefix(prefix, key)) ?? null
  }

  async #storeBuilt (q: number, built: ReadonlySet<number>): Promise<void> {
    const bits = Buffer.alloc(Math.ceil(q / 8))
    for (const p of built) bits[p >> 3]! |= 1 << (p & 7)
    // Synced: a built mark must not outlive, in a power loss, the entries it vouches for (they were written before it).
    await this.#storage.meta.put(INDEX_STATE_KEY, JSON.stringify({ partitions: q, built: bits.toString('base64') }), { sync: true } as object)
    this.#built = { q, partitions: new Set(built) }
  }

  /**
   * Make the index of `partitions` (of q) complete, add them to the stored built set, and resolve.
   * For each key of those partitions the build puts the hash of what the objects hold and deletes
   * index entries of keys the objects lack; a key written or removed while the build runs is left
   * to that write's own batch, since the build's read may predate it. `stop()` true ends the build
   * early (nothing is marked built). Returns false when stopped.
   */
  async build (partitions: readonly number[], q: number, objects: ByteSpace, logger: Logger, stop: () => boolean): Promise<boolean> {
    const wanted = new Set(partitions)
    const watch: BuildWatch = { keys: new Set(), dropped: [] }
    // Left to a write's own batch, or to a range drop handed to the engine after the build read the key.
    const touched = { has: (key: string): boolean => watch.keys.has(key) || (watch.dropped.length > 0 && inRanges(storageKey(key), watch.dropped)) }
    this.#watchers.add(watch)
    try {
      // Writes handed to the engine before the watch began are applied before the build reads anything.
      await this.#storage.writeBarrier()
      // Stale entries: index keys of these partitions whose object is gone (removed while no index was kept).
      // One range per partition, or the whole index when every partition is being built.
      const ranges = wanted.size === q ? [{ gte: '' }] : partitions.map((p) => partitionRange(p, q))
      for (const range of ranges) {
        for await (const { key } of this.entries(range)) {
          if (stop()) return false
          if (touched.has(key)) continue
          // Checked and handed to the engine in one tick, after the read: a write landing later is applied after this.
          if ((await objects.get(storageKey(key))) === undefined && !touched.has(key)) {
            await this.#storage.applyOperations([{ type: 'del', sublevel: this.space, key: storageKey(key) }])
          }
        }
      }
      for await (const chunk of scanPartitionObjects(objects, wanted, q)) {
        if (stop()) return false
        const ops: SpaceOperation[] = []
        for (const [key, bytes] of chunk) {
          if (touched.has(key)) continue
          let hash: Buffer
          try {
            hash = versionHash(bytes)
          } catch (err) {
            if (!hasCode(err, 'LEVELRING_MALFORMED_BYTES')) throw err
            logger.error({ key, err: err.message }, 'anti-entropy: a stored object does not decode; left out of the index for a peer to repair')
            ops.push({ type: 'del', sublevel: this.space, key: storageKey(key) })
            continue
          }
          ops.push({ type: 'put', sublevel: this.space, key: storageKey(key), value: hash })
        }
        // Filtered and handed to the engine in one tick: a write landing later is applied after these.
        if (ops.length > 0) await this.#storage.applyOperations(ops)
        await yieldToEventLoop()
      }
      const built = await this.builtPartitions(q)
      for (const p of partitions) built.add(p)
      await this.#storeBuilt(q, built)
      return true
    } finally {
      this.#watchers.delete(watch)
    }
  }
}

/**
 * The objects of some partitions of q, in chunks of [user key, stored bytes]. The object space is
 * keyed by storageKey(K), so each partition is one range: every partition asked for is read once,
 * and no other partition's bytes are read (all of them: one walk of the whole space).
 */
export async function * scanPartitionObjects (objects: ByteSpace, partitions: ReadonlySet<number>, q: number): AsyncGenerator<Array<[string, Uint8Array]>> {
  const ranges: KeyRange[] = partitions.size === q ? [{ gte: '' }] : [...partitions].sort((a, b) => a - b).map((p) => partitionRange(p, q))
  for (const range of ranges) {
    const iterator = objects.iterator(range)
    try {
      for (;;) {
        const page = await iterator.nextv(BUILD_CHUNK)
        if (page.length === 0) break
        yield page.map(([at, bytes]): [string, Uint8Array] => [userKeyOf(at), bytes])
      }
    } finally {
      await iterator.close()
    }
  }
}
