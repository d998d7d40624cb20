import type { FileSystem } from './fs/file-system.js'
import { RealFileSystem } from './fs/real.js'
import { invalidArgument } from './errors.js'
import type { CompressionName } from './sstable/compression.js'
import { NUM_LEVELS } from './version/version.js'

export type { CompressionName }

/**
 * What the `compression` option takes: classic-level's boolean (true: LZ4 on every level, false: none), a
 * codec name, or an array with one such setting per level (level 0 first; the last one also applies to
 * deeper levels). Left out, the default is the per-level list in DEFAULTS.
 */
export type CompressionOption = boolean | CompressionName | Array<boolean | CompressionName>

/** How the commit log is read back at open (see engine/README.md, "Durability"). */
export type WalRecoveryMode = 'tolerate-corrupted-tail' | 'absolute-consistency'

/** Tuning and behaviour of one database; every field has a default (see DEFAULTS). */
export interface EngineOptions {
  /** Where every byte of I/O goes; tests substitute a fault-injecting or in-memory file system. */
  fs: FileSystem
  /**
   * Bytes a memtable takes before it is frozen and flushed to a level-0 table: keys and values plus 32 bytes
   * per entry (LevelDB's charge). Its memory is about 1.3x this for 100-byte values, and never more than
   * 1.35x: small entries (deletions) are counted by their memory instead (see Memtable).
   */
  writeBufferSize: number
  /** Frozen memtables that may wait for their flush before writers wait (absorbs bursts; each costs writeBufferSize). */
  maxImmutableMemtables: number
  /** Target size of an SSTable data block, before the trailer. */
  blockSize: number
  /** Keys between restart points in a data block (full keys stored; binary search points). */
  blockRestartInterval: number
  /** Bloom filter bits per key; 0 turns the filters off. */
  bloomBitsPerKey: number
  /**
   * Codec of the data blocks written to each level (NUM_LEVELS entries). A flush writes with level 0's; a
   * compaction with its output level's. Given as a CompressionOption; see resolveOptions.
   */
  compression: CompressionName[]
  /**
   * Bytes of uncompressed data blocks kept in the block cache (CLOCK). Larger than LevelDB's 8 MiB: a miss
   * costs this engine a read system call and a buffer, where LevelDB reads its tables through mmap.
   * Memory is taken only as blocks are read.
   */
  blockCacheSize: number
  /** Tables kept open (file handle, index and filter in memory) in the table cache. */
  maxOpenFiles: number
  /** An SSTable written by compaction is cut at this size; the compaction limits scale with it (compaction/limits.ts). */
  maxFileSize: number
  /** Level-0 file count that starts a compaction into level 1. */
  level0CompactionTrigger: number
  /** Level-0 file count at which each write group is delayed by 1 ms, so compaction catches up. */
  level0SlowdownTrigger: number
  /** Level-0 file count at which writes wait for compaction. */
  level0StopTrigger: number
  /** Size target of level 1; level n+1 is `levelMultiplier` times level n. */
  maxBytesForLevelBase: number
  levelMultiplier: number
  /**
   * Compaction debt (the bytes compaction must still rewrite: compaction/limits.ts pendingCompactionBytes, the
   * `lsm.pending-compaction-bytes` property) past which writers are held to delayedWriteRate, halved for each
   * further softPendingCompactionBytes of debt (db/write-throttle.ts); 0 turns the throttle off.
   */
  softPendingCompactionBytes: number
  /** The write rate, in commit-log bytes a second, that writers are held to once the debt passes its limit. */
  delayedWriteRate: number
  /**
   * Milliseconds without a write after which the background empties levels 0 and 1 into the level below, so
   * that the versions they overwrote are dropped (compaction/idle.ts: only when those levels hold a tenth of
   * the tables' bytes; a write, compactRange() or close() stops it); 0 turns it off.
   */
  idleCompactionDelayMs: number
  /** Verify the CRC of every block read from disk (reads that hit the block cache were verified once). */
  verifyChecksums: boolean
  /** What damage in the newest commit log is tolerated at open. */
  walRecoveryMode: WalRecoveryMode
  /** Largest value accepted by a write, in bytes. */
  maxValueSize: number
  /** Largest key accepted by a write, in bytes. */
  maxKeySize: number
  /**
   * Run flushes and compactions on a worker thread (with the real file system only), so the event loop
   * keeps serving while tables are built. Off, they run on the main thread in slices.
   */
  backgroundThread: boolean
  /**
   * Worker threads one compaction may be split across, each merging a disjoint key range of it (RocksDB's
   * max_subcompactions); 1 keeps every compaction on the one background thread. Only with backgroundThread.
   */
  maxSubcompactions: number
  /**
   * Open without writing anything to the directory (for inspection tools): the commit logs are replayed
   * into memory only, no compaction runs, and every write is refused with LEVEL_READONLY.
   */
  readOnly: boolean
}

