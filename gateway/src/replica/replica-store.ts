import type { Logger } from 'pino'
import { GatewayError } from '../error/gateway-error.js'
import { decodeObject, encodeObject } from './object-codec.js'
import type { DotCounter } from './dot-counter.js'
import { KeyLock } from './key-lock.js'
import type { NodeStorage } from './node-storage.js'
import { storageKey, type KeyRange } from './storage-keys.js'
import {
  isDeleted, liveSiblings, normalise, tombstoneVersion, type StoredObject, type StoredVersion
} from './stored-object.js'
import {
  emptyDvvSet, readContext, sameVersions, sync, update, type ActorId, type CausalContext, type Dot
} from '../version/dvv.js'
import { DEFAULT_PRUNING, pruneClock, type PruningBounds } from '../version/pruning.js'

/** Log a warning when a key reaches this many live siblings: some writers do not send contexts. */
export const SIBLING_WARN = 25
/** Refuse a client write that would leave more live siblings than this; resolving them is always allowed. */
export const SIBLING_LIMIT = 100

/** A new value for a key, as a client wrote it. */
export interface NewValue {
  readonly value: Uint8Array
  readonly contentType: string
}

/** What a write supersedes: the versions a context has seen, or every version held right now. */
export type Supersedes = CausalContext | 'current'

/** Options of one replica write. */
export interface ReplicaWriteOptions {
  /** fsync before resolving (the `dw` guarantee). */
  readonly sync: boolean
}

/** Options of one reaping pass. */
export interface ReapOptions {
  /** Veto per key; the cluster will require every replica of the key to hold the tombstone. */
  readonly mayReap?: (key: string, object: StoredObject) => boolean | Promise<boolean>
  /** Inspect at most this many keys (bounds one pass). */
  readonly maxKeys?: number
  /** Start after this key (the `resumeAfter` of the previous pass). */
  readonly after?: string
}

/** What one reaping pass did. */
export interface ReapResult {
  readonly reaped: number
  readonly inspected: number
  /** Set when the pass stopped at `maxKeys`: pass it as `after` to continue. */
  readonly resumeAfter: string | undefined
}

/** The outcome of a write stamped here. */
export interface StampedWrite {
  /** The key's set after the write. */
  readonly object: StoredObject
  /** The dot the new version (or tombstone) got. */
  readonly dot: Dot
  /**
   * `object` in the object codec's bytes, as stored here; absent when the stamp was not stored (a
   * fallback's). Replicas are sent these bytes, so the set is encoded once per write, not once per peer.
   */
  readonly bytes?: Uint8Array
}

/**
 * A change of one key's stored set: the set now held (undefined once reaped) and its encoded bytes
 * (as stored, the Merkle leaf's input). Listeners run after the change is in the engine, inside the
 * key's lock, so they see a key's changes in order; they must not throw or block.
 */
export interface StoredChange {
  readonly key: string
  readonly object: StoredObject | undefined
  readonly bytes: Uint8Array | undefined
}

/**
 * A storage-key range (a partition this node no longer replicates) on its way to being dropped
 * whole: see ReplicaStore.fence() and dropFenced().
 */
export interface RangeFence {
  readonly range: KeyRange
}

interface Fence extends RangeFence {
  /** Set when a write to a key of the range is handed to the engine after the fence went up. */
  written: boolean
  /** The drop, once it is handed to the engine: an operation on a key of the range waits for it before reading. */
  dropping: Promise<void> | undefined
}

export interface ReplicaStoreOptions {
  /** The actor this replica stamps writes with (see node-identity.ts). */
  readonly actor: ActorId
  readonly counter: DotCounter
  readonly logger: Logger
  readonly pruning?: PruningBounds
  readonly siblingWarn?: number
  readonly siblingLimit?: number
  /** Wall clock in ms; tests pass a fake one to age tombstones and clock entries. */
  readonly now?: () => number
}

/**
 * One node's stored objects: each key's DVV set in the engine's object space. Read-modify-write of a
 * key is serialized here, so stamping, merging and reaping never interleave on one key. Knows
 * nothing of HTTP or of other nodes: the coordinator decides where writes go, this applies them.
 */
export class ReplicaStore {
  readonly #storage: NodeStorage
  readonly #counter: DotCounter
  readonly #lock = new KeyLock()
  readonly #log: Logger
  readonly #pruning: PruningBounds
  readonly #warnAt: number
  readonly #limit: number
  readonly #now: () => number
  readonly #listeners = new Set<(change: StoredChange) => void>()
  readonly #dropListeners = new Set<(range: KeyRange) => void>()
  readonly #fences = new Set<Fence>()
  /** The actor this replica stamps writes with. */
  readonly actor: ActorId

