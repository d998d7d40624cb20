import { AbstractLevel, AbstractSnapshot } from 'abstract-level'
import type {
  AbstractDatabaseOptions, AbstractOpenOptions, AbstractIteratorOptions, AbstractKeyIteratorOptions,
  AbstractValueIteratorOptions, AbstractClearOptions, AbstractBatchOperation
} from 'abstract-level'
import ModuleError from 'module-error'
import { notOpen } from './errors.js'
import { Engine, type WriteOp } from './db/engine.js'
import { DbIterator } from './iterator/db-iterator.js'
import type { ValueSlice } from './iterator/internal-iterator.js'
import { LsmIterator, LsmKeyIterator, LsmValueIterator } from './iterator/level-iterators.js'
import { type Data, type Encoding, boundsOf, checkSize, fromSlice, toBuffer, toKey, toValue } from './data-encoding.js'
import { type CompressionName, type CompressionOption, type EngineOptions, type EngineOptionsInput, isEngineOptionName, LEVEL_OPTION_NAMES } from './options.js'
import { KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE } from './keys.js'
import { RealFileSystem } from './fs/real.js'
import type { FileSystem } from './fs/file-system.js'
import { repairDatabase, type RepairReport } from './db/repair.js'

export type { CompressionName, CompressionOption, EngineOptions, EngineOptionsInput, RepairReport, FileSystem }
export { RealFileSystem }
export { MemoryFileSystem } from './fs/memory.js'
export { FaultInjectingFileSystem } from './fs/fault.js'

/**
 * Options of the LsmLevel constructor: abstract-level's, classic-level's (`cacheSize`, `compression`,
 * `multithreading: false`), and the engine's tuning (see EngineOptions).
 */
export interface LsmLevelOptions<K = string, V = string> extends AbstractDatabaseOptions<K, V>, EngineOptionsInput {
  /** classic-level's: opening one directory from several threads. Not supported: only false is accepted. */
  multithreading?: boolean
}

/** Names already warned about in this process: each unknown option is reported once. */
const warnedOptions = new Set<string>()

/**
 * Unknown options are warned about once per name (a process warning, code LSM_LEVEL_UNKNOWN_OPTION), not
 * refused: abstract-level hands every constructor option to open hooks, where a plugin may read its own.
 */
function warnUnknownOption (name: string): void {
  if (warnedOptions.has(name)) return
  warnedOptions.add(name)
  process.emitWarning(`lsm-level: option '${name}' is not one of lsm-level's, abstract-level's or classic-level's; it is ignored`, { code: 'LSM_LEVEL_UNKNOWN_OPTION' })
}

/** Splits options into the engine's (aliases included) and the rest; refuses what cannot be honoured. */
function engineOptionsOf (options: Record<string, unknown>, warn: boolean): EngineOptionsInput {
  const engine: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(options)) {
    if (isEngineOptionName(k)) engine[k] = v
    else if (k === 'multithreading') {
      if (v === true) throw new ModuleError("lsm-level does not support multithreading: true (a directory is opened by one database at a time)", { code: 'LEVEL_NOT_SUPPORTED' })
    } else if (warn && !LEVEL_OPTION_NAMES.has(k)) warnUnknownOption(k)
  }
  return engine as EngineOptionsInput
}

/** Options of LsmLevel.open(): abstract-level's open options. */
export type LsmOpenOptions = AbstractOpenOptions

const kSeq = Symbol('seq')
const kEngine = Symbol('engine')

/** Lookup keys of ASCII strings, by length: a point read copies its key here instead of allocating one. */
const lookupKeys: Buffer[] = []
/** Keys longer than this get a new Buffer per read. */
const MAX_LOOKUP_KEY = 128

/**
 * key's bytes in a buffer of exactly its length that the next point read reuses, when key is ASCII (its
 * bytes are then its characters) and not long; else undefined. Only for synchronous lookups that keep no
 * reference to the key once they return (Engine.find).
 */
function asciiLookupKey (key: string): Buffer | undefined {
  const n = key.length
  if (n > MAX_LOOKUP_KEY) return undefined
  let b = lookupKeys[n]
  if (b === undefined) b = lookupKeys[n] = Buffer.allocUnsafeSlow(n)
  for (let i = 0; i < n; i++) {
    const c = key.charCodeAt(i)
    if (c > 0x7f) return undefined
    b[i] = c
  }
  return b
}

/** Engine.find for a key as the caller gave it; the value goes into `found`. */
function findKey (engine: Engine, key: Data, keyEncoding: Encoding, seq: number, found: ValueSlice): boolean {
  // An ASCII string key is its own latin1 form (the memtables' lookups need no decoding), and its bytes go in
  // a reused buffer.
  const k = typeof key === 'string' ? asciiLookupKey(key) : undefined
  return k !== undefined ? engine.find(k, seq, found, key as string) : engine.find(toBuffer(key, keyEncoding), seq, found)
}

