import { join } from 'node:path'
import type { FileLock, WritableFile } from '../fs/file-system.js'
import { RealFileSystem } from '../fs/real.js'
import type { EngineOptions } from '../options.js'
import { ArenaPool } from '../memtable/arena-pool.js'
import { Memtable } from '../memtable/memtable.js'
import { LogWriter } from '../wal/log-writer.js'
import { BlockCache } from '../sstable/block-cache.js'
import { TableCache } from '../sstable/table-cache.js'
import { VersionSet } from '../version/version-set.js'
import { NUM_LEVELS } from '../version/version.js'
import { logFileName } from '../version/file-meta.js'
import type { RangeTombstone } from '../range-tombstone.js'
import { asIoError } from '../errors.js'
import type { CompactionResult } from '../compaction/job.js'
import { type BackgroundThread, type RunningJob, backgroundThreadAvailable, sharedBackgroundThreads } from '../worker/background-thread.js'

/** A frozen memtable waiting for its flush, with the commit log that holds its writes. */
export interface FrozenMemtable { mem: Memtable, logNumber: number }

/** Someone waiting for background work: a stalled writer, flush() or close(). */
export interface Waiter { resolve: () => void }

/** A compactRange() call waiting for its turn in the compaction loop. */
export interface ManualCompaction {
  start: Buffer | null
  end: Buffer | null
  resolve: () => void
  reject: (e: Error) => void
}

/** Counters behind the lsm.compaction-stats property. */
export interface EngineStats {
  flushes: number
  compactions: number
  /** Parts run by compactions split across threads by key range (0 while none was split). */
  subcompactions: number
  trivialMoves: number
  bytesFlushed: number
  bytesCompactedRead: number
  bytesCompactedWritten: number
  tombstonesRetired: number
  writeStallsMs: number
  slowdowns: number
  /** Time write groups slept while held to the delayed write rate (compaction debt over its limit). */
  writeDelayMs: number
  /** Compactions run by idle passes (compaction/idle.ts), also counted in compactions or trivialMoves. */
  idleCompactions: number
}

/** Work that produced one level's tables (LevelDB's per-level compaction stats, in `leveldb.stats`). */
export class LevelWorkStats {
  ms = 0
  bytesRead = 0
  bytesWritten = 0
  add (ms: number, bytesRead: number, bytesWritten: number): void {
    this.ms += ms
    this.bytesRead += bytesRead
    this.bytesWritten += bytesWritten
  }
}

/**
 * The state of one open database that its parts share: the write queue, the read path, the background
 * work and the compaction moves each read and change it, and nothing else does. Fields are plain (not
 * #private) because several modules own a part each; none of it leaves the db/ and compaction/ folders.
 */
export class DbState {
  readonly dir: string
  readonly options: EngineOptions
  readonly fs: EngineOptions['fs']
  lock: FileLock | null = null
  readonly versions: VersionSet
  readonly blockCache: BlockCache
  readonly tables: TableCache
  /** Arenas of flushed memtables, for the next ones: the current memtable, the frozen ones, and one spare. */
  readonly arenas: ArenaPool
  mem: Memtable
  /** Frozen memtables waiting for their flush, oldest first. */
  readonly imms: FrozenMemtable[] = []
  log: WritableFile | null = null
  logWriter: LogWriter | null = null
  logNumber = 0
  /** Durability of the logs before the current one (see WriteQueue's memtable switch); null once awaited. */
  logBarrier: Promise<void> | null = null
  /** Sequence of the newest write visible to readers. */
  visibleSeq = 0
  closing = false
  closed = false
  /** A failed background flush or compaction: later writes reject with it; reads keep working. */
  bgError: Error | null = null
  /** The compaction loop runs (compactions, tombstone retirement, manual compactions, one at a time). */
  bgRunning = false
  /** The flush loop runs (beside the compaction loop: writers may be waiting for it). */
  flushRunning = false
  /** An idle pass is under way (writes stopped for idleCompactionDelayMs); cleared when it ends or is stopped. */
  idlePass = false
  /** A flush was asked for (flush(), or a range tombstone to retire soon): switch at the next group. */
  flushRequested = false
  readonly idleWaiters: Waiter[] = []
  readonly stalled: Waiter[] = []
  /** Flushed or rebuilt tables written but not yet in a version: their numbers must not be deleted. */
  readonly pendingOutputs = new Set<number>()
  /** File-number ranges reserved by running compactions: their outputs must not be deleted. */
  readonly pendingRanges: Array<[number, number]> = []
  /** Worker thread for flushes; null when they run on the main thread. */
  readonly flushThread: BackgroundThread | null = null
  /**
   * Worker threads for compactions, one per subcompaction a compaction may be split into (the first is the
   * flush thread); empty when compactions run on the main thread.
   */
  readonly compactionThreads: BackgroundThread[] = []
  /** The subcompactions running on workers, to stop them at close. */
  readonly runningJobs: Array<RunningJob<CompactionResult>> = []
  /** Explicit snapshots' sequences (a multiset: sequence -> count). */
  readonly snapshots = new Map<number, number>()
  /** Every active range tombstone (memtables and MANIFEST), ordered by sequence. */
  tombstones: RangeTombstone[] = []
  readonly manualCompactions: ManualCompaction[] = []
  readonly stats: EngineStats = {
    flushes: 0,
    compactions: 0,
    subcompactions: 0,
    trivialMoves: 0,
    bytesFlushed: 0,
    bytesCompactedRead: 0,
    bytesCompactedWritten: 0,
    tombstonesRetired: 0,
    writeStallsMs: 0,
    slowdowns: 0,
    writeDelayMs: 0,
    idleCompactions: 0
  }

