/**
 * Hints: replicas this node keeps for another node (the owner) that was down when a write was
 * sent to it (sloppy quorum, Dynamo 4.6). Stored in the engine's `hint` sublevel, so they share
 * the objects' WAL and survive a restart like any write:
 *
 *   key    owner id | 0x00 | storageKey(object key)   (node ids never contain 0x00; one owner's
 *          hints of one partition are one range, storage-keys.ts)
 *   value  the object codec's bytes of the DVV set kept for the owner
 *
 * Two hints for one owner and key merge (DVV sync) into one, so a hint is always the whole of
 * what the owner missed of the key. Handoff (hinted-handoff.ts) sends a hint to its owner and
 * removes it only if it did not change meanwhile (removeIfUnchanged), so a hint that grew while
 * it was being delivered is delivered again.
 */
import type { Logger } from 'pino'
import { mergeReplicas } from '../replica/replica-merge.js'
import { decodeObject, encodeObject } from '../replica/object-codec.js'
import { KeyLock } from '../replica/key-lock.js'
import { durable, type ByteSpace, type NodeStorage } from '../replica/node-storage.js'
import { storageKey, userKeyOf } from '../replica/storage-keys.js'
import type { StoredObject } from '../replica/stored-object.js'
import { sameVersions } from '../version/dvv.js'

/** Separates the owner from the key in a hint's engine key. */
const SEPARATOR = '\u0000'

/** The engine key of `owner`'s hint for `key`. */
function hintId (owner: string, key: string): string {
  return owner + SEPARATOR + storageKey(key)
}

/** What the internode routes and the replica access need of a node's hints. */
export interface HintKeeper {
  /** Keep `object` for `owner` (merged with what is kept already); fsynced first with `sync`. */
  add (owner: string, key: string, object: StoredObject, sync: boolean): Promise<void>
  /** The merge of every hint this node keeps for `key`, whoever the owner; undefined when none. */
  forKey (key: string): Promise<StoredObject | undefined>
}

/**
 * What a node answers for `key` when it serves as a fallback (sloppy quorum): the hints it keeps for
 * the key, never its own stored object. It does not replicate the key, so whatever its own objects
 * hold of it is a stray copy on its way to the replicas (an ownership sweep), maybe long superseded
 * or deleted there, not the key's state.
 */
export async function readAsFallback (hints: HintKeeper, key: string): Promise<StoredObject | undefined> {
  return await hints.forKey(key)
}

/** One stored hint. */
export interface Hint {
  readonly owner: string
  readonly key: string
  readonly object: StoredObject
}

/** The hints of one node, counted per owner. */
export class HintStore implements HintKeeper {
  readonly #space: ByteSpace
  readonly #storage: Pick<NodeStorage, 'syncBarrier'>
  readonly #logger: Logger
  readonly #lock = new KeyLock()
  readonly #counts = new Map<string, number>()

  private constructor (space: ByteSpace, storage: Pick<NodeStorage, 'syncBarrier'>, logger: Logger) {
    this.#space = space
    this.#storage = storage
    this.#logger = logger
  }

  /** Open the node's hint space and count the hints it holds (one scan at start). */
  static async open (storage: NodeStorage, logger: Logger): Promise<HintStore> {
    const store = new HintStore(storage.hints, storage, logger)
    for await (const key of store.#space.keys()) {
      const owner = key.slice(0, key.indexOf(SEPARATOR))
      store.#counts.set(owner, (store.#counts.get(owner) ?? 0) + 1)
    }
    return store
  }

  /** Hints pending per owner (owners with none are absent). */
  pending (): ReadonlyMap<string, number> {
    return this.#counts
  }

  /** Hints pending in all. */
  get total (): number {
    let total = 0
    for (const n of this.#counts.values()) total += n
    return total
  }

  async add (owner: string, key: string, object: StoredObject, fsync: boolean): Promise<void> {
    const id = hintId(owner, key)
    await this.#lock.run(id, async () => {
      const held = await this.#read(id, key)
      const merged = mergeReplicas([held, object])!
      if (held !== undefined && sameVersions(merged, held)) {
        if (fsync) await this.#storage.syncBarrier() // the hint held may have been stored without an fsync
        return
      }
      await this.#space.put(id, encodeObject(merged), durable(fsync))
      if (held === undefined) this.#counts.set(owner, (this.#counts.get(owner) ?? 0) + 1)
    })
  }

  async forKey (key: string): Promise<StoredObject | undefined> {
    if (this.#counts.size === 0) return undefined
    const held = await Promise.all([...this.#counts.keys()].map(async (owner) => await this.#read(hintId(owner, key), key)))
    return mergeReplicas(held)
  }

  /** The hint kept for `owner` of `key`, if any. */
  async get (owner: string, key: string): Promise<StoredObject | undefined> {
    return await this.#read(hintId(owner, key), key)
  }

  /** Up to `limit` hints for `owner`, in engine order (storageKey), after key `after` (exclusive) when given. */
  async list (owner: string, limit: number, after?: string): Promise<Hint[]> {
    const prefix = owner + SEPARATOR
    const range = after === undefined ? { gte: prefix } : { gt: hintId(owner, after) }
    const hints: Hint[] = []
    for await (const [id, bytes] of this.#space.iterator({ ...range, lt: owner + '\u0001', limit })) {
      const key = userKeyOf(id.slice(prefix.length))
      try {
        hints.push({ owner, key, object: decodeObject(key, bytes) })
      } catch (err) {
        // A damaged hint cannot be delivered; keep it for an operator rather than drop it silently.
        this.#logger.error({ err, owner, key }, 'a stored hint does not decode; it is skipped')
      }
    }
    return hints
  }

  /**
   * Remove the hint for `owner` of `key` if it still holds exactly `delivered` (the owner stored
   * that); a hint that grew meanwhile stays for the next delivery. True when it was removed.
   */
  async removeIfUnchanged (owner: string, key: string, delivered: StoredObject): Promise<boolean> {
    const id = hintId(owner, key)
    return await this.#lock.run(id, async () => {
      const held = await this.#read(id, key)
      if (held === undefined || !sameVersions(held, delivered)) return false
      await this.#space.del(id)
      const left = (this.#counts.get(owner) ?? 1) - 1
      if (left > 0) this.#counts.set(owner, left)
      else this.#counts.delete(owner)
      return true
    })
  }

  async #read (id: string, key: string): Promise<StoredObject | undefined> {
    const bytes = await this.#space.get(id)
    return bytes === undefined ? undefined : decodeObject(key, bytes)
  }
}
