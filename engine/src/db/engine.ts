import { join } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { FileLock, WritableFile } from '../fs/real.js'
import { type EngineOptions, resolveOptions } from '../options.js'
import { Memtable, type MemtableEntry } from '../memtable/memtable.js'
import { ArenaPool } from '../memtable/arena-pool.js'
import { LogWriter } from '../wal/log-writer.js'
import { readLog } from '../wal/log-reader.js'
import { encodeBatch, decodeBatch } from '../wal/batch.js'
import { BlockCache } from '../sstable/block-cache.js'
import { TableCache, LevelIterator } from '../sstable/table-cache.js'
import type { TableGetResult } from '../sstable/table.js'
import { MergingIterator } from '../iterator/merging-iterator.js'
import type { InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import { VersionSet } from '../version/version-set.js'
import type { Version } from '../version/version.js'
import { NUM_LEVELS } from '../version/version.js'
import type { VersionEdit } from '../version/version-edit.js'
import { type FileMeta, tableFileName, logFileName, parseFileName } from '../version/file-meta.js'
import {
  KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE, MAX_SEQUENCE,
  userKeyOf, seqOf, kindOf, makeInternalKey, compareUserKeys, compareInternalKeys
} from '../keys.js'
import {
  type RangeTombstone, anyTombstoneCovers, decodeTombstoneEnd, encodeTombstoneEnd,
  tombstoneContainsRange, tombstoneOverlapsRange, tombstoneCovers
} from '../range-tombstone.js'
import { corruption, asIoError, locked as lockedError } from '../errors.js'
import ModuleError from 'module-error'
import { pickCompaction, type Compaction, maxBytesForLevel, level0Inputs, expand } from '../compaction/pick.js'
import { runCompactionJob, writeTable, JobAborted, MAIN_THREAD_SLICE, type CompactionJob, type CompactionResult, type JobHooks } from '../compaction/job.js'
import { type BackgroundThread, type RunningJob, backgroundThreadAvailable, sharedBackgroundThreads } from '../worker/background-thread.js'
import { RealFileSystem } from '../fs/real.js'

/** One operation of a write: a put, a point delete, or a range delete (key = start, end = null: to the last key). */
/**
 * One write. A key given as a string must be ASCII: its bytes are its characters, and it is already the
 * latin1 form the memtable keys by (no Buffer per key on the write path). A string value is written as UTF-8.
 */
export type WriteOp =
  | { kind: typeof KIND_VALUE, key: Buffer | string, value: Buffer | string }
  | { kind: typeof KIND_DELETE, key: Buffer | string }
  | { kind: typeof KIND_RANGE_DELETE, key: Buffer, end: Buffer | null }

/** Whether ops hold a range deletion (which the log record carries in another shape). */
function hasRangeDelete (ops: WriteOp[]): boolean {
  for (let i = 0; i < ops.length; i++) if (ops[i].kind === KIND_RANGE_DELETE) return true
  return false
}

/** What write() returns to a writer whose record is already in the log when it returns. */
const RESOLVED: Promise<void> = Promise.resolve()

interface PendingWrite {
  ops: WriteOp[]
  sync: boolean
  resolve: () => void
  reject: (err: Error) => void
}

/** Level-0 or memtable pressure makes writers wait for background work through this. */
interface Waiter { resolve: () => void }

/** A flushed or compacted table written but not yet in a version: its number must not be deleted. */
type PendingOutputs = Set<number>

/** A write group is capped so that one group's log record stays a bounded allocation. */
const MAX_GROUP_BYTES = 4 * 1024 * 1024

/**
 * The storage engine behind LsmLevel: opening and recovery, the write path (commit log, group commit,
 * memtable), the read path (memtables, then tables newest first), snapshots, and background flushes and
 * compactions. It speaks in Buffers and sequence numbers; encodings and the abstract-level contract live in
 * index.ts.
 */
export class Engine {
  readonly dir: string
  readonly options: EngineOptions
  readonly #fs
  #lock: FileLock | null = null
  readonly #versions: VersionSet
  readonly #blockCache: BlockCache
  readonly #tables: TableCache
  /** Arenas of flushed memtables, for the next ones: the current memtable, the frozen ones, and one spare. */
  readonly #arenas: ArenaPool
  #mem: Memtable
  /** Frozen memtables waiting for their flush, oldest first, each with the commit log that holds it. */
  readonly #imms: Array<{ mem: Memtable, logNumber: number }> = []
  #log: WritableFile | null = null
  #logWriter: LogWriter | null = null
  #logNumber = 0
  /** Sequence of the newest write visible to readers. */
  #visibleSeq = 0
  readonly #queue: PendingWrite[] = []
  #writing = false
  #closing = false
  #closed = false
  /** A failed background flush or compaction: later writes reject with it; reads keep working. */
  #bgError: Error | null = null
  #bgRunning = false
  #bgIdle: Waiter[] = []
  #stalled: Waiter[] = []
  readonly #pendingOutputs: PendingOutputs = new Set()
  /** File-number ranges reserved by running compactions: their outputs must not be deleted. */
  readonly #pendingRanges: Array<[number, number]> = []
  /** Worker threads for flushes and for compactions; null when they run on the main thread. */
  #flushThread: BackgroundThread | null = null
  /** The compaction running on the worker, to stop it at close. */
  #runningJob: RunningJob<CompactionResult> | null = null
  #background: BackgroundThread | null = null
  /** Explicit snapshots' sequences (a multiset: sequence -> count). */
  readonly #snapshots = new Map<number, number>()
  /** Every active range tombstone (memtables and MANIFEST), ordered by sequence. */
  #tombstones: RangeTombstone[] = []
  #manualCompactions: Array<{ start: Buffer | null, end: Buffer | null, resolve: () => void, reject: (e: Error) => void }> = []
  readonly #stats = {
    flushes: 0,
    compactions: 0,
    trivialMoves: 0,
    bytesFlushed: 0,
    bytesCompactedRead: 0,
    bytesCompactedWritten: 0,
    tombstonesRetired: 0,
    writeStallsMs: 0,
    slowdowns: 0
  }

  private constructor (dir: string, options: EngineOptions) {
    this.dir = dir
    this.options = options
    this.#fs = options.fs
    this.#versions = new VersionSet(this.#fs, dir)
    this.#versions.onVersionReleased = () => { this.#deleteObsoleteFiles() }
    this.#blockCache = new BlockCache({ capacityBytes: options.blockCacheSize })
    // A memtable fills up to writeBufferSize and takes one more group: room for a typical last group.
    this.#arenas = new ArenaPool(options.writeBufferSize + 256 * 1024, options.maxImmutableMemtables + 2)
    this.#mem = new Memtable(this.#arenas)
    if (options.backgroundThread && options.fs instanceof RealFileSystem && backgroundThreadAvailable()) {
      const threads = sharedBackgroundThreads()
      this.#flushThread = threads.flush
      this.#background = threads.compaction
    }
    this.#tables = new TableCache(this.#fs, dir, {
      maxOpenFiles: options.maxOpenFiles,
      blockCache: this.#blockCache,
      verifyChecksums: options.verifyChecksums
    })
  }

  /**
   * Open (creating if allowed) the database in dir: take the lock, replay the MANIFEST and every commit log
   * newer than it into level-0 tables, and start a new commit log.
   */
  static async open (dir: string, given: Partial<EngineOptions> & { createIfMissing?: boolean, errorIfExists?: boolean } = {}): Promise<Engine> {
    const { createIfMissing = true, errorIfExists = false, ...rest } = given
    const options = resolveOptions(rest)
    const engine = new Engine(dir, options)
    await engine.#open(createIfMissing && !options.readOnly, errorIfExists)
    return engine
  }

  async #open (createIfMissing: boolean, errorIfExists: boolean): Promise<void> {
    const fs = this.#fs
    try {
      if (fs.exists(this.dir)) {
        if (!fs.stat(this.dir).isDirectory) {
          throw new ModuleError(`${this.dir} exists and is not a directory`, { code: 'LEVEL_INVALID_VALUE' })
        }
      } else if (createIfMissing) {
        fs.mkdirp(this.dir)
      } else {
        throw new ModuleError(`database ${this.dir} does not exist (createIfMissing is false)`, { code: 'LEVEL_DATABASE_NOT_FOUND' })
      }
    } catch (err) {
      if (err instanceof ModuleError) throw err
      throw asIoError(err, { file: this.dir, op: 'create database directory' })
    }
    try {
      this.#lock = fs.lock(join(this.dir, 'LOCK'))
    } catch (err) {
      if ((err as ModuleError).code === 'LEVEL_LOCKED') throw err
      // The OS refused the LOCK file itself (permissions, a read-only or full disk): not another holder.
      if (typeof (err as NodeJS.ErrnoException).code === 'string') throw asIoError(err, { file: join(this.dir, 'LOCK'), op: 'take the lock' })
      throw lockedError(this.dir, (err as Error).message)
    }
    try {
      const exists = this.#versions.recover()
      if (exists && errorIfExists) {
        throw new ModuleError(`database ${this.dir} already exists (errorIfExists is true)`, { code: 'LEVEL_DATABASE_EXISTS' })
      }
      if (!exists && !createIfMissing) {
        throw new ModuleError(`database ${this.dir} does not exist (createIfMissing is false)`, { code: 'LEVEL_DATABASE_NOT_FOUND' })
      }
      this.#tombstones = [...this.#versions.current.rangeTombstones]
      const edit: VersionEdit = {}
      await this.#replayLogs(edit)
      if (this.options.readOnly) {
        // Nothing is written: the logs' contents stay in memory, no new log or MANIFEST, no compaction.
        this.#visibleSeq = this.#versions.lastSequence
        return
      }
      this.#logNumber = this.#versions.newFileNumber()
      this.#openLog(this.#logNumber)
      await this.#syncDir()
      edit.logNumber = this.#logNumber
      await this.#versions.logAndApply(edit)
      this.#visibleSeq = this.#versions.lastSequence
      this.#deleteObsoleteFiles()
      this.#scheduleBackgroundWork()
    } catch (err) {
      this.#releaseResources()
      // A file-system call that failed without a LEVEL_* wrapping (listing or reading the directory).
      const code = (err as NodeJS.ErrnoException).code
      throw typeof code === 'string' && !code.startsWith('LEVEL_') ? asIoError(err, { file: this.dir, op: 'open database' }) : err
    }
  }

  /** Replay commit logs the MANIFEST does not cover, writing what they hold into level-0 tables. */
  async #replayLogs (edit: VersionEdit): Promise<void> {
    const fs = this.#fs
    const logs: number[] = []
    for (const name of fs.readdir(this.dir)) {
      const p = parseFileName(name)
      if (p === undefined) continue
      this.#versions.markFileNumberUsed(p.number)
      if (p.kind === 'log' && p.number >= this.#versions.logNumber) logs.push(p.number)
    }
    logs.sort((a, b) => a - b)
    let mem = new Memtable()
    let maxSeq = this.#versions.lastSequence
    // Writes are logged in sequence order without gaps, so the replay can tell where the surviving history
    // ends: at a torn tail, or where the next record's sequence does not follow. An older log can lose its
    // tail only to a power loss that hit before its fsync (started at the memtable switch) finished; writes in
    // later logs were then unsynced too (a synced write waits for that fsync), so they are dropped with it,
    // and what remains is a prefix of the history. In absolute-consistency mode any damage is an error.
    const absolute = this.options.walRecoveryMode === 'absolute-consistency'
    let nextSeq = -1
    let ended = false
    for (let i = 0; i < logs.length && !ended; i++) {
      const path = join(this.dir, logFileName(logs[i]))
      // A memtable switch never leaves a log empty (the memtable had writes): an empty log before one with data
      // lost every write it held to a power loss, and the history ends there as at a torn tail.
      if (fs.stat(path).size === 0 && logs.slice(i + 1).some((n) => fs.stat(join(this.dir, logFileName(n))).size > 0)) {
        if (absolute) throw corruption('empty commit log before one with data: its writes were lost', { file: path, offset: 0 })
        break
      }
      // An older log's tail is torn only by a power loss during its fsync (the file cut short or zero-filled); a
      // complete last record with a bad checksum there is damage, and skipping it would drop the newer logs' writes,
      // synced ones included.
      const newest = logs.slice(i + 1).every((n) => fs.stat(join(this.dir, logFileName(n))).size === 0)
      const file = fs.openReadable(path)
      try {
        const records = readLog(file, { mode: absolute ? 'absolute-consistency' : newest ? 'tolerate-corrupted-tail' : 'tolerate-truncated-tail', fileName: path })
        for (;;) {
          const step = records.next()
          if (step.done === true) {
            if (step.value.droppedBytes > 0) ended = true
            break
          }
          const rec = step.value
          const batch = decodeBatch(rec.data, path, rec.offset)
          if (nextSeq !== -1 && batch.seq !== nextSeq) {
            if (absolute) throw corruption(`sequence ${batch.seq} follows ${nextSeq - 1}: an earlier log lost its tail`, { file: path, offset: rec.offset })
            ended = true
            break
          }
          let seq = batch.seq
          for (const op of batch.ops) {
            if (op.kind === KIND_RANGE_DELETE) {
              const end = decodeTombstoneEnd(op.value ?? Buffer.alloc(0))
              if (end === undefined) throw corruption('malformed range delete', { file: path, offset: rec.offset })
              const t = { seq, start: Buffer.from(op.key), end }
              mem.addRangeTombstone(t)
            } else if (op.kind === KIND_VALUE || op.kind === KIND_DELETE) {
              mem.add(seq, op.kind, op.key, op.kind === KIND_VALUE ? op.value! : EMPTY)
            } else {
              throw corruption(`unknown entry kind ${op.kind as number}`, { file: path, offset: rec.offset })
            }
            seq++
          }
          nextSeq = seq
          if (seq - 1 > maxSeq) maxSeq = seq - 1
          if (mem.approximateBytes >= this.options.writeBufferSize) {
            if (this.options.readOnly) this.#imms.push({ mem, logNumber: logs[i] })
            else await this.#writeLevel0(mem, edit)
            mem = new Memtable()
          }
        }
      } finally {
        file.close()
      }
    }
    if (this.options.readOnly) {
      this.#mem = mem
      for (const m of [mem, ...this.#imms.map((i) => i.mem)]) this.#tombstones.push(...m.rangeTombstones)
      this.#tombstones.sort((a, b) => a.seq - b.seq)
    } else if (!mem.isEmpty) {
      await this.#writeLevel0(mem, edit)
    }
    this.#versions.lastSequence = maxSeq
    edit.lastSequence = maxSeq
  }

  /** Write a recovered memtable to a level-0 table and record it in the edit (at open, before serving). */
  async #writeLevel0 (mem: Memtable, edit: VersionEdit): Promise<void> {
    const meta = await this.#buildTable(mem.iterator(), false)
    if (meta !== null) (edit.newFiles ??= []).push({ level: 0, file: meta })
    if (mem.rangeTombstones.length > 0) {
      (edit.addedTombstones ??= []).push(...mem.rangeTombstones)
      this.#tombstones.push(...mem.rangeTombstones)
      this.#tombstones.sort((a, b) => a.seq - b.seq)
    }
  }

  /** Makes the directory's new entries durable; a failure is LEVEL_IO_ERROR naming the directory. */
  async #syncDir (): Promise<void> {
    try {
      await this.#fs.syncDir(this.dir)
    } catch (err) {
      throw asIoError(err, { file: this.dir, op: 'sync directory' })
    }
  }

  #openLog (number: number): void {
    const path = join(this.dir, logFileName(number))
    try {
      this.#log = this.#fs.openWritable(path)
    } catch (err) {
      throw asIoError(err, { file: path, op: 'create commit log' })
    }
    this.#logWriter = new LogWriter(this.#log)
  }

  // ---------------------------------------------------------------- writes

  /**
   * Apply ops atomically. Resolves once the group's log record reached the OS (survives a process crash),
   * or, with sync, once it was fsynced (survives power loss). Rejects with the sticky background error if
   * the engine can no longer write.
   */
  write (ops: WriteOp[], sync: boolean): Promise<void> {
    if (this.#closed || this.#closing) return Promise.reject(new ModuleError('database is not open', { code: 'LEVEL_DATABASE_NOT_OPEN' }))
    if (this.options.readOnly) return Promise.reject(new ModuleError(`database ${this.dir} was opened read-only`, { code: 'LEVEL_READONLY' }))
    if (this.#bgError !== null) return Promise.reject(this.#bgError)
    if (!sync && this.#mayWriteAtOnce() && !hasRangeDelete(ops)) {
      // Nothing is queued or being written, and the memtable has room: this writer is a group of its own, so
      // its record goes to the log now, with no queue entry, microtask hop or promise of its own. Writers that
      // come after it in the same run of microtasks (while #burst holds) queue as before and share a group.
      try {
        this.#logAndApply(ops, ops, false)
      } catch (err) {
        return Promise.reject(err)
      }
      this.#burst = true
      // A reaction on a settled promise is a microtask without queueMicrotask()'s async-hooks resource.
      void RESOLVED.then(this.#endBurst)
      return RESOLVED
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, sync, resolve, reject })
      if (!this.#writing) {
        this.#writing = true
        // Writers that arrive in the same tick join one group: one log write (and one fsync) for all.
        queueMicrotask(() => { void this.#drainWrites() })
      }
    })
  }

  /**
   * Set by a writer that went straight to the log (see write()), until the microtasks queued so far have run:
   * writers arriving meanwhile were most likely released together (a group's callers issuing their next
   * writes), and queue to share one group instead of one log write each.
   */
  #burst = false
  readonly #endBurst = (): void => { this.#burst = false }

  /** Whether a writer may skip the queue: nothing ahead of it, no room to make, no event-loop turn due. */
  #mayWriteAtOnce (): boolean {
    if (this.#writing || this.#burst || this.#queue.length > 0 || this.#needsRoom()) return false
    // #drainWrites lets the event loop turn while background work runs; so must a writer that skips it.
    return !this.#turnDue()
  }

  /** Whether writers owe the event loop a turn: background work runs and the last turn is 1 ms old. */
  #turnDue (): boolean {
    return (this.#flushRunning || this.#bgRunning) && performance.now() - this.#turnedAt >= 1
  }

  async #drainWrites (): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // A caller that awaits one write after another never lets the event loop turn (each write resolves in
        // microtasks), so the background's messages (a flush or compaction done, the next one to start) would
        // wait until writers stall. While background work runs, let the loop turn once a millisecond.
        if (this.#turnDue()) {
          await yieldToEventLoop()
          this.#turnedAt = performance.now()
        }
        if (this.#bgError !== null) {
          for (const w of this.#queue.splice(0)) w.reject(this.#bgError)
          break
        }
        // Most groups find room at once: no promise for that.
        if (this.#needsRoom()) {
          try {
            await this.#makeRoomForWrite()
          } catch (err) {
            for (const w of this.#queue.splice(0)) w.reject(err as Error)
            break
          }
        }
        const group = this.#takeGroup()
        try {
          const synced = this.#writeGroup(group)
          if (synced !== undefined) await synced
          for (const w of group) w.resolve()
        } catch (err) {
          for (const w of group) w.reject(err as Error)
        }
      }
    } finally {
      this.#writing = false
      if (this.#queue.length > 0 && !this.#closed) {
        this.#writing = true
        queueMicrotask(() => { void this.#drainWrites() })
      }
    }
  }

  /** When #drainWrites last let the event loop turn (performance.now()). */
  #turnedAt = 0

  #takeGroup (): PendingWrite[] {
    let bytes = 0
    let n = 0
    while (n < this.#queue.length && (n === 0 || bytes < MAX_GROUP_BYTES)) {
      // String values count their UTF-16 length: an estimate is all a group's bound needs.
      for (const op of this.#queue[n].ops) bytes += op.key.length + (op.kind === KIND_VALUE ? op.value.length : 0) + 16
      n++
    }
    return this.#queue.splice(0, n)
  }

  /**
   * Writes a group's record to the log and applies it to the memtable. Synchronous unless the group asked for
   * sync: then it returns a promise of the fsync (the memtable is updated after it). Throws (or rejects) if
   * the log could not take the record.
   */
  #writeGroup (group: PendingWrite[]): Promise<void> | undefined {
    let ops: WriteOp[]
    let batchOps: Array<{ kind: number, key: Buffer | string, value?: Buffer | string }>
    let sync = false
    if (group.length === 1 && !hasRangeDelete(group[0].ops)) {
      // The common case (one writer, puts and deletes): its ops are the batch as they are.
      ops = batchOps = group[0].ops
      sync = group[0].sync
    } else {
      ops = []
      batchOps = []
      for (const w of group) {
        if (w.sync) sync = true
        for (const op of w.ops) {
          ops.push(op)
          if (op.kind === KIND_VALUE) batchOps.push(op)
          else if (op.kind === KIND_DELETE) batchOps.push({ kind: KIND_DELETE, key: op.key })
          else batchOps.push({ kind: KIND_RANGE_DELETE, key: op.key, value: encodeTombstoneEnd(op.end) })
        }
      }
    }
    return this.#logAndApply(ops, batchOps, sync)
  }

  /**
   * The log-and-memtable half of #writeGroup for a group's ops and their batch form (the same array when no
   * op is a range delete). Synchronous unless sync; throws (or rejects) if the log could not take the record.
   */
  #logAndApply (ops: WriteOp[], batchOps: Array<{ kind: number, key: Buffer | string, value?: Buffer | string }>, sync: boolean): Promise<void> | undefined {
    if (ops.length === 0) return undefined
    const seq = this.#versions.lastSequence + 1
    const slices = this.#slices
    // The record is encoded into the memtable's arena: its entries' keys and values are the record's bytes.
    const record = encodeBatch(seq, batchOps as Parameters<typeof encodeBatch>[1], slices, this.#mem)
    const log = this.#log!
    try {
      this.#logWriter!.addRecord(record)
      if (sync) return this.#syncThenApply(log, seq, ops)
      log.flush()
    } catch (err) {
      throw this.#logFailed(err, log, sync)
    }
    this.#applyGroup(seq, ops)
    return undefined
  }

  /** The rest of a sync group's #writeGroup: fsync the log (after any barrier), then apply the group. */
  async #syncThenApply (log: WritableFile, seq: number, ops: WriteOp[]): Promise<void> {
    try {
      if (this.#logBarrier !== null) {
        const barrier = this.#logBarrier
        await barrier
        if (this.#logBarrier === barrier) this.#logBarrier = null
      }
      await log.sync()
    } catch (err) {
      throw this.#logFailed(err, log, true)
    }
    this.#applyGroup(seq, ops)
  }

  /** The log may now hold a partial record; nothing after it could be trusted, so writing stops. */
  #logFailed (err: unknown, log: WritableFile, sync: boolean): Error {
    const e = asIoError(err, { file: log.path, op: sync ? 'sync commit log' : 'write commit log' })
    this.#setBackgroundError(e)
    return e
  }

  /** A group whose record is in the log: its sequence numbers taken, its ops in the memtable (see #slices). */
  #applyGroup (seq: number, ops: WriteOp[]): void {
    const mem = this.#mem
    const slices = this.#slices
    // Sequence numbers are taken only after the record is in the log, so a failed write leaves no gap.
    this.#versions.lastSequence = seq + ops.length - 1
    let s = seq
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i]
      if (op.kind === KIND_RANGE_DELETE) {
        const t: RangeTombstone = { seq: s, start: op.key, end: op.end }
        mem.addRangeTombstone(t)
        this.#tombstones.push(t)
        // Flush soon, so the background retires the tombstone and drops the data it hides.
        this.#flushRequested = true
      } else {
        const value = op.kind === KIND_VALUE
        mem.addAt(s, op.kind, slices[4 * i], slices[4 * i + 1], value ? slices[4 * i + 2] : 0, value ? slices[4 * i + 3] : 0)
      }
      s++
    }
    if (slices.length > 16384) this.#slices = []
    this.#visibleSeq = s - 1
  }

  /** Scratch of #writeGroup: where each op's key and value sit in the memtable's arena (see encodeBatch). */
  #slices: number[] = []

  #flushRequested = false

  /** Whether #makeRoomForWrite has anything to do before the next group (else the group may go at once). */
  #needsRoom (): boolean {
    if (this.#bgError !== null) return true
    if (this.#versions.current.levels[0].length >= this.options.level0SlowdownTrigger) return true
    return this.#memtableFull()
  }

  /** Whether the memtable must be switched before the next group: full, or a flush was asked for. */
  #memtableFull (): boolean {
    return this.#mem.approximateBytes >= this.options.writeBufferSize || (this.#flushRequested && !this.#mem.isEmpty)
  }

  /**
   * Before a group: switch to a new memtable when the current one is full (waiting if the previous one
   * is still being flushed), and slow down or stop while level 0 has too many files.
   */
  async #makeRoomForWrite (): Promise<void> {
    let slowed = false
    for (;;) {
      if (this.#bgError !== null) throw this.#bgError
      const l0 = this.#versions.current.levels[0].length
      if (!slowed && l0 >= this.options.level0SlowdownTrigger && l0 < this.options.level0StopTrigger) {
        // Delay each group a little rather than stop all writers for seconds at the stop trigger.
        slowed = true
        this.#stats.slowdowns++
        await new Promise((resolve) => setTimeout(resolve, 1))
        continue
      }
      const full = this.#memtableFull()
      if (!full) return
      // While closing, compaction no longer runs: waiting on level 0 would never end (the log holds the data).
      if (this.#imms.length >= this.options.maxImmutableMemtables || (l0 >= this.options.level0StopTrigger && !this.#closing)) {
        const t0 = Date.now()
        await new Promise<void>((resolve) => {
          this.#stalled.push({ resolve })
          this.#scheduleBackgroundWork()
        })
        this.#stats.writeStallsMs += Date.now() - t0
        continue
      }
      await this.#switchMemtable()
      return
    }
  }

  /** Freeze the memtable and start a new commit log; the frozen one is flushed in the background. */
  async #switchMemtable (): Promise<void> {
    this.#flushRequested = false
    const old = this.#log!
    const number = this.#versions.newFileNumber()
    try {
      this.#openLog(number)
    } catch (err) {
      const e = asIoError(err, { file: join(this.dir, logFileName(number)), op: 'create commit log' })
      this.#setBackgroundError(e)
      throw e
    }
    // Earlier writes must be as durable as later synced ones, and the new log's directory entry must be
    // durable: both are started now and awaited only by the first synced write to the new log, so that
    // unsynced writers never wait for an fsync at a memtable switch.
    const previous = this.#logBarrier
    const barrier = Promise.all([
      previous,
      old.sync().finally(() => { try { old.close() } catch {} }),
      this.#fs.syncDir(this.dir)
    ]).then(() => {}, (err: unknown) => {
      const e = asIoError(err, { file: old.path, op: 'sync commit log' })
      this.#setBackgroundError(e)
      throw e
    })
    barrier.catch(() => {})
    this.#logBarrier = barrier
    this.#imms.push({ mem: this.#mem, logNumber: this.#logNumber })
    this.#logNumber = number
    this.#mem = new Memtable(this.#arenas)
    this.#scheduleBackgroundWork()
  }

  /** Durability of the logs before the current one (see #switchMemtable); null once awaited. */
  #logBarrier: Promise<void> | null = null

  // ---------------------------------------------------------------- reads

  /** The sequence a new implicit snapshot reads at. */
  get visibleSequence (): number { return this.#visibleSeq }

  /** Pin a sequence for explicit-snapshot reads; compaction keeps what it sees until released. */
  acquireSnapshot (): number {
    const seq = this.#visibleSeq
    this.#snapshots.set(seq, (this.#snapshots.get(seq) ?? 0) + 1)
    return seq
  }

  releaseSnapshot (seq: number): void {
    const n = this.#snapshots.get(seq)
    if (n === undefined) return
    if (n <= 1) this.#snapshots.delete(seq)
    else this.#snapshots.set(seq, n - 1)
    this.#scheduleBackgroundWork()
  }

  #oldestSnapshot (): number {
    let min = this.#visibleSeq
    for (const s of this.#snapshots.keys()) if (s < min) min = s
    return min
  }

  /** The value of userKey as of snapshotSeq, or undefined (absent or deleted). Synchronous. */
  get (userKey: Buffer, snapshotSeq: number = this.#visibleSeq): Buffer | undefined {
    if (!this.find(userKey, snapshotSeq)) return undefined
    // A copy: the bytes are a memtable's or a cached block's, reused once those are dropped.
    return Buffer.from(this.found.data.subarray(this.found.start, this.found.end))
  }

  /**
   * Where find() put the value it found: data[start, end). A view of a memtable value or of a (cached) block:
   * read it before the next find() or get(), decode or copy it, never mutate it.
   */
  readonly found: { data: Buffer, start: number, end: number } = { data: Buffer.alloc(0), start: 0, end: 0 }

  /**
   * Looks up userKey as of snapshotSeq; true (the value in `found`) if it holds a value, false if absent or
   * deleted. Synchronous; get() without the view. ukey: userKey as a latin1 string, when the caller has it.
   * Keeps no reference to userKey once it returns: callers may reuse its buffer.
   */
  find (userKey: Buffer, snapshotSeq: number = this.#visibleSeq, ukey?: string): boolean {
    let seq: number
    let kind: number
    const found = this.found
    let m: MemtableEntry | undefined
    const mem = this.#mem
    const imms = this.#imms
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
      const r: TableGetResult | undefined = this.#versions.current.get(this, userKey, snapshotSeq)
      if (r === undefined) return false
      seq = seqOf(r.key)
      kind = kindOf(r.key)
      found.data = r.data
      found.start = r.start
      found.end = r.end
    }
    if (kind !== KIND_VALUE) return false
    const tombstones = this.#tombstones
    if (tombstones.length > 0 && anyTombstoneCovers(tombstones, userKey, seq, snapshotSeq)) return false
    return true
  }

  /** @internal TableGetter for Version.get. */
  getFromTable (file: FileMeta, userKey: Buffer, snapshotSeq: number): TableGetResult | undefined {
    return this.#tables.get(file, userKey, snapshotSeq)
  }

  /**
   * A merged cursor over every source as of now, with the range tombstones a reader at snapshotSeq must
   * apply. The current version stays pinned (its files on disk) until release().
   */
  newInternalIterator (snapshotSeq: number): { iterator: InternalIterator, tombstones: RangeTombstone[], release: () => void } {
    const version = this.#versions.current
    version.ref()
    // Each memtable read stays referenced (its arena not reused) until release().
    const mems = [this.#mem, ...this.#imms.map((i) => i.mem)]
    for (const m of mems) m.ref()
    const children: InternalIterator[] = [this.#mem.iterator()]
    for (let i = this.#imms.length - 1; i >= 0; i--) children.push(this.#imms[i].mem.iterator())
    for (const f of version.levels[0]) children.push(this.#tables.iterator(f))
    for (let level = 1; level < version.levels.length; level++) {
      if (version.levels[level].length > 0) children.push(new LevelIterator(version.levels[level], this.#tables))
    }
    const tombstones = this.#tombstones.filter((t) => t.seq <= snapshotSeq)
    let released = false
    const iterator = new MergingIterator(children)
    return {
      iterator,
      tombstones,
      release: () => {
        if (released) return
        released = true
        iterator.close()
        for (const m of mems) m.unref()
        version.unref()
      }
    }
  }

  // ---------------------------------------------------------------- background work

  /**
   * Start what background work is due. Flushing the frozen memtable runs on its own, beside any compaction
   * (writers may be waiting for it); compactions, tombstone retirement and manual compactions run one at a
   * time in the compaction loop.
   */
  #scheduleBackgroundWork (): void {
    if (this.#closed || this.#bgError !== null || this.options.readOnly) {
      this.#wakeIdle()
      return
    }
    if (this.#imms.length > 0 && !this.#flushRunning) {
      this.#flushRunning = true
      setImmediate(() => { void this.#flushLoop() })
    }
    if (!this.#bgRunning && this.#hasCompactionWork()) {
      this.#bgRunning = true
      setImmediate(() => { void this.#backgroundLoop() })
    }
    if (!this.#bgRunning && !this.#flushRunning) this.#wakeIdle()
  }

  #flushRunning = false

  #hasBackgroundWork (): boolean {
    return this.#imms.length > 0 || this.#hasCompactionWork()
  }

  #hasCompactionWork (): boolean {
    if (this.#closing) return false
    return this.#manualCompactions.length > 0 ||
      this.#retirableTombstone() !== undefined ||
      pickCompaction(this.#versions.current, this.options, this.#versions.compactPointers) !== null
  }

  async #flushLoop (): Promise<void> {
    try {
      while (this.#imms.length > 0 && this.#bgError === null) await this.#flushImmutable()
    } catch (err) {
      this.#setBackgroundError(err as Error)
    } finally {
      this.#flushRunning = false
      this.#wakeStalled()
      this.#scheduleBackgroundWork()
    }
  }

  async #backgroundLoop (): Promise<void> {
    try {
      for (;;) {
        if (this.#closing || this.#bgError !== null) break
        const t = this.#retirableTombstone()
        if (t !== undefined) {
          await this.#retireTombstone(t)
          continue
        }
        if (this.#manualCompactions.length > 0) {
          await this.#runManualCompaction()
          continue
        }
        const c = pickCompaction(this.#versions.current, this.options, this.#versions.compactPointers)
        if (c !== null) {
          await this.#runCompaction(c)
          continue
        }
        break
      }
    } catch (err) {
      // A job stopped because the database is closing is no failure.
      if (!(err instanceof JobAborted)) this.#setBackgroundError(err as Error)
    } finally {
      this.#bgRunning = false
      this.#wakeStalled()
      this.#scheduleBackgroundWork()
    }
  }

  #setBackgroundError (err: Error): void {
    if (this.#bgError === null) this.#bgError = err
    this.#wakeStalled()
    for (const m of this.#manualCompactions.splice(0)) m.reject(err)
  }

  #wakeStalled (): void {
    for (const w of this.#stalled.splice(0)) w.resolve()
  }

  #wakeIdle (): void {
    for (const w of this.#bgIdle.splice(0)) w.resolve()
  }

  /** Resolves when no background work is running or pending. */
  waitForIdle (): Promise<void> {
    if (!this.#bgRunning && !this.#flushRunning && (this.#bgError !== null || !this.#hasBackgroundWork())) return Promise.resolve()
    return new Promise((resolve) => {
      this.#bgIdle.push({ resolve })
      this.#scheduleBackgroundWork()
    })
  }

  /**
   * Write a sorted source to a new table file (synced, directory synced), or nothing when it is empty, on
   * the main thread, yielding to the event loop between slices so foreground reads and writes go on.
   */
  async #buildTable (source: InternalIterator, yieldSlices = true): Promise<FileMeta | null> {
    const number = this.#versions.newFileNumber()
    this.#pendingOutputs.add(number)
    try {
      const meta = await writeTable(this.#fs, this.dir, number, source, this.options, this.#hooks(yieldSlices))
      if (meta !== null) {
        await this.#syncDir()
        this.#stats.bytesFlushed += meta.size
      }
      return meta
    } catch (err) {
      this.#pendingOutputs.delete(number)
      throw err
    }
  }

  /** Main-thread job hooks; only compactions stop early at close (a flush always completes). */
  #hooks (yieldSlices: boolean, abortable = false): JobHooks {
    return { sliceEntries: MAIN_THREAD_SLICE, yieldBetweenSlices: yieldSlices, shouldAbort: () => abortable && this.#closing }
  }

  /** Flush the oldest frozen memtable to a table, placed as deep as it can go without overlap (LevelDB's rule). */
  async #flushImmutable (): Promise<void> {
    const imm = this.#imms[0].mem
    let meta: FileMeta | null
    if (this.#flushThread !== null) {
      const number = this.#versions.newFileNumber()
      this.#pendingOutputs.add(number)
      try {
        // The worker reads the frozen memtable's arena where it lies; imm stays referenced until it is done.
        meta = await this.#flushThread.flush(this.dir, number, imm.run(), this.options)
        if (meta !== null) {
          await this.#syncDir()
          this.#stats.bytesFlushed += meta.size
        }
      } catch (err) {
        this.#pendingOutputs.delete(number)
        throw err
      }
    } else {
      meta = await this.#buildTable(imm.iterator())
    }
    // Logs older than the next frozen memtable's (or the current one's) are no longer needed.
    const edit: VersionEdit = { logNumber: this.#imms[1]?.logNumber ?? this.#logNumber }
    if (meta !== null) {
      const level = this.#pickLevelForFlush(meta)
      edit.newFiles = [{ level, file: meta }]
    }
    if (imm.rangeTombstones.length > 0) edit.addedTombstones = [...imm.rangeTombstones]
    try {
      await this.#versions.logAndApply(edit)
    } finally {
      if (meta !== null) this.#pendingOutputs.delete(meta.number)
    }
    this.#imms.shift()
    imm.unref()
    this.#stats.flushes++
    this.#wakeStalled()
    this.#deleteObsoleteFiles()
  }

  #pickLevelForFlush (meta: FileMeta): number {
    // A compaction running beside this flush may be writing to the levels below: stay in level 0.
    if (this.#bgRunning) return 0
    const v = this.#versions.current
    const start = userKeyOf(meta.smallest)
    const end = userKeyOf(meta.largest)
    // A range tombstone that covers the new file must stay above the data it hides; keep such files in L0.
    for (const t of this.#tombstones) if (tombstoneOverlapsRange(t, start, end)) return 0
    let level = 0
    // Push down at most to level 2, and only while nothing overlaps and the grandparent overlap is small.
    while (level < 2) {
      if (v.overlapping(level, start, end).length > 0) break
      if (v.overlapping(level + 1, start, end).length > 0) break
      if (level + 2 < NUM_LEVELS) {
        let gp = 0
        for (const f of v.overlapping(level + 2, start, end)) gp += f.size
        if (gp > 10 * this.options.maxFileSize) break
      }
      level++
    }
    return level
  }

  /** A persisted tombstone that no explicit snapshot still needs to see under, ready to retire. */
  #retirableTombstone (): RangeTombstone | undefined {
    const persisted = this.#versions.current.rangeTombstones
    if (persisted.length === 0) return undefined
    const oldest = this.#oldestSnapshot()
    return persisted.find((t) => t.seq <= oldest)
  }

  /**
   * Physically apply a range tombstone and forget it: tables wholly inside its range holding only older
   * entries are dropped without being read; tables that straddle it are rewritten without the entries it
   * hides. One edit removes the files, adds the rewrites and removes the tombstone.
   */
  async #retireTombstone (t: RangeTombstone): Promise<void> {
    const v = this.#versions.current
    const edit: VersionEdit = { deletedFiles: [], newFiles: [], removedTombstones: [t.seq] }
    const outputs: number[] = []
    try {
      for (let level = 0; level < v.levels.length; level++) {
        for (const f of v.levels[level]) {
          const smallest = userKeyOf(f.smallest)
          const largest = userKeyOf(f.largest)
          if (!tombstoneOverlapsRange(t, smallest, largest)) continue
          if (f.minSeq >= t.seq) continue
          edit.deletedFiles!.push({ level, number: f.number })
          if (f.maxSeq < t.seq && tombstoneContainsRange(t, smallest, largest)) continue
          const source = new FilteringIterator(this.#tables.iterator(f, { fillCache: false }), (key) =>
            !tombstoneCovers(t, userKeyOf(key), seqOf(key), MAX_SEQUENCE))
          const meta = await this.#buildTable(source)
          if (meta !== null) {
            outputs.push(meta.number)
            edit.newFiles!.push({ level, file: meta })
          }
        }
      }
      await this.#versions.logAndApply(edit)
    } finally {
      for (const n of outputs) this.#pendingOutputs.delete(n)
    }
    this.#tombstones = this.#tombstones.filter((x) => x !== t && x.seq !== t.seq)
    this.#stats.tombstonesRetired++
    this.#wakeStalled()
    this.#deleteObsoleteFiles()
  }

  async #runManualCompaction (): Promise<void> {
    const m = this.#manualCompactions[0]
    try {
      for (let level = 0; level < NUM_LEVELS - 1; level++) {
        for (;;) {
          if (this.#closing) throw new ModuleError('database closed during compactRange()', { code: 'LEVEL_DATABASE_NOT_OPEN' })
          const v = this.#versions.current
          const inputs = v.overlapping(level, m.start, m.end)
          if (inputs.length === 0) break
          const deeper = v.levels.slice(level + 1).some((files) => files.length > 0)
          if (!deeper && level > 0) {
            // The bottom level. If it holds more than its target, move all of it down, unchanged, to the
            // first level that can hold it: left where it is, it would be compacted again right after.
            await this.#moveBottomLevelDown(level)
            break
          }
          const c = expand(v, level, level === 0 ? level0Inputs(v, m.start, m.end) : inputs, this.options.maxFileSize)
          await this.#runCompaction(c, false)
          if (level > 0) break
        }
      }
      this.#manualCompactions.shift()
      m.resolve()
    } catch (err) {
      this.#manualCompactions.shift()
      m.reject(err instanceof JobAborted ? new ModuleError('database closed during compactRange()', { code: 'LEVEL_DATABASE_NOT_OPEN' }) : err as Error)
      throw err
    }
  }

  /**
   * Moves every file of `level` (the bottom level: nothing deeper) to the shallowest deeper level whose target
   * its bytes fit, in one edit and without rewriting a byte. Nothing when it already fits, or while a flush
   * runs (the background compactions then move it as usual).
   */
  async #moveBottomLevelDown (level: number): Promise<void> {
    // Not beside a flush: one that places its table below level 0 chose its level against the old shape.
    if (this.#flushRunning || this.#imms.length > 0) return
    const v = this.#versions.current
    const bytes = v.levelBytes(level)
    let target = level
    while (target < NUM_LEVELS - 1 && bytes > maxBytesForLevel(target, this.options)) target++
    if (target === level) return
    const files = v.levels[level]
    await this.#versions.logAndApply({
      deletedFiles: files.map((f) => ({ level, number: f.number })),
      newFiles: files.map((f) => ({ level: target, file: f }))
    })
    this.#stats.trivialMoves += files.length
  }

  /**
   * Merge a compaction's inputs into level+1 (see compaction-job.ts), on the background thread when there is
   * one; a single input file that overlaps nothing below is moved instead of rewritten.
   */
  async #runCompaction (c: Compaction, allowTrivialMove = true): Promise<void> {
    const [inputs0, inputs1] = c.inputs
    const outLevel = c.level + 1
    const v = this.#versions.current
    let gpBytes = 0
    for (const f of c.grandparents) gpBytes += f.size
    if (allowTrivialMove && inputs0.length === 1 && inputs1.length === 0 && gpBytes <= 10 * this.options.maxFileSize) {
      const f = inputs0[0]
      await this.#versions.logAndApply({
        deletedFiles: [{ level: c.level, number: f.number }],
        newFiles: [{ level: outLevel, file: f }],
        compactPointers: [{ level: c.level, key: f.largest }]
      })
      this.#stats.trivialMoves++
      this.#wakeStalled()
      return
    }
    let inputBytes = 0
    for (const f of [...inputs0, ...inputs1]) inputBytes += f.size
    // Reserve file numbers for the outputs: twice the count of size cuts, one per possible grandparent cut
    // (the overlap counter restarts after each), plus slack for small outputs.
    const count = 2 * Math.ceil(inputBytes / this.options.maxFileSize) + Math.ceil(gpBytes / (10 * this.options.maxFileSize)) + 16
    const first = this.#versions.nextFileNumber
    this.#versions.nextFileNumber += count
    const range: [number, number] = [first, first + count]
    this.#pendingRanges.push(range)
    const job: CompactionJob = {
      dir: this.dir,
      level: c.level,
      inputs0,
      inputs1,
      grandparents: c.grandparents,
      deeper: v.levels.slice(outLevel + 1).map((files) => files.map((f) => [userKeyOf(f.smallest), userKeyOf(f.largest)] as [Buffer, Buffer])),
      smallestSnapshot: this.#oldestSnapshot(),
      layout: {
        blockSize: this.options.blockSize,
        blockRestartInterval: this.options.blockRestartInterval,
        bloomBitsPerKey: this.options.bloomBitsPerKey,
        maxFileSize: this.options.maxFileSize
      },
      firstFileNumber: first,
      fileNumberCount: count
    }
    let recording = false
    v.ref()
    try {
      let result: CompactionResult
      if (this.#background !== null) {
        this.#runningJob = this.#background.compact(job)
        if (this.#closing) this.#runningJob.abort()
        try { result = await this.#runningJob.result } finally { this.#runningJob = null }
      } else {
        result = await runCompactionJob(this.#fs, job, this.#hooks(true, true))
      }
      if (result.outputs.length > 0) await this.#syncDir()
      this.#stats.bytesCompactedRead += result.bytesRead
      this.#stats.bytesCompactedWritten += result.bytesWritten
      // From here a failure leaves it unknown whether the edit reached the MANIFEST (a failed fsync may still
      // have written it): the outputs must stay, or a reopen could find the edit naming deleted files.
      recording = true
      await this.#versions.logAndApply({
        deletedFiles: [
          ...inputs0.map((f) => ({ level: c.level, number: f.number })),
          ...inputs1.map((f) => ({ level: outLevel, number: f.number }))
        ],
        newFiles: result.outputs.map((f) => ({ level: outLevel, file: f })),
        compactPointers: [{ level: c.level, key: inputs0[inputs0.length - 1].largest }]
      })
      this.#stats.compactions++
      this.#wakeStalled()
    } catch (err) {
      for (let n = range[0]; n < range[1] && !recording; n++) {
        if (this.#fs.exists(join(this.dir, tableFileName(n)))) { try { this.#fs.unlink(join(this.dir, tableFileName(n))) } catch {} }
      }
      if (err instanceof JobAborted) throw err
      throw err instanceof ModuleError ? err : asIoError(err, { file: this.dir, op: 'compaction' })
    } finally {
      this.#pendingRanges.splice(this.#pendingRanges.indexOf(range), 1)
      v.unref()
    }
    this.#deleteObsoleteFiles()
  }

  /**
   * Delete files no version references: tables not live, commit logs older than the MANIFEST's log number,
   * old MANIFESTs. Runs after every edit is durable; a table an iterator still reads is in a live version.
   */
  #deleteObsoleteFiles (): void {
    if (this.#bgError !== null || this.#closed || this.options.readOnly) return
    const live = this.#versions.liveFiles()
    for (const n of this.#pendingOutputs) live.add(n)
    let names: string[]
    try {
      names = this.#fs.readdir(this.dir)
    } catch {
      return
    }
    for (const name of names) {
      const p = parseFileName(name)
      if (p === undefined) continue
      let keep = true
      switch (p.kind) {
        case 'table': keep = live.has(p.number) || this.#pendingRanges.some(([lo, hi]) => p.number >= lo && p.number < hi); break
        case 'log': keep = p.number >= this.#versions.logNumber || this.#imms.some((i) => i.logNumber === p.number) || p.number === this.#logNumber; break
        case 'manifest': keep = p.number >= this.#versions.manifestNumber; break
        // A CURRENT being installed is written as <new MANIFEST number>.tmp.
        case 'temp': keep = this.#pendingOutputs.has(p.number) || p.number >= this.#versions.manifestNumber; break
        default: keep = true
      }
      if (!keep) {
        if (p.kind === 'table') this.#tables.evict(p.number)
        const path = join(this.dir, name)
        if (this.#fs.unlinkInBackground !== undefined) this.#fs.unlinkInBackground(path)
        else { try { this.#fs.unlink(path) } catch {} }
      }
    }
  }

  // ---------------------------------------------------------------- maintenance and introspection

  /** Compact every level's files that overlap [start, end] (null = unbounded), flushing the memtable first. */
  async compactRange (start: Buffer | null, end: Buffer | null): Promise<void> {
    await this.flush()
    if (this.#bgError !== null) throw this.#bgError
    await new Promise<void>((resolve, reject) => {
      this.#manualCompactions.push({ start, end, resolve, reject })
      this.#scheduleBackgroundWork()
    })
  }

  /**
   * Write the memtable to a table now. The switch goes through the write pipeline, so that no write group
   * can straddle it; then wait until the background has flushed it.
   */
  async flush (): Promise<void> {
    if (!this.#mem.isEmpty) {
      this.#flushRequested = true
      await this.write([], false)
    }
    while (this.#imms.length > 0 && this.#bgError === null && !this.#closed) {
      await new Promise<void>((resolve) => {
        this.#stalled.push({ resolve })
        this.#scheduleBackgroundWork()
      })
    }
    if (this.#bgError !== null) throw this.#bgError
  }

  /** Approximate bytes on disk used by keys in [start, end). */
  approximateSize (start: Buffer, end: Buffer): number {
    const v = this.#versions.current
    const a = makeInternalKey(start, MAX_SEQUENCE, 0xff)
    const b = makeInternalKey(end, MAX_SEQUENCE, 0xff)
    let total = 0
    for (const files of v.levels) {
      for (const f of files) {
        if (compareInternalKeys(f.largest, a) < 0 || compareInternalKeys(f.smallest, b) >= 0) continue
        total += this.#tables.approximateOffsetOf(f, b) - this.#tables.approximateOffsetOf(f, a)
      }
    }
    return total
  }

  /** Named introspection values; see engine/README.md for the list. */
  getProperty (name: string): unknown {
    const v = this.#versions.current
    const levels = v.levels.map((files, level) => ({
      level,
      files: files.length,
      bytes: v.levelBytes(level),
      targetBytes: level === 0 ? null : maxBytesForLevel(level, this.options)
    }))
    const cache = this.#blockCache.stats()
    const hitRate = cache.hits + cache.misses === 0 ? 0 : cache.hits / (cache.hits + cache.misses)
    switch (name) {
      case 'lsm.levels': return levels
      case 'lsm.memtable-bytes': return this.#memtableBytes()
      case 'lsm.block-cache': return { ...cache, hitRate, capacityBytes: this.options.blockCacheSize }
      case 'lsm.block-cache-hit-rate': return hitRate
      case 'lsm.pending-compaction-bytes': return this.#pendingCompactionBytes(v)
      case 'lsm.open-tables': return this.#tables.openCount
      case 'lsm.sequence': return this.#visibleSeq
      case 'lsm.range-tombstones': return this.#tombstones.length
      case 'lsm.background-error': return this.#bgError?.message ?? null
      case 'lsm.compaction-stats': return { ...this.#stats }
      case 'lsm.stats': return {
        levels,
        memtableBytes: this.#memtableBytes(),
        blockCache: { ...cache, hitRate },
        pendingCompactionBytes: this.#pendingCompactionBytes(v),
        openTables: this.#tables.openCount,
        sequence: this.#visibleSeq,
        snapshots: [...this.#snapshots.values()].reduce((a, b) => a + b, 0),
        rangeTombstones: this.#tombstones.length,
        backgroundError: this.#bgError?.message ?? null,
        ...this.#stats
      }
      default: {
        const m = /^lsm\.num-files-at-level(\d+)$/.exec(name)
        if (m !== null && Number(m[1]) < NUM_LEVELS) return v.levels[Number(m[1])].length
        return undefined
      }
    }
  }

  #memtableBytes (): number {
    let n = this.#mem.memoryBytes
    for (const i of this.#imms) n += i.mem.memoryBytes
    return n
  }

  /** Bytes that compaction must rewrite to bring every level under its target (RocksDB's estimate). */
  #pendingCompactionBytes (v: Version): number {
    let pending = 0
    if (v.levels[0].length >= this.options.level0CompactionTrigger) pending += v.levelBytes(0)
    for (let level = 1; level < NUM_LEVELS - 1; level++) {
      const excess = v.levelBytes(level) - maxBytesForLevel(level, this.options)
      if (excess > 0) pending += excess * (this.options.levelMultiplier + 1)
    }
    return pending
  }

  /** Live table files with their levels (for tools). */
  liveTables (): Array<{ level: number, file: FileMeta }> {
    const out: Array<{ level: number, file: FileMeta }> = []
    this.#versions.current.levels.forEach((files, level) => { for (const file of files) out.push({ level, file }) })
    return out
  }

  /**
   * Stop: wait for queued writes, flush nothing more than needed (the log already holds the memtable),
   * let a running background job reach a safe point, then close files and release the lock.
   */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closing = true
    this.#wakeStalled()
    this.#runningJob?.abort()
    while (this.#writing || this.#queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 1))
    this.#runningJob?.abort()
    while (this.#bgRunning || this.#flushRunning) await new Promise<void>((resolve) => { this.#bgIdle.push({ resolve }) })

    for (const m of this.#manualCompactions.splice(0)) m.reject(new ModuleError('database closed', { code: 'LEVEL_DATABASE_NOT_OPEN' }))
    try {
      if (this.#log !== null && this.#bgError === null) this.#log.flush()
      await this.#logBarrier?.catch(() => {})
      // Obsolete files are deleted before the lock goes: the next owner (or a repair) must not list them.
      await this.#fs.backgroundUnlinksSettled?.()
    } finally {
      this.#releaseResources()
    }
  }

  #releaseResources (): void {
    this.#closed = true
    try { this.#log?.close() } catch {}
    this.#log = null
    this.#versions.close()
    this.#tables.close()
    this.#lock?.release()
    this.#lock = null
    this.#wakeStalled()
    this.#wakeIdle()
  }
}

const EMPTY = Buffer.alloc(0)

/** Passes through only the entries a predicate keeps (forward iteration only: used to rewrite tables). */
class FilteringIterator implements InternalIterator {
  readonly #inner: InternalIterator
  readonly #keep: (key: Buffer) => boolean

  constructor (inner: InternalIterator, keep: (key: Buffer) => boolean) {
    this.#inner = inner
    this.#keep = keep
  }

  valid (): boolean { return this.#inner.valid() }
  seekToFirst (): void { this.#inner.seekToFirst(); this.#skip() }
  seekToLast (): void { throw new Error('FilteringIterator is forward-only') }
  seek (target: Buffer): void { this.#inner.seek(target); this.#skip() }
  next (): void { this.#inner.next(); this.#skip() }
  prev (): void { throw new Error('FilteringIterator is forward-only') }
  key (): Buffer { return this.#inner.key() }
  value (): Buffer { return this.#inner.value() }
  valueSlice (): ValueSlice { return this.#inner.valueSlice() }
  close (): void { this.#inner.close() }
  #skip (): void { while (this.#inner.valid() && !this.#keep(this.#inner.key())) this.#inner.next() }
}