/** The value of key as of seq, decoded (or copied) for the caller straight from where the engine holds it. */
function findValue (engine: Engine, key: Data, keyEncoding: Encoding, seq: number, valueEncoding: Encoding, found: ValueSlice): Data | undefined {
  if (!findKey(engine, key, keyEncoding, seq, found)) return undefined
  return fromSlice(found.data, found.start, found.end, valueEncoding)
}

/** An explicit snapshot: a pinned sequence number that reads given `{ snapshot }` see the database at. */
class LsmSnapshot extends AbstractSnapshot {
  readonly [kSeq]: number
  readonly [kEngine]: Engine

  constructor (engine: Engine, options: object) {
    // @ts-expect-error abstract-level's typings omit the constructor's options argument
    super(options)
    this[kEngine] = engine
    this[kSeq] = engine.acquireSnapshot()
  }

  async _close (): Promise<void> {
    this[kEngine].releaseSnapshot(this[kSeq])
  }
}

function openDbIterator (db: LsmLevel<any, any>, options: AbstractIteratorOptions<any, any> & { snapshot?: AbstractSnapshot }): DbIterator {
  const engine = db[kEngine]!
  const snap = options.snapshot !== undefined && options.snapshot !== null
    ? (options.snapshot as LsmSnapshot)[kSeq]
    : engine.visibleSequence
  const { lower, upper } = boundsOf(options, (options.keyEncoding ?? 'utf8') as Encoding)
  return new DbIterator(engine.newInternalIterator(snap), snap, lower, upper, options.reverse === true)
}

/**
 * An abstract-level database on the lsm-level storage engine: a commit log, a memtable, SSTables with
 * bloom filters and leveled compaction, in TypeScript (optional native addons for CRC-32C and LZ4, with JavaScript
 * fallbacks). A drop-in for classic-level.
 */
export class LsmLevel<K = string, V = string> extends AbstractLevel<Data, K, V> {
  readonly #location: string
  /** Where this database's point reads put the value they found (reads are synchronous: one at a time). */
  readonly #found: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }
  readonly #engineOptions: EngineOptionsInput
  [kEngine]: Engine | null = null