  /** Per output level: flushes and compactions that wrote tables there. */
  readonly levelStats = Array.from({ length: NUM_LEVELS }, () => new LevelWorkStats())

  constructor (dir: string, options: EngineOptions) {
    this.dir = dir
    this.options = options
    this.fs = options.fs
    this.versions = new VersionSet(this.fs, dir)
    this.blockCache = new BlockCache({ capacityBytes: options.blockCacheSize })
    // A memtable fills up to writeBufferSize and takes one more group: room for a typical last group.
    this.arenas = new ArenaPool(options.writeBufferSize + 256 * 1024, options.maxImmutableMemtables + 2)
    this.mem = new Memtable(this.arenas)
    if (options.backgroundThread && options.fs instanceof RealFileSystem && backgroundThreadAvailable()) {
      const threads = sharedBackgroundThreads(options.maxSubcompactions)
      this.flushThread = threads.flush
      this.compactionThreads = threads.compaction
    }
    this.tables = new TableCache(this.fs, dir, {
      maxOpenFiles: options.maxOpenFiles,
      blockCache: this.blockCache,
      verifyChecksums: options.verifyChecksums
    })
  }

  /** The sequence below which no reader looks: the oldest explicit snapshot, or the newest write. */
  oldestSnapshot (): number {
    let min = this.visibleSeq
    for (const s of this.snapshots.keys()) if (s < min) min = s
    return min
  }

  /** Make a failure sticky: writers reject with it, waiters wake, queued manual compactions fail. */
  setBackgroundError (err: Error): void {
    if (this.bgError === null) this.bgError = err
    this.wakeStalled()
    for (const m of this.manualCompactions.splice(0)) m.reject(err)
  }

  wakeStalled (): void {
    for (const w of this.stalled.splice(0)) w.resolve()
  }

  wakeIdle (): void {
    for (const w of this.idleWaiters.splice(0)) w.resolve()
  }

  /** Makes the directory's new entries durable; a failure is LEVEL_IO_ERROR naming the directory. */
  async syncDir (): Promise<void> {
    try {
      await this.fs.syncDir(this.dir)
    } catch (err) {
      throw asIoError(err, { file: this.dir, op: 'sync directory' })
    }
  }

  /** Create commit log `number` and make it the one writes go to. */
  openLog (number: number): void {
    const path = join(this.dir, logFileName(number))
    try {
      this.log = this.fs.openWritable(path)
    } catch (err) {
      throw asIoError(err, { file: path, op: 'create commit log' })
    }
    this.logWriter = new LogWriter(this.log)
  }

  /** Bytes of memory the current and frozen memtables take. */
  memtableBytes (): number {
    let n = this.mem.memoryBytes
    for (const i of this.imms) n += i.mem.memoryBytes
    return n
  }

  /** Close files and give up the lock; waiters wake (they find the database closed). */
  releaseResources (): void {
    this.closed = true
    try { this.log?.close() } catch {}
    this.log = null
    this.versions.close()
    this.tables.close()
    this.lock?.release()
    this.lock = null
    this.wakeStalled()
    this.wakeIdle()
  }
}
