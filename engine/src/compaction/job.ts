import { join } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { FileSystem, WritableFile } from '../fs/file-system.js'
import { TableBuilder } from '../sstable/table-builder.js'
import { BlockCache } from '../sstable/block-cache.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import { MergingIterator } from '../iterator/merging-iterator.js'
import { TableCache, LevelIterator } from '../sstable/table-cache.js'
import { type FileMeta, tableFileName } from '../version/file-meta.js'
import { copyBytes } from '../coding.js'
import { KIND_DELETE, KIND_SEEK, MAX_SEQUENCE, TRAILER_SIZE, makeInternalKey, compareBytes, compareInternalKeys, compareInternalKeySlices, seqAt } from '../keys.js'
import { asIoError } from '../errors.js'
import { maxGrandparentOverlapBytes } from './limits.js'
import type { CompressionName } from '../sstable/compression.js'
import type { EngineOptions } from '../options.js'

/** How tables are laid out: the part of the options a table writer needs. */
export interface TableLayout {
  blockSize: number
  blockRestartInterval: number
  bloomBitsPerKey: number
  maxFileSize: number
  /** Codec of the data blocks of the tables written. */
  compression: CompressionName
}

/** The layout of tables written to level (its codec is the level's). */
export function tableLayout (options: EngineOptions, level: number): TableLayout {
  return {
    blockSize: options.blockSize,
    blockRestartInterval: options.blockRestartInterval,
    bloomBitsPerKey: options.bloomBitsPerKey,
    maxFileSize: options.maxFileSize,
    compression: options.compression[level]
  }
}

/**
 * Everything a compaction needs, as plain data, so that it can run on the main thread or in the background
 * worker: the inputs, the user-key ranges of every deeper file (to know where a tombstone can be dropped),
 * the oldest snapshot, and a block of file numbers reserved for the outputs.
 */
export interface CompactionJob {
  dir: string
  level: number
  /** Level-`level` inputs (each a separate source when level is 0) and level+1 inputs. */
  inputs0: FileMeta[]
  inputs1: FileMeta[]
  grandparents: FileMeta[]
  /** Per level deeper than level+1, the [smallest, largest] user keys of its files, sorted. */
  deeper: Array<Array<[Buffer, Buffer]>>
  smallestSnapshot: number
  layout: TableLayout
  firstFileNumber: number
  fileNumberCount: number
  /**
   * The user keys this job merges, [start, end) (null: unbounded): a subcompaction's share of a compaction
   * split by key range, so that several threads merge disjoint parts of it at once.
   */
  start: Buffer | null
  end: Buffer | null
}

/** What a compaction produced. */
export interface CompactionResult {
  outputs: FileMeta[]
  bytesRead: number
  bytesWritten: number
  entriesDropped: number
}

/** Hooks of the thread that runs a job. */
export interface JobHooks {
  /** Entries per slice. */
  sliceEntries: number
  /** Give the event loop a turn between slices (on the main thread, so reads and writes go on). */
  yieldBetweenSlices: boolean
  /** Checked between slices: true stops the job (the database is closing); its outputs are deleted. */
  shouldAbort: () => boolean
}

/** Entries between yields when a job runs on the main thread: about a millisecond of work. */
export const MAIN_THREAD_SLICE = 2000

/** Thrown when a job stops because the database closes. */
export class JobAborted extends Error {}

/** Write a sorted source into one table file (synced): the flush of a memtable. Null when empty. */
export async function writeTable (fs: FileSystem, dir: string, number: number, source: InternalIterator, layout: TableLayout, hooks: JobHooks): Promise<FileMeta | null> {
  const path = join(dir, tableFileName(number))
  let file: WritableFile | null = null
  try {
    source.seekToFirst()
    if (!source.valid()) return null
    file = fs.openWritable(path)
    const builder = new TableBuilder(file, builderOptions(layout, path))
    let n = 0
    for (; source.valid(); source.next()) {
      const k = source.keySlice()
      const v = source.valueSlice()
      builder.addEntry(k.data, k.start, k.end, v.data, v.start, v.end)
      if (++n % hooks.sliceEntries === 0) {
        if (hooks.yieldBetweenSlices) await yieldToEventLoop()
        if (hooks.shouldAbort()) throw new JobAborted()
      }
    }
    const props = builder.finish()
    await file.sync()
    file.close()
    file = null
    return { number, size: props.fileSize, smallest: props.smallestKey, largest: props.largestKey, minSeq: props.minSequence, maxSeq: props.maxSequence }
  } catch (err) {
    if (file !== null) { try { file.close() } catch {} }
    try { fs.unlink(path) } catch {}
    if (err instanceof JobAborted) throw err
    throw asIoError(err, { file: path, op: 'write table' })
  } finally {
    source.close()
  }
}