  constructor (location: string, options?: LsmLevelOptions<K, V>) {
    if (typeof location !== 'string' || location === '') {
      throw new TypeError("The first argument 'location' must be a non-empty string")
    }
    // Engine tuning stays here; everything else (encodings, open options, userland options) goes to
    // abstract-level, which hands it to open() and the postopen hooks.
    const levelOptions: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(options ?? {})) if (!isEngineOptionName(k)) levelOptions[k] = v
    const engineOptions = engineOptionsOf((options ?? {}) as Record<string, unknown>, true)
    super({
      encodings: { buffer: true, view: true, utf8: true },
      seek: true,
      implicitSnapshots: true,
      explicitSnapshots: true,
      has: true,
      getSync: true,
      permanence: true,
      createIfMissing: true,
      errorIfExists: true,
      // Iterator calls do their work synchronously in slices and check the signal between slices.
      signals: { iterators: true },
      additionalMethods: {
        approximateSize: true,
        compactRange: true,
        getProperty: true,
        flush: true,
        checkpoint: true
      }
    } as ConstructorParameters<typeof AbstractLevel>[0], levelOptions as AbstractDatabaseOptions<K, V>)
    this.#location = location
    this.#engineOptions = engineOptions
  }

  /** The directory of the database. */
  get location (): string { return this.#location }

  #engine (): Engine {
    const e = this[kEngine]
    if (e === null) throw notOpen()
    return e
  }

  async _open (options: AbstractOpenOptions): Promise<void> {
    // classic-level also takes its options at open(): those given there override the constructor's.
    this[kEngine] = await Engine.open(this.#location, {
      ...this.#engineOptions,
      ...engineOptionsOf(options as Record<string, unknown>, false),
      createIfMissing: options.createIfMissing !== false,
      errorIfExists: options.errorIfExists === true
    })
  }

  async _close (): Promise<void> {
    const e = this[kEngine]
    this[kEngine] = null
    await e?.close()
  }

  #snapSeq (options: { snapshot?: unknown }): number | undefined {
    const s = options.snapshot as LsmSnapshot | undefined | null
    return s !== undefined && s !== null ? s[kSeq] : undefined
  }

  async _get (key: Data, options: { keyEncoding: Encoding, valueEncoding: Encoding, snapshot?: unknown }): Promise<Data | undefined> {
    return this._getSync(key, options)
  }

  _getSync (key: Data, options: { keyEncoding: Encoding, valueEncoding: Encoding, snapshot?: unknown }): Data | undefined {
    const engine = this.#engine()
    return findValue(engine, key, options.keyEncoding, this.#snapSeq(options) ?? engine.visibleSequence, options.valueEncoding, this.#found)
  }

  async _getMany (keys: Data[], options: { keyEncoding: Encoding, valueEncoding: Encoding, snapshot?: unknown }): Promise<Array<Data | undefined>> {
    const engine = this.#engine()
    // One sequence for all keys: the answer is a consistent snapshot.
    const seq = this.#snapSeq(options) ?? engine.visibleSequence
    const out = new Array<Data | undefined>(keys.length)
    for (let i = 0; i < keys.length; i++) out[i] = findValue(engine, keys[i], options.keyEncoding, seq, options.valueEncoding, this.#found)
    return out
  }

  async _has (key: Data, options: { keyEncoding: Encoding, snapshot?: unknown }): Promise<boolean> {
    const engine = this.#engine()
    return findKey(engine, key, options.keyEncoding, this.#snapSeq(options) ?? engine.visibleSequence, this.#found)
  }

  async _hasMany (keys: Data[], options: { keyEncoding: Encoding, snapshot?: unknown }): Promise<boolean[]> {
    const engine = this.#engine()
    const seq = this.#snapSeq(options) ?? engine.visibleSequence
    return keys.map((k) => findKey(engine, k, options.keyEncoding, seq, this.#found))
  }

  // _put and _del return the engine's promise as it is (no async frame of their own: a put that goes straight to
  // the log resolves in one microtask). What they throw, abstract-level's put()/del() turn into a rejection.
  _put (key: Data, value: Data, options: { keyEncoding: Encoding, valueEncoding: Encoding, sync?: boolean }): Promise<void> {
    const engine = this.#engine()
    const k = toKey(key, options.keyEncoding)
    const v = toValue(value, options.valueEncoding)
    checkSize(k, engine.options.maxKeySize, 'key')
    checkSize(v, engine.options.maxValueSize, 'value')
    return engine.write([{ kind: KIND_VALUE, key: k, value: v }], options.sync === true)
  }

  _del (key: Data, options: { keyEncoding: Encoding, sync?: boolean }): Promise<void> {
    const engine = this.#engine()
    const k = toKey(key, options.keyEncoding)
    checkSize(k, engine.options.maxKeySize, 'key')
    return engine.write([{ kind: KIND_DELETE, key: k }], options.sync === true)
  }

  async _batch (operations: Array<AbstractBatchOperation<LsmLevel<K, V>, Data, Data> & { keyEncoding: Encoding, valueEncoding?: Encoding }>, options: { sync?: boolean }): Promise<void> {
    const engine = this.#engine()
    const ops: WriteOp[] = []
    for (const op of operations) {
      const k = toKey(op.key, op.keyEncoding)
      checkSize(k, engine.options.maxKeySize, 'key')
      if (op.type === 'put') {
        const v = toValue(op.value, op.valueEncoding!)
        checkSize(v, engine.options.maxValueSize, 'value')
        ops.push({ kind: KIND_VALUE, key: k, value: v })
      } else {
        ops.push({ kind: KIND_DELETE, key: k })
      }
    }
    await engine.write(ops, options.sync === true)
  }

  /**
   * Delete a range. Without limit or snapshot this is one range tombstone: atomic, O(1) in memory and in the
   * log however large the range, and applied to the tables in the background. With a limit or a snapshot,
   * the keys to delete are found by iterating and deleted in batches.
   */
  async _clear (options: AbstractClearOptions<K> & { keyEncoding: Encoding, snapshot?: unknown, sync?: boolean }): Promise<void> {
    const engine = this.#engine()
    const enc = options.keyEncoding
    if (options.limit === -1 && (options.snapshot === undefined || options.snapshot === null)) {
      const { lower, upper } = boundsOf(options, enc)
      const start = lower === null ? Buffer.alloc(0) : lower.inclusive ? lower.key : Buffer.concat([lower.key, Buffer.from([0])])
      const end = upper === null ? null : upper.inclusive ? Buffer.concat([upper.key, Buffer.from([0])]) : upper.key
      if (end !== null && start.compare(end) >= 0) return
      await engine.write([{ kind: KIND_RANGE_DELETE, key: start, end }], options.sync === true)
      return
    }
    const it = openDbIterator(this, { ...options, keys: true, values: false } as AbstractIteratorOptions<any, any>)
    try {
      let remaining: number = options.limit === undefined || options.limit === -1 ? Infinity : options.limit
      while (remaining > 0) {
        const ops: WriteOp[] = []
        while (ops.length < 1000 && remaining > 0 && it.next()) {
          ops.push({ kind: KIND_DELETE, key: Buffer.from(it.key) })
          remaining--
        }
        if (ops.length === 0) break
        await engine.write(ops, options.sync === true)
      }
    } finally {
      it.close()
    }
  }

  _iterator (options: AbstractIteratorOptions<K, V>): LsmIterator<K, V> {
    return new LsmIterator<K, V>(this, options, openDbIterator(this, options))
  }

  _keys (options: AbstractKeyIteratorOptions<K>): LsmKeyIterator<K> {
    return new LsmKeyIterator<K>(this, options, openDbIterator(this, options))
  }

  _values (options: AbstractValueIteratorOptions<K, V>): LsmValueIterator<K, V> {
    return new LsmValueIterator<K, V>(this, options, openDbIterator(this, options))
  }

  _snapshot (options: object): AbstractSnapshot {
    return new LsmSnapshot(this.#engine(), options)
  }

  /** Approximate bytes on disk of the keys in [start, end). */
  async approximateSize (start: K, end: K, options?: { keyEncoding?: string }): Promise<number> {
    if (arguments.length < 2) throw new TypeError("The arguments 'start' and 'end' are required")
    if (this.status === 'opening') return await this.deferAsync(async () => await this.approximateSize(start, end, options))
    const engine = this.#engine()
    const enc = this.keyEncoding(options?.keyEncoding as 'utf8' | undefined ?? 'utf8')
    return engine.approximateSize(toBuffer(enc.encode(start as never) as Data, enc.format as Encoding), toBuffer(enc.encode(end as never) as Data, enc.format as Encoding))
  }

  /** Compact every level over [start, end] (both inclusive); flushes the memtable first. */
  async compactRange (start: K, end: K, options?: { keyEncoding?: string }): Promise<void> {
    if (arguments.length < 2) throw new TypeError("The arguments 'start' and 'end' are required")
    if (this.status === 'opening') return await this.deferAsync(async () => await this.compactRange(start, end, options))
    const engine = this.#engine()
    const enc = this.keyEncoding(options?.keyEncoding as 'utf8' | undefined ?? 'utf8')
    const s = start === null || start === undefined ? null : toBuffer(enc.encode(start as never) as Data, enc.format as Encoding)
    const e = end === null || end === undefined ? null : toBuffer(enc.encode(end as never) as Data, enc.format as Encoding)
    await engine.compactRange(s, e)
  }

  /**
   * Write a checkpoint of the open database into `dir` (which must not exist) while it keeps serving:
   * the memtable is flushed, then the live tables are hard-linked (copied across file systems) beside a
   * new MANIFEST. The directory opens as a database holding every write acknowledged before the call.
   */
  async checkpoint (dir: string): Promise<{ tables: number, linked: number, bytes: number }> {
    if (typeof dir !== 'string' || dir === '') throw new TypeError("The first argument 'dir' must be a non-empty string")
    if (this.status === 'opening') return await this.deferAsync(async () => await this.checkpoint(dir))
    return await this.#engine().checkpoint(dir)
  }

  /**
   * A named property of the engine (synchronous, so the database must be open): 'lsm.stats' (everything
   * below), 'lsm.levels', 'lsm.num-files-at-level<N>', 'lsm.memtable-bytes', 'lsm.block-cache',
   * 'lsm.block-cache-hit-rate', 'lsm.pending-compaction-bytes', 'lsm.open-tables', 'lsm.sequence',
   * 'lsm.range-tombstones', 'lsm.compaction-stats', 'lsm.background-error'. Unknown names give undefined.
   */
  getProperty (name: string): unknown {
    if (typeof name !== 'string') throw new TypeError("The first argument 'property' must be a string")
    if (this.status !== 'open') throw notOpen()
    return this.#engine().getProperty(name)
  }

  /** Flush the memtable to a table and wait for background compaction to settle (for tools and tests). */
  async flush (): Promise<void> {
    if (this.status === 'opening') return await this.deferAsync(async () => await this.flush())
    const engine = this.#engine()
    await engine.flush()
    await engine.waitForIdle()
  }

  /** Remove every file of the database at location (which must not be open). */
  static async destroy (location: string, options: { fs?: FileSystem } = {}): Promise<void> {
    if (typeof location !== 'string' || location === '') throw new TypeError("The first argument 'location' must be a non-empty string")
    const fs = options.fs ?? new RealFileSystem()
    if (!fs.exists(location)) return
    const lock = fs.lock(`${location}/LOCK`)
    lock.release()
    fs.removeDir(location)
  }

  /**
   * Salvage a damaged database: every record still readable in the commit logs and every entry in readable
   * table blocks is kept, a new MANIFEST is written, and the report says what was dropped.
   */
  static async repair (location: string, options: { fs?: FileSystem } = {}): Promise<RepairReport> {
    if (typeof location !== 'string' || location === '') throw new TypeError("The first argument 'location' must be a non-empty string")
    return await repairDatabase(location, options.fs ?? new RealFileSystem())
  }
}

export default LsmLevel