  constructor (storage: NodeStorage, options: ReplicaStoreOptions) {
    this.#storage = storage
    this.#counter = options.counter
    this.#log = options.logger
    this.#pruning = options.pruning ?? DEFAULT_PRUNING
    this.#warnAt = options.siblingWarn ?? SIBLING_WARN
    this.#limit = options.siblingLimit ?? SIBLING_LIMIT
    this.#now = options.now ?? Date.now
    this.actor = options.actor
  }

  /**
   * Call `listener` after every change this store makes to a key (stamp, merge, reap): where
   * anti-entropy keeps its Merkle trees current. Returns a function that unsubscribes.
   */
  onStored (listener: (change: StoredChange) => void): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  /** Call `listener` after a range was dropped whole (dropFenced). Returns a function that unsubscribes. */
  onDropped (listener: (range: KeyRange) => void): () => void {
    this.#dropListeners.add(listener)
    return () => { this.#dropListeners.delete(listener) }
  }

  /**
   * Put up a fence over `range`: from now on every write to a key of it is recorded, and the
   * returned promise resolves once every write handed to the engine before is applied, so a walk of
   * the range begun after it sees them. Walk the range and hand its keys over, then dropFenced();
   * unfence() in any case.
   */
  async fence (range: KeyRange): Promise<RangeFence> {
    const fence: Fence = { range, written: false, dropping: undefined }
    this.#fences.add(fence)
    await this.#storage.writeBarrier()
    return fence
  }

  /** Take the fence down (a no-op after dropFenced). */
  unfence (fence: RangeFence): void {
    this.#fences.delete(fence as Fence)
  }

  /**
   * Drop the fenced range whole (NodeStorage.dropRange: objects, tombstone index, key hash index) if
   * nothing could have changed it since the fence went up: no write to it handed to the engine, no
   * operation on one of its keys in flight (it may have read before the drop and write after it), and
   * `mayDrop()` (this node still gives the range up) holds. All of that is checked in the same turn
   * that hands the drop to the engine: a write handed later is applied after the drop and kept, and an
   * operation on a key of the range that starts meanwhile waits for the drop before it reads. False
   * when it did not drop (walk the range again, key by key).
   */
  async dropFenced (fence: RangeFence, mayDrop: () => boolean): Promise<boolean> {
    const f = fence as Fence
    if (!this.#fences.has(f) || f.written || !mayDrop() || this.#lock.someKey((key) => inRange(storageKey(key), f.range))) return false
    f.dropping = this.#storage.dropRange(f.range)
    try {
      await f.dropping
    } finally {
      this.#fences.delete(f)
    }
    for (const listener of this.#dropListeners) {
      try {
        listener(f.range)
      } catch (err) {
        this.#log.error({ err }, 'a range-drop listener threw; it must not')
      }
    }
    return true
  }

  /** Inside the key's lock, before reading: wait for a drop of the key's range in progress. */
  async #enter (key: string): Promise<void> {
    const at = storageKey(key)
    for (const f of this.#fences) {
      if (f.dropping !== undefined && inRange(at, f.range)) await f.dropping.catch(() => {})
    }
  }

  /** Just before a write of `key` is handed to the engine: tell the fences over it. */
  #record (key: string): void {
    if (this.#fences.size === 0) return
    const at = storageKey(key)
    for (const f of this.#fences) if (f.dropping === undefined && inRange(at, f.range)) f.written = true
  }

  /** The key's stored set, tombstones included; undefined when the key holds nothing (never written or reaped). */
  async read (key: string): Promise<StoredObject | undefined> {
    const bytes = await this.#storage.getObject(key)
    return bytes === undefined ? undefined : decodeObject(key, bytes)
  }

  /** The key's stored set in the object codec's bytes, undecoded (a digest read hashes them); undefined when it holds nothing. */
  async readEncoded (key: string): Promise<Uint8Array | undefined> {
    return this.#storage.getObject(key)
  }

  /** readEncoded, synchronously (the store must be open): the bytes are the caller's own. */
  readEncodedSync (key: string): Uint8Array | undefined {
    return this.#storage.getObjectSync(key)
  }

  /**
   * Stamp a client write here: discard what `supersedes` names, add the value (or a tombstone when
   * `value` is null) under a fresh dot of this replica's actor, prune the clock, and store.
   * Throws LEVELRING_TOO_MANY_SIBLINGS, storing nothing, when the write would leave more live
   * siblings than the limit.
   */
  async write (key: string, value: NewValue | null, supersedes: Supersedes, options: ReplicaWriteOptions): Promise<StampedWrite> {
    return this.#lock.run(key, async () => {
      if (this.#fences.size > 0) await this.#enter(key)
      const current = await this.read(key)
      // Under the key's lock over the stored set, which holds every earlier stamp of this actor for the key.
      const stamped = this.#stampWith(key, value, supersedes, current, { actor: this.actor, counter: await this.#counter.next() })
      const bytes = await this.#store(key, current, stamped.object, options.sync)
      return { ...stamped, bytes }
    })
  }

  /**
   * Stamp a client write over `base` without storing it: what a fallback does, which keeps the write
   * only as a hint for the replica it stands in for (its own objects hold only keys it replicates).
   * Same rules and errors as write(). The dot's actor is one of its own, `<actor>~<counter>` with
   * counter 1: `base` (the hints held here) need not hold this node's earlier stamps of the key (one
   * still in flight, or a hint already delivered and dropped), and a clock entry of this node's actor
   * at n would claim to have seen all of them, dropping a version acknowledged to a client.
   */
  async stamp (key: string, value: NewValue | null, supersedes: Supersedes, base: StoredObject | undefined): Promise<StampedWrite> {
    const counter = await this.#counter.next()
    return this.#stampWith(key, value, supersedes, base, { actor: `${this.actor}~${counter}`, counter: 1 })
  }

  #stampWith (key: string, value: NewValue | null, supersedes: Supersedes, base: StoredObject | undefined, dot: Dot): StampedWrite {
    const current = base ?? emptyDvvSet<StoredVersion>()
    const now = this.#now()
    const context = supersedes === 'current' ? readContext(current) : supersedes
    const version: StoredVersion = value === null
      ? tombstoneVersion(now)
      : { tombstone: false, contentType: value.contentType, lastModified: now, value: value.value }
    const next = this.#prune(normalise(update(current, context, dot, version, now)), now)
    this.#checkSiblings(key, next)
    return { object: next, dot }
  }