function builderOptions (layout: TableLayout, path: string): ConstructorParameters<typeof TableBuilder>[1] {
  return { blockSize: layout.blockSize, restartInterval: layout.blockRestartInterval, bitsPerKey: layout.bloomBitsPerKey, compression: layout.compression, fileName: path }
}

/** Whether no deeper file can hold the user key userKey[0, len) (so a deletion marker for it has nothing left to hide). */
function isBaseLevelForKey (deeper: Array<Array<[Buffer, Buffer]>>, userKey: Buffer, len: number): boolean {
  for (const ranges of deeper) {
    let lo = 0
    let hi = ranges.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const largest = ranges[mid][1]
      if (compareBytes(largest, 0, largest.length, userKey, 0, len) < 0) lo = mid + 1
      else hi = mid
    }
    if (lo < ranges.length) {
      const smallest = ranges[lo][0]
      if (compareBytes(smallest, 0, smallest.length, userKey, 0, len) <= 0) return false
    }
  }
  return true
}

/**
 * Merge a compaction's inputs into level+1 (LevelDB's DoCompactionWork): drop entries shadowed by a newer entry
 * of the same key that every snapshot sees, drop deletion markers where no deeper level can hold the key and no
 * snapshot needs them, and cut outputs at the target size (never inside one user key) or when they would
 * overlap too much of level+2. Outputs are fsynced; the caller syncs the directory and records the edit.
 */