/** The defaults, each chosen like LevelDB's unless a comment says otherwise. */
export const DEFAULTS: Omit<EngineOptions, 'fs'> = {
  writeBufferSize: 4 * 1024 * 1024,
  // One frozen memtable, as LevelDB has and RocksDB's default max_write_buffer_number of 2 means: a second
  // absorbs a slow table fsync at the cost of a memtable's memory; writes keep their speed without it, with
  // short stalls while a flush finishes.
  maxImmutableMemtables: 1,
  blockSize: 4096,
  blockRestartInterval: 16,
  bloomBitsPerKey: 10,
  // LZ4 (it decodes faster than Snappy at a similar ratio: bench:codecs) on every level but 0, as RocksDB
  // recommends: level 0 holds a few memtables' worth of bytes, rewritten soon by the compaction into level 1,
  // so compressing flushes would cost the write path CPU for little disk. Most bytes live deeper, compressed.
  compression: Array.from({ length: NUM_LEVELS }, (_, level) => level === 0 ? 'none' as const : 'lz4' as const),
  // LevelDB uses 8 MiB; index and filter blocks live outside this cache here, so data blocks get it all.
  blockCacheSize: 128 * 1024 * 1024,
  maxOpenFiles: 1000,
  maxFileSize: 2 * 1024 * 1024,
  level0CompactionTrigger: 4,
  // RocksDB's, not LevelDB's 8 and 12: while writers outrun compaction, level 0 gathers more tables and each
  // compaction into level 1 merges them all in one rewrite of level 1, so fewer bytes are rewritten (in the
  // 1M random load, 71 MB compacted instead of 150 MB, and no 1 ms write delays).
  level0SlowdownTrigger: 20,
  level0StopTrigger: 36,
  maxBytesForLevelBase: 10 * 1024 * 1024,
  levelMultiplier: 10,
  // Off: holding writers back bounds the overwritten versions waiting in levels 0 and 1, but in bench:engine
  // a 16 MiB limit cost overwrite a third of its speed and the load more than half of its own, and still left
  // overwrite's space above LevelDB's (level 0's tables are raw). An option for a disk-bound deployment.
  softPendingCompactionBytes: 0,
  delayedWriteRate: 16 * 1024 * 1024,
  // A second of quiet: long enough that a pause between a writer's batches does not start (and abort) a pass,
  // short enough that a database left alone after a burst soon takes the space it needs.
  idleCompactionDelayMs: 1000,
  verifyChecksums: true,
  walRecoveryMode: 'tolerate-corrupted-tail',
  // A value must fit in one write group and one block read; 32 MiB is far past the sizes an LSM serves well.
  maxValueSize: 32 * 1024 * 1024,
  maxKeySize: 1024 * 1024,
  backgroundThread: true,
  // One, as RocksDB's default: a second worker pays only where a core sits idle while writers wait on level 0,
  // and it costs CPU and that thread's memory, so it is the caller's choice (`maxSubcompactions: 2`).
  maxSubcompactions: 1,
  readOnly: false
}

const POSITIVE_INTEGERS = [
  'writeBufferSize', 'maxImmutableMemtables', 'blockSize', 'blockRestartInterval', 'blockCacheSize', 'maxOpenFiles', 'maxFileSize',
  'level0CompactionTrigger', 'level0SlowdownTrigger', 'level0StopTrigger', 'maxBytesForLevelBase',
  'levelMultiplier', 'maxValueSize', 'maxKeySize', 'delayedWriteRate', 'maxSubcompactions'
] as const

/** The engine's options as a caller gives them: any subset, `compression` in any form, classic-level's aliases. */
export type EngineOptionsInput = Partial<Omit<EngineOptions, 'compression'>> & {
  compression?: CompressionOption
  /** classic-level's name for blockCacheSize. */
  cacheSize?: number
}

/** classic-level's option names that mean one of ours: alias -> our name. */
export const OPTION_ALIASES = { cacheSize: 'blockCacheSize' } as const

