import type { AbstractLevel, AbstractPutOptions } from 'abstract-level'
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

/** A keyspace of the node's engine: string keys, byte values. */
export type ByteSpace = AbstractLevel<any, string, Uint8Array>
/** A keyspace of the node's engine: string keys, string values (small metadata). */
export type TextSpace = AbstractLevel<any, string, string>

/**
 * Sublevel names, kept short because the engine stores the prefix with every key. Objects, metadata
 * and (in the cluster) hints and Merkle trees share one engine, so one WAL and one fsync cover them.
 */
export const SPACES = Object.freeze({ objects: 'obj', meta: 'meta', hints: 'hint', merkle: 'mtree' })

/** One node's engine, split into sublevels by purpose. */
export class NodeStorage {
  readonly #db: AbstractLevel<any, string, string>
  /** The engine's name, as /v1/health reports it. */
  readonly engineName: string
  /** Key → encoded StoredObject (see object-codec.ts). */
  readonly objects: ByteSpace
  /** Node metadata: identity, dot counter lease, context secret. */
  readonly meta: TextSpace

  private constructor (db: AbstractLevel<any, string, string>, engineName: string) {
    this.#db = db
    this.engineName = engineName
    this.objects = db.sublevel<string, Uint8Array>(SPACES.objects, { keyEncoding: 'utf8', valueEncoding: 'view' })
    this.meta = db.sublevel<string, string>(SPACES.meta, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
  }

  /** Open (creating if needed) the engine in `dataDir`. */
  static async open (dataDir: string): Promise<NodeStorage> {
    const { db, name } = await openEngine(dataDir)
    return new NodeStorage(db, name)
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