  /**
   * Merge a set received from another replica (read repair, hinted handoff, anti-entropy) into ours,
   * pruning the clock as a write does (so clocks stay bounded on every replica, not only the stamping one).
   * Never refused for its sibling count: it only carries writes that were already acknowledged.
   * Returns the merged set; writes nothing when ours already holds everything it carries (with `sync`,
   * it still fsyncs: what we hold may have been stored without one). `incomingBytes`, when given, is
   * `incoming` in the object codec's bytes (as a peer sent it): stored as they are when the merge
   * leaves the set exactly as received, which saves encoding it again.
   */
  async merge (key: string, incoming: StoredObject, options: ReplicaWriteOptions, incomingBytes?: Uint8Array): Promise<StoredObject> {
    return this.#lock.run(key, async () => {
      if (this.#fences.size > 0) await this.#enter(key)
      const current = await this.read(key)
      const merged = this.#prune(normalise(current === undefined ? incoming : sync(current, incoming)), this.#now())
      if (current === undefined || !sameVersions(merged, current)) {
        await this.#store(key, current, merged, options.sync, incomingBytes !== undefined && sameEncoding(merged, incoming) ? incomingBytes : undefined)
      }
      else if (options.sync) await this.#storage.syncBarrier() // what is acknowledged as durable must be
      return merged
    })
  }

  /**
   * Delete keys whose every version is a tombstone older than `graceMs` and that `mayReap` allows.
   * Safe against reuse of dots: counters are node-wide, so a key written again after reaping gets
   * dots no old context has seen.
   */
  async reapTombstones (graceMs: number, options: ReapOptions = {}): Promise<ReapResult> {
    const cutoff = this.#now() - graceMs
    const max = options.maxKeys ?? Infinity
    const candidates: string[] = []
    let inspected = 0
    let lastInspected: string | undefined
    let more = false
    // Only deleted keys are in the index, so a pass costs O(tombstones), not O(keys).
    for await (const [key, deletedAt] of this.#storage.tombstoneEntries(options.after === undefined ? {} : { after: options.after })) {
      if (inspected === max) { more = true; break }
      inspected++
      lastInspected = key
      if (Number(deletedAt) <= cutoff) candidates.push(key)
    }
    let reaped = 0
    for (const key of candidates) {
      const done = await this.#lock.run(key, async () => {
        if (this.#fences.size > 0) await this.#enter(key)
        const object = await this.read(key) // re-check: a write may have landed since the scan
        if (object === undefined || !reapable(object, cutoff)) return false
        if (options.mayReap !== undefined && !(await options.mayReap(key, object))) return false
        this.#record(key)
        await this.#storage.removeObject(key)
        this.#notify({ key, object: undefined, bytes: undefined })
        return true
      })
      if (done) reaped++
    }
    return { reaped, inspected, resumeAfter: more ? lastInspected : undefined }
  }

  /**
   * Drop the key from this replica if it still holds exactly `expected` (the versions already
   * pushed to the key's replicas): what a node does with keys of partitions it no longer replicates
   * after a join or leave. A key that changed meanwhile is kept (push it again). Not a delete: no
   * tombstone is written; listeners hear `object: undefined`. True when it was dropped.
   */
  async removeIfUnchanged (key: string, expected: StoredObject): Promise<boolean> {
    return this.#lock.run(key, async () => {
      if (this.#fences.size > 0) await this.#enter(key)
      const held = await this.read(key)
      if (held === undefined || !sameVersions(held, expected)) return false
      this.#record(key)
      await this.#storage.removeObject(key)
      this.#notify({ key, object: undefined, bytes: undefined })
      return true
    })
  }

  /**
   * Keep the clock within the pruning bounds, except a deleted key's: its entries are what make the
   * tombstone dominate the values it deleted, on replicas that missed the delete too; it is reaped
   * (guarded) rather than pruned.
   */
  #prune (object: StoredObject, now: number): StoredObject {
    return isDeleted(object) ? object : pruneClock(object, this.#pruning, now)
  }

  /**
   * Persist `next` over `previous`, updating the tombstone index when the key's deleted state changes;
   * resolves with the bytes stored (`encoded` when given: encodeObject(next) already at hand).
   */
  async #store (key: string, previous: StoredObject | undefined, next: StoredObject, sync: boolean, encoded?: Uint8Array): Promise<Uint8Array> {
    const wasDeleted = previous !== undefined && isDeleted(previous)
    const deleted = isDeleted(next)
    const index = deleted
      ? Math.max(...next.siblings.map((s) => s.value.lastModified)) // newest tombstone: reaping waits for it
      : wasDeleted ? null : undefined
    const bytes = encoded ?? encodeObject(next)
    this.#record(key)
    await this.#storage.writeObject(key, bytes, deleted && wasDeleted && sameTombstones(previous, next) ? undefined : index, sync)
    if (this.#listeners.size > 0) this.#notify({ key, object: next, bytes })
    return bytes
  }

  #notify (change: StoredChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change)
      } catch (err) {
        this.#log.error({ err, key: change.key }, 'a stored-change listener threw; it must not')
      }
    }
  }

  #checkSiblings (key: string, object: StoredObject): void {
    const live = liveSiblings(object).length
    if (live > this.#limit) {
      throw new GatewayError('LEVELRING_TOO_MANY_SIBLINGS',
        `key ${JSON.stringify(key)} would have ${live} siblings, over the limit of ${this.#limit}; ` +
        'read it and write one resolved value back with the X-Causal-Context of that read',
        { key, siblings: live, limit: this.#limit })
    }
    if (live >= this.#warnAt) {
      this.#log.warn({ key, siblings: live, limit: this.#limit },
        'key has many siblings: some writers do not send the X-Causal-Context they read')
    }
  }
}