/**
 * Options of classic-level (and abstract-level's constructor) that lsm-level accepts without a warning and
 * does not pass on as engine tuning. `multithreading` has no meaning here: an lsm-level directory is opened
 * by one database at a time (its LOCK), so `multithreading: true` is refused rather than quietly ignored.
 */
export const LEVEL_OPTION_NAMES = new Set(['keyEncoding', 'valueEncoding', 'createIfMissing', 'errorIfExists', 'passive', 'multithreading'])

/** Whether name is an engine option or an alias of one (given to the engine, not to abstract-level). */
export function isEngineOptionName (name: string): boolean {
  return name === 'fs' || Object.hasOwn(DEFAULTS, name) || Object.hasOwn(OPTION_ALIASES, name)
}

/** The codec of every level from the `compression` option; LEVEL_INVALID_VALUE for anything else. */
export function resolveCompression (given: CompressionOption | undefined): CompressionName[] {
  if (given === undefined) return [...DEFAULTS.compression]
  const list = Array.isArray(given) ? given : [given]
  if (list.length === 0 || list.length > NUM_LEVELS) {
    throw invalidArgument(`option compression must be a boolean, 'lz4', 'none' or an array of 1 to ${NUM_LEVELS} of them, got an array of ${list.length}`)
  }
  const names = list.map((v): CompressionName => {
    if (v === true || v === 'lz4') return 'lz4'
    if (v === false || v === 'none') return 'none'
    throw invalidArgument(`option compression must be a boolean, 'lz4' or 'none' (or an array of them, one per level), got ${JSON.stringify(v)}`)
  })
  return Array.from({ length: NUM_LEVELS }, (_, level) => names[Math.min(level, names.length - 1)])
}

/** Fill in defaults and check every option; a bad one is LEVEL_INVALID_VALUE naming it. */
export function resolveOptions (input: EngineOptionsInput | undefined): EngineOptions {
  const { compression, cacheSize, ...given } = stripUndefined(input ?? {}) as EngineOptionsInput
  if (cacheSize !== undefined) {
    if (given.blockCacheSize !== undefined && given.blockCacheSize !== cacheSize) {
      throw invalidArgument(`options cacheSize (${String(cacheSize)}) and blockCacheSize (${String(given.blockCacheSize)}) name the same setting with different values`)
    }
    given.blockCacheSize = cacheSize
  }
  const o: EngineOptions = { ...DEFAULTS, fs: new RealFileSystem(), ...given, compression: resolveCompression(compression) }
  for (const name of POSITIVE_INTEGERS) {
    const v = o[name]
    if (!Number.isSafeInteger(v) || v <= 0) throw invalidArgument(`option ${name} must be a positive integer, got ${String(v)}`)
  }
  if (!Number.isSafeInteger(o.softPendingCompactionBytes) || o.softPendingCompactionBytes < 0) {
    throw invalidArgument(`option softPendingCompactionBytes must be a non-negative integer (0: off), got ${String(o.softPendingCompactionBytes)}`)
  }
  if (!Number.isSafeInteger(o.idleCompactionDelayMs) || o.idleCompactionDelayMs < 0) {
    throw invalidArgument(`option idleCompactionDelayMs must be a non-negative integer (0: off), got ${String(o.idleCompactionDelayMs)}`)
  }
  if (!Number.isFinite(o.bloomBitsPerKey) || o.bloomBitsPerKey < 0 || o.bloomBitsPerKey > 64) {
    throw invalidArgument(`option bloomBitsPerKey must be between 0 and 64, got ${String(o.bloomBitsPerKey)}`)
  }
  if (o.walRecoveryMode !== 'tolerate-corrupted-tail' && o.walRecoveryMode !== 'absolute-consistency') {
    throw invalidArgument(`option walRecoveryMode must be 'tolerate-corrupted-tail' or 'absolute-consistency', got ${String(o.walRecoveryMode)}`)
  }
  if (!(o.level0CompactionTrigger <= o.level0SlowdownTrigger && o.level0SlowdownTrigger <= o.level0StopTrigger)) {
    throw invalidArgument('options must satisfy level0CompactionTrigger <= level0SlowdownTrigger <= level0StopTrigger')
  }
  return o
}

function stripUndefined<T extends object> (o: T): Partial<T> {
  const out: Partial<T> = {}
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v
  return out
}
