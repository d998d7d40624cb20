import type { AbstractLevel, AbstractPutOptions, AbstractSublevel } from 'abstract-level'
import type { FileSystem } from 'lsm-level'
import { openEngine } from './open-engine.js'

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

/** The metadata key syncBarrier() writes. */
const SYNC_BARRIER_KEY = 'sync-barrier'
/** A keyspace of the node's engine: string keys, byte values. */
export type ByteSpace = AbstractSublevel<Root, any, string, Uint8Array>
/** A keyspace of the node's engine: string keys, string values (small metadata). */
export type TextSpace = AbstractSublevel<Root, any, string, string>

/**
 * Sublevel names, kept short because the engine stores the prefix with every key. Objects, metadata
 * and (in the cluster) hints and Merkle trees share one engine, so one WAL and one fsync cover them.
 */
export const SPACES = Object.freeze({ objects: 'obj', tombstones: 'tomb', meta: 'meta', hints: 'hint' })

/** One node's engine, split into sublevels by purpose. */
export class NodeStorage {
  readonly #db: AbstractLevel<any, string, string>
  /** The engine's name, as /v1/health reports it. */
  readonly engineName: string
  /** Key → encoded StoredObject (see object-codec.ts). */
  readonly objects: ByteSpace
  /**
   * Index of deleted keys: key -> time (ms) of its newest tombstone, for every key whose versions
   * are all tombstones. Kept in the same atomic batch as the object, so the reaper reads only this.
   */
  readonly tombstones: TextSpace
  /** Node metadata: identity, dot counter lease, context secret. */
  readonly meta: TextSpace

  private constructor (db: AbstractLevel<any, string, string>, engineName: string) {
    this.#db = db
    this.engineName = engineName
    this.objects = db.sublevel<string, Uint8Array>(SPACES.objects, { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.tombstones = db.sublevel<string, string>(SPACES.tombstones, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    this.meta = db.sublevel<string, string>(SPACES.meta, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  }

  /**
   * Store a key's encoded object and its tombstone-index entry in one atomic engine batch.
   * `deleted`: the time of the newest tombstone when every version is one, null when some version
   * is live, undefined to leave the index entry as it is (no change of state).
   */
  async writeObject (key: string, bytes: Uint8Array, deleted: number | null | undefined, sync: boolean): Promise<void> {
    if (deleted === undefined) { await this.objects.put(key, bytes, durable(sync)); return }
    await this.#db.batch([
      { type: 'put', sublevel: this.objects, key, value: bytes },
      deleted === null
        ? { type: 'del', sublevel: this.tombstones, key }
        : { type: 'put', sublevel: this.tombstones, key, value: String(deleted) }
    ], durable(sync))
  }

  /** Remove a key's object and its tombstone-index entry atomically (reaping). */
  async removeObject (key: string): Promise<void> {
    await this.#db.batch([
      { type: 'del', sublevel: this.objects, key },
      { type: 'del', sublevel: this.tombstones, key }
    ])
  }

  /** Open (creating if needed) the engine in `dataDir`; `fs` as for openEngine. */
  static async open (dataDir: string, fs?: FileSystem): Promise<NodeStorage> {
    const { db, name } = await openEngine(dataDir, fs)
    return new NodeStorage(db, name)
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

  /** Close the engine; waits for pending writes. */
  async close (): Promise<void> {
    await this.#db.close()
  }
}