/**
 * True when `a` and `b` encode to the same bytes: the same clock entries (timestamps included) in the
 * same order, and the same siblings in the same order. A sibling of the same dot is the same write, but
 * its fields are compared anyway: the stored bytes must be exactly encodeObject(a).
 */
export function sameEncoding (a: StoredObject, b: StoredObject): boolean {
  if (a === b) return true
  if (a.clock.size !== b.clock.size || a.siblings.length !== b.siblings.length) return false
  const theirs = b.clock.entries()
  for (const [actor, entry] of a.clock) {
    const [otherActor, other] = theirs.next().value as [string, { counter: number, timestamp: number }]
    if (actor !== otherActor || entry.counter !== other.counter || entry.timestamp !== other.timestamp) return false
  }
  return a.siblings.every((s, i) => {
    const t = b.siblings[i]!
    if (s === t) return true
    const x = s.value
    const y = t.value
    return s.dot.actor === t.dot.actor && s.dot.counter === t.dot.counter && x.tombstone === y.tombstone &&
      x.contentType === y.contentType && x.lastModified === y.lastModified && sameBytes(x.value, y.value)
  })
}

function sameBytes (x: Uint8Array, y: Uint8Array): boolean {
  return x === y || Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(y)
}

function inRange (at: string, range: KeyRange): boolean {
  return at >= range.gte && (range.lt === undefined || at < range.lt)
}

function sameTombstones (a: StoredObject, b: StoredObject): boolean {
  return a.siblings.length === b.siblings.length && a.siblings.every((s, i) => s.value.lastModified === b.siblings[i]!.value.lastModified)
}

function reapable (object: StoredObject, cutoff: number): boolean {
  return isDeleted(object) && object.siblings.every((s) => s.value.lastModified <= cutoff)
}