export async function runCompactionJob (fs: FileSystem, job: CompactionJob, hooks: JobHooks): Promise<CompactionResult> {
  // Open at once: every level-0 input (merged side by side), or one file per level; a level's files are read
  // one after another, so a finished one may close, and a large compaction does not hold every input's index
  // and filter in memory.
  const openAtOnce = (job.level === 0 ? job.inputs0.length : 1) + 1
  // Inputs are only scanned: their filters are not read (each would be tens of KiB read, verified and dropped).
  const tables = new TableCache(fs, job.dir, { maxOpenFiles: openAtOnce + 2, blockCache: new BlockCache({ capacityBytes: 0 }), verifyChecksums: true, skipFilters: true })
  // Inputs are read front to back once, each entry consumed at once: large reads into reused buffers.
  const readOpts = { verifyChecksums: true, fillCache: false, readAhead: true }
  const children: InternalIterator[] = []
  if (job.level === 0) for (const f of job.inputs0) children.push(tables.iterator(f, readOpts))
  else children.push(new LevelIterator(job.inputs0, tables, readOpts))
  if (job.inputs1.length > 0) children.push(new LevelIterator(job.inputs1, tables, readOpts))
  const input = new MergingIterator(children)
  const outputs: FileMeta[] = []
  const maxGpOverlap = maxGrandparentOverlapBytes(job.layout)
  let nextNumber = job.firstFileNumber
  const endNumber = job.firstFileNumber + job.fileNumberCount
  let file: WritableFile | null = null
  let builder: TableBuilder | null = null
  let outNumber = 0
  // The user key of the entries being merged, copied out of the input cursor (whose bytes the next step
  // overwrites) into a buffer reused for every key.
  let lastUserKey = Buffer.allocUnsafe(64)
  let lastUserKeyLen = -1
  let lastSeqForKey = MAX_SEQUENCE
  let gpIndex = 0
  let gpOverlap = 0
  let dropped = 0
  let bytesWritten = 0

  const finishOutput = async (): Promise<void> => {
    const props = builder!.finish()
    await file!.sync()
    file!.close()
    file = null
    builder = null
    outputs.push({ number: outNumber, size: props.fileSize, smallest: props.smallestKey, largest: props.largestKey, minSeq: props.minSequence, maxSeq: props.maxSequence })
    bytesWritten += props.fileSize
  }

  if (job.start !== null) {
    const startKey = makeInternalKey(job.start, MAX_SEQUENCE, KIND_SEEK)
    // Grandparents wholly before this job's range overlap none of its outputs.
    while (gpIndex < job.grandparents.length && compareInternalKeys(startKey, job.grandparents[gpIndex].largest) > 0) gpIndex++
    input.seek(startKey)
  } else {
    input.seekToFirst()
  }
  const end = job.end

  try {
    let n = 0
    for (; input.valid(); input.next()) {
      if (++n % hooks.sliceEntries === 0) {
        if (hooks.yieldBetweenSlices) await yieldToEventLoop()
        if (hooks.shouldAbort()) throw new JobAborted()
      }
      // The entry's key is kd[ks, ke), its trailer at kd[trailer]: read in place, never copied whole.
      const k = input.keySlice()
      const kd = k.data
      const ks = k.start
      const ke = k.end
      const trailer = ke - TRAILER_SIZE
      const seq = seqAt(kd, trailer)
      const newUserKey = lastUserKeyLen < 0 || compareBytes(kd, ks, trailer, lastUserKey, 0, lastUserKeyLen) !== 0
      if (newUserKey) {
        if (end !== null && compareBytes(kd, ks, trailer, end, 0, end.length) >= 0) break
        lastUserKeyLen = trailer - ks
        if (lastUserKeyLen > lastUserKey.length) lastUserKey = Buffer.allocUnsafe(Math.max(lastUserKeyLen, 2 * lastUserKey.length))
        copyBytes(kd, ks, lastUserKey, 0, lastUserKeyLen)
        lastSeqForKey = MAX_SEQUENCE
      }
      let drop = false
      if (lastSeqForKey <= job.smallestSnapshot) {
        drop = true // a newer entry of this key is visible to every reader
      } else if (kd[trailer] === KIND_DELETE && seq <= job.smallestSnapshot && isBaseLevelForKey(job.deeper, lastUserKey, lastUserKeyLen)) {
        drop = true // nothing deeper to hide, and no reader needs the marker itself
      }
      lastSeqForKey = seq
      if (drop) { dropped++; continue }

      if (builder !== null && newUserKey) {
        while (gpIndex < job.grandparents.length && compareInternalKeySlices(kd, ks, ke, job.grandparents[gpIndex].largest, 0, job.grandparents[gpIndex].largest.length) > 0) {
          gpOverlap += job.grandparents[gpIndex].size
          gpIndex++
        }
        if ((builder as TableBuilder).estimatedSize >= job.layout.maxFileSize || gpOverlap > maxGpOverlap) {
          await finishOutput()
          gpOverlap = 0
        }
      }
      if (builder === null) {
        if (nextNumber >= endNumber) throw new Error('compaction ran out of reserved file numbers')
        outNumber = nextNumber++
        const path = join(job.dir, tableFileName(outNumber))
        file = fs.openWritable(path)
        builder = new TableBuilder(file, builderOptions(job.layout, path))
      }
      const v = input.valueSlice()
      builder.addEntry(kd, ks, ke, v.data, v.start, v.end)
    }
    if (builder !== null) await finishOutput()
  } catch (err) {
    if (file !== null) { try { (file as WritableFile).close() } catch {} }
    for (let num = job.firstFileNumber; num < nextNumber; num++) {
      try { fs.unlink(join(job.dir, tableFileName(num))) } catch {}
    }
    throw err
  } finally {
    input.close()
    tables.close()
  }
  let bytesRead = 0
  for (const f of job.inputs0) bytesRead += f.size
  for (const f of job.inputs1) bytesRead += f.size
  return { outputs, bytesRead, bytesWritten, entriesDropped: dropped }
}
