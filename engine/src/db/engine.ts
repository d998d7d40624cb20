import { notOpen } from '../errors.js'
import { type EngineOptions, type EngineOptionsInput, resolveOptions } from '../options.js'
import type { MemtableEntry } from '../memtable/memtable.js'
import { LevelIterator } from '../sstable/table-cache.js'
import type { TableGetResult } from '../sstable/table.js'
import { BloomProbe } from '../sstable/bloom.js'
import { MergingIterator } from '../iterator/merging-iterator.js'
import type { InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import type { FileMeta } from '../version/file-meta.js'
import { KIND_VALUE, seqOf, kindOf } from '../keys.js'
import { type RangeTombstone, anyTombstoneCovers } from '../range-tombstone.js'
import { type RangeTombstoneIndex, TombstoneIndexCache } from '../range-tombstone-index.js'
import { DbState } from './state.js'
import { BackgroundWork } from './background.js'
import { WriteQueue, type WriteOp } from './write-queue.js'
import { openDatabase } from './recovery.js'
import { deleteObsoleteFiles } from './obsolete-files.js'
import { writeCheckpoint } from './checkpoint.js'
import { approximateSize, getProperty, liveTables } from './properties.js'

export type { WriteOp }

const EMPTY = Buffer.alloc(0)

/**
 * The storage engine behind LsmLevel: opening and recovery (recovery.ts), the write path (write-queue.ts:
 * commit log, group commit, memtable), the read path (here: memtables, then tables newest first),
 * snapshots, and background flushes and compactions (background.ts, driving compaction/). It speaks in
 * Buffers and sequence numbers; encodings and the abstract-level contract live in index.ts.
 */
export class Engine {
  readonly dir: string
  readonly options: EngineOptions
  readonly #s: DbState
  readonly #background: BackgroundWork
  readonly #writes: WriteQueue
  /** The filter hashes of the key being read (reads are synchronous: one at a time). */
  readonly #probe = new BloomProbe()
  /** Reads check the live range tombstones through it (range-tombstone-index.ts). */
  readonly #tombstoneIndex = new TombstoneIndexCache()

  private constructor (dir: string, options: EngineOptions) {
    this.dir = dir
    this.options = options
    const s = this.#s = new DbState(dir, options)
    s.versions.onVersionReleased = () => { deleteObsoleteFiles(s) }
    this.#background = new BackgroundWork(s)
    this.#writes = new WriteQueue(s, this.#background)
  }

  /**
   * Open (creating if allowed) the database in dir: take the lock, replay the MANIFEST and every commit log
   * newer than it into level-0 tables, and start a new commit log.
   */
  static async open (dir: string, given: EngineOptionsInput & { createIfMissing?: boolean, errorIfExists?: boolean } = {}): Promise<Engine> {
    const { createIfMissing = true, errorIfExists = false, ...rest } = given
    const options = resolveOptions(rest)
    const engine = new Engine(dir, options)
    await openDatabase(engine.#s, engine.#background, createIfMissing && !options.readOnly, errorIfExists)
    return engine
  }

  // ---------------------------------------------------------------- writes

  /**
   * Apply ops atomically. Resolves once the group's log record reached the OS (survives a process crash),
   * or, with sync, once it was fsynced (survives power loss). Rejects with the sticky background error if
   * the engine can no longer write.
   */
  write (ops: WriteOp[], sync: boolean): Promise<void> {
    return this.#writes.write(ops, sync)
  }

  // ---------------------------------------------------------------- reads

  /** The sequence a new implicit snapshot reads at. */
  get visibleSequence (): number { return this.#s.visibleSeq }

  /** Pin a sequence for explicit-snapshot reads; compaction keeps what it sees until released. */
  acquireSnapshot (): number {
    const snapshots = this.#s.snapshots
    const seq = this.#s.visibleSeq
    snapshots.set(seq, (snapshots.get(seq) ?? 0) + 1)
    return seq
  }

  releaseSnapshot (seq: number): void {
    const snapshots = this.#s.snapshots
    const n = snapshots.get(seq)
    if (n === undefined) return
    if (n <= 1) snapshots.delete(seq)
    else snapshots.set(seq, n - 1)
    this.#background.schedule()
  }

  /** The value of userKey as of snapshotSeq, or undefined (absent or deleted). Synchronous. */
  get (userKey: Buffer, snapshotSeq: number = this.#s.visibleSeq): Buffer | undefined {
    const found: ValueSlice = { data: EMPTY, start: 0, end: 0 }
    if (!this.find(userKey, snapshotSeq, found)) return undefined
    // A copy: the bytes are a memtable's or a cached block's, reused once those are dropped.
    return Buffer.from(found.data.subarray(found.start, found.end))
  }

  /**
   * Looks up userKey as of snapshotSeq; true if it holds a value, false if absent or deleted. Synchronous;
   * get() without the copy. The value goes into `found` as data[start, end): a view of a memtable value or of
   * a (cached) block, so read it before the next lookup, decode or copy it, never mutate it. ukey: userKey as a
   * latin1 string, when the caller has it. Keeps no reference to userKey once it returns: callers may reuse
   * its buffer.
   */
  find (userKey: Buffer, snapshotSeq: number, found: ValueSlice, ukey?: string): boolean {
    const s = this.#s
    let seq: number
    let kind: number
    let m: MemtableEntry | undefined
    const mem = s.mem
    const imms = s.imms
    // Empty memtables (a settled database) cost neither the key's latin1 form nor a hash probe.
    if (mem.entries > 0 || imms.length > 0) {
      if (ukey === undefined) ukey = userKey.toString('latin1')
      if (mem.entries > 0) m = mem.lookup(ukey, snapshotSeq)
      for (let i = imms.length - 1; m === undefined && i >= 0; i--) m = imms[i].mem.lookup(ukey, snapshotSeq)
    }
    if (m !== undefined) {
      seq = m.seq
      kind = m.kind
      found.data = m.rec
      found.start = m.voff
      found.end = m.voff + m.vlen
    } else {
      const r: TableGetResult | undefined = s.versions.current.get(s.tables, userKey, snapshotSeq, this.#probe)
      if (r === undefined) return false
      seq = seqOf(r.key)
      kind = kindOf(r.key)
      found.data = r.data
      found.start = r.start
      found.end = r.end
    }
    if (kind !== KIND_VALUE) return false
    const tombstones = s.tombstones
    if (tombstones.length > 0) {
      const index = this.#tombstoneIndex.of(tombstones)
      if (index === undefined ? anyTombstoneCovers(tombstones, userKey, seq, snapshotSeq) : index.covers(ukey ?? userKey.toString('latin1'), seq, snapshotSeq)) return false
    }
    return true
  }

  /**
   * A merged cursor over every source as of now, with the range tombstones a reader at snapshotSeq must
   * apply. The current version stays pinned (its files on disk) until release().
   */
  newInternalIterator (snapshotSeq: number): { iterator: InternalIterator, tombstones: RangeTombstone[], tombstoneIndex?: RangeTombstoneIndex, release: () => void } {
    const s = this.#s
    const version = s.versions.current
    version.ref()
    // Each memtable read stays referenced (its arena not reused) until release().
    const mems = [s.mem, ...s.imms.map((i) => i.mem)]
    for (const m of mems) m.ref()
    const children: InternalIterator[] = [s.mem.iterator()]
    for (let i = s.imms.length - 1; i >= 0; i--) children.push(s.imms[i].mem.iterator())
    for (const f of version.levels[0]) children.push(s.tables.iterator(f))
    for (let level = 1; level < version.levels.length; level++) {
      if (version.levels[level].length > 0) children.push(new LevelIterator(version.levels[level], s.tables))
    }
    const tombstones = s.tombstones.filter((t) => t.seq <= snapshotSeq)
    // Built over every live tombstone; covers() skips those above the snapshot as the filter does.
    const tombstoneIndex = tombstones.length === 0 ? undefined : this.#tombstoneIndex.of(s.tombstones)
    let released = false
    const iterator = new MergingIterator(children)
    return {
      iterator,
      tombstones,
      ...(tombstoneIndex === undefined ? {} : { tombstoneIndex }),
      release: () => {
        if (released) return
        released = true
        iterator.close()
        for (const m of mems) m.unref()
        version.unref()
      }
    }
  }

  // ---------------------------------------------------------------- maintenance and introspection

  /** Resolves when no background work is running or pending. */
  waitForIdle (): Promise<void> {
    return this.#background.waitForIdle()
  }

  /** Compact every level's files that overlap [start, end] (null = unbounded), flushing the memtable first. */
  async compactRange (start: Buffer | null, end: Buffer | null): Promise<void> {
    await this.flush()
    const s = this.#s
    if (s.bgError !== null) throw s.bgError
    await new Promise<void>((resolve, reject) => {
      s.manualCompactions.push({ start, end, resolve, reject })
      this.#background.schedule()
    })
  }

  /**
   * Write the memtable to a table now. The switch goes through the write pipeline, so that no write group
   * can straddle it; then wait until the background has flushed it.
   */
  async flush (): Promise<void> {
    const s = this.#s
    if (!s.mem.isEmpty) {
      s.flushRequested = true
      await this.write([], false)
    }
    while (s.imms.length > 0 && s.bgError === null && !s.closed) await this.#background.waitForProgress()
    if (s.bgError !== null) throw s.bgError
  }

  /** A checkpoint in `target` (db/checkpoint.ts): flush, then link the live tables beside a new MANIFEST. */
  async checkpoint (target: string): Promise<{ tables: number, linked: number, bytes: number }> {
    await this.flush()
    return await writeCheckpoint(this.#s, target)
  }

  /** Approximate bytes on disk used by keys in [start, end). */
  approximateSize (start: Buffer, end: Buffer): number {
    return approximateSize(this.#s, start, end)
  }

  /** Named introspection values; see engine/README.md for the list. */
  getProperty (name: string): unknown {
    return getProperty(this.#s, name)
  }

  /** Live table files with their levels (for tools). */
  liveTables (): Array<{ level: number, file: FileMeta }> {
    return liveTables(this.#s)
  }

  /**
   * Stop: wait for queued writes, flush nothing more than needed (the log already holds the memtable),
   * let a running background job reach a safe point, then close files and release the lock.
   */
  async close (): Promise<void> {
    const s = this.#s
    if (s.closed) return
    s.closing = true
    this.#background.cancelIdle()
    s.wakeStalled()
    for (const job of s.runningJobs) job.abort()
    while (this.#writes.busy) await new Promise((resolve) => setTimeout(resolve, 1))
    for (const job of s.runningJobs) job.abort()
    while (s.bgRunning || s.flushRunning) await new Promise<void>((resolve) => { s.idleWaiters.push({ resolve }) })

    for (const m of s.manualCompactions.splice(0)) m.reject(notOpen('closed before compactRange() ran'))
    try {
      if (s.log !== null && s.bgError === null) s.log.flush()
      await s.logBarrier?.catch(() => {})
      // Obsolete files are deleted before the lock goes: the next owner (or a repair) must not list them.
      await s.fs.backgroundUnlinksSettled?.()
    } finally {
      s.releaseResources()
    }
  }
}
