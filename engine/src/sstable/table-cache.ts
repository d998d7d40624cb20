import { join } from 'node:path'
import { ClockCache } from './clock-cache.js'
import type { FileSystem, ReadableFile } from '../fs/file-system.js'
import { Table, type TableGetResult } from './table.js'
import type { BloomProbe } from './bloom.js'
import type { BlockCache } from './block-cache.js'
import type { ByteSlice, InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import { asIoError } from '../errors.js'
import { type FileMeta, tableFileName } from '../version/file-meta.js'
import { compareInternalKeys } from '../keys.js'

/** An open table and the readers that still use it; the file closes when evicted and unused. */
class OpenTable {
  readonly table: Table
  readonly file: ReadableFile
  refs = 0
  evicted = false

  constructor (table: Table, file: ReadableFile) {
    this.table = table
    this.file = file
  }

  release (): void {
    if (--this.refs === 0 && this.evicted) this.file.close()
  }
}

/**
 * A bounded set of open tables (file handle, index and filter in memory), evicted by CLOCK (a point read
 * looks up every table it probes here, so a hit only sets a flag). A table stays open while an iterator
 * reads it, even after eviction.
 */
export class TableCache {
  readonly #fs: FileSystem
  readonly #dir: string
  readonly #blockCache: BlockCache
  readonly #verifyChecksums: boolean
  readonly #skipFilters: boolean
  readonly #cache: ClockCache<number, OpenTable>

  /** skipFilters: open tables without their bloom filters (a cache that only scans: a compaction's). */
  constructor (fs: FileSystem, dir: string, opts: { maxOpenFiles: number, blockCache: BlockCache, verifyChecksums: boolean, skipFilters?: boolean }) {
    this.#fs = fs
    this.#dir = dir
    this.#blockCache = opts.blockCache
    this.#verifyChecksums = opts.verifyChecksums
    this.#skipFilters = opts.skipFilters === true
    this.#cache = new ClockCache<number, OpenTable>(opts.maxOpenFiles, (_number, t) => {
      t.evicted = true
      if (t.refs === 0) t.file.close()
    })
  }

  #openTable (f: FileMeta): OpenTable {
    let t = this.#cache.get(f.number)
    if (t !== undefined) return t
    const path = join(this.#dir, tableFileName(f.number))
    let file: ReadableFile
    try {
      file = this.#fs.openReadable(path)
    } catch (err) {
      throw asIoError(err, { file: path, op: 'open table' })
    }
    try {
      const table = Table.open(file, {
        fileNumber: f.number,
        blockCache: this.#blockCache,
        verifyChecksums: this.#verifyChecksums,
        fileName: path,
        skipFilter: this.#skipFilters
      })
      t = new OpenTable(table, file)
    } catch (err) {
      file.close()
      throw err
    }
    this.#cache.set(f.number, t)
    return t
  }

  /** The newest entry of userKey with sequence <= snapshotSeq in the file, or undefined. */
  get (f: FileMeta, userKey: Buffer, snapshotSeq: number, probe?: BloomProbe): TableGetResult | undefined {
    return this.#openTable(f).table.get(userKey, snapshotSeq, probe)
  }

  /** A cursor over the file; the table stays open until the cursor is closed. */
  iterator (f: FileMeta, opts: { verifyChecksums?: boolean, fillCache?: boolean, readAhead?: boolean } = {}): InternalIterator {
    const t = this.#openTable(f)
    t.refs++
    let it: InternalIterator
    try {
      it = t.table.newIterator(opts)
    } catch (err) {
      t.release()
      throw err
    }
    let closed = false
    const close = it.close.bind(it)
    it.close = () => {
      if (closed) return
      closed = true
      close()
      t.release()
    }
    return it
  }

  /** Byte offset in the file at which entries >= key begin (approximately). */
  approximateOffsetOf (f: FileMeta, key: Buffer): number {
    if (compareInternalKeys(key, f.largest) > 0) return f.size
    if (compareInternalKeys(key, f.smallest) <= 0) return 0
    return this.#openTable(f).table.approximateOffsetOf(key)
  }

  /** Open the table (reading its footer, index, filter and properties) and return it. */
  table (f: FileMeta): Table {
    return this.#openTable(f).table
  }

  /** Forget a deleted file. */
  evict (number: number): void {
    this.#cache.delete(number)
    this.#blockCache.evictFile?.(number)
  }

  get openCount (): number { return this.#cache.size }

  close (): void {
    this.#cache.clear()
  }
}

/**
 * A cursor over the sorted, non-overlapping files of one level (LevelDB's two-level iterator): it opens
 * one table at a time, through the table cache, as the cursor crosses file boundaries.
 */
export class LevelIterator implements InternalIterator {
  readonly #files: readonly FileMeta[]
  readonly #cache: TableCache
  readonly #opts: { verifyChecksums?: boolean, fillCache?: boolean, readAhead?: boolean }
  #index = -1
  #it: InternalIterator | null = null

  constructor (files: readonly FileMeta[], cache: TableCache, opts: { verifyChecksums?: boolean, fillCache?: boolean, readAhead?: boolean } = {}) {
    this.#files = files
    this.#cache = cache
    this.#opts = opts
  }

  valid (): boolean { return this.#it !== null && this.#it.valid() }

  seekToFirst (): void {
    this.#openFile(0)
    this.#it?.seekToFirst()
    this.#skipEmptyForward()
  }

  seekToLast (): void {
    this.#openFile(this.#files.length - 1)
    this.#it?.seekToLast()
    this.#skipEmptyBackward()
  }

  seek (target: Buffer): void {
    // First file whose largest key is >= target.
    let lo = 0
    let hi = this.#files.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareInternalKeys(this.#files[mid].largest, target) < 0) lo = mid + 1
      else hi = mid
    }
    this.#openFile(lo)
    this.#it?.seek(target)
    this.#skipEmptyForward()
  }

  next (): void {
    this.#it!.next()
    this.#skipEmptyForward()
  }

  prev (): void {
    this.#it!.prev()
    this.#skipEmptyBackward()
  }

  key (): Buffer { return this.#it!.key() }
  keySlice (): ByteSlice { return this.#it!.keySlice() }
  value (): Buffer { return this.#it!.value() }
  valueSlice (): ValueSlice { return this.#it!.valueSlice() }

  close (): void {
    this.#it?.close()
    this.#it = null
  }

  #openFile (i: number): void {
    if (i === this.#index && this.#it !== null) return
    this.#it?.close()
    this.#it = null
    this.#index = i
    if (i >= 0 && i < this.#files.length) this.#it = this.#cache.iterator(this.#files[i], this.#opts)
  }

  #skipEmptyForward (): void {
    while (this.#it !== null && !this.#it.valid()) {
      if (this.#index + 1 >= this.#files.length) { this.#it.close(); this.#it = null; return }
      this.#openFile(this.#index + 1)
      this.#it?.seekToFirst()
    }
  }

  #skipEmptyBackward (): void {
    while (this.#it !== null && !this.#it.valid()) {
      if (this.#index - 1 < 0) { this.#it.close(); this.#it = null; return }
      this.#openFile(this.#index - 1)
      this.#it?.seekToLast()
    }
  }
}
