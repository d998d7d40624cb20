import type { ByteSlice, InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import type { Block, BlockIterator } from './block.js'
import type { IndexIterator } from './index-block.js'
import { SpareBuffers } from '../spare-buffers.js'

/** What a TableIterator needs from its table: the index cursor and a way to load the block an index entry names. */
export interface TableBlockSource {
  /** A new cursor over the index. */
  newIndexIterator(): IndexIterator
  /** The data block of index entry i (`current` itself if it is that block: no re-read). */
  dataBlockAt(i: number, verifyChecksums: boolean, fillCache: boolean, current: Block | null): Block
  /** The data block of index entry i read through a scan's read-ahead buffer (a transient block). */
  dataBlockAhead(i: number, verifyChecksums: boolean, ahead: ReadAhead, current: Block | null): Block
}

/**
 * A scan's read-ahead: one buffer, reused, holding the file bytes [start, end). Blocks served from it are
 * transient views, valid until the scan reads its next chunk; the cursor walking them copies every key it
 * hands out. For bulk scans that consume each entry at once (compaction inputs): one read of many blocks
 * instead of one read and one allocation per block.
 */
export class ReadAhead {
  buffer: Buffer | null = null
  start = 0
  end = 0
}

/** Bytes a read-ahead reads at once (fewer when the table's data ends sooner). */
export const READ_AHEAD_BYTES = 256 * 1024

/**
 * Read-ahead buffers of closed scans, for the next ones. A compaction opens one scan per input file: without
 * reuse each would leave a 256 KiB buffer behind.
 */
export const readAheadBuffers = new SpareBuffers(READ_AHEAD_BYTES, 8)

function releaseReadAhead (ahead: ReadAhead): void {
  if (ahead.buffer !== null) readAheadBuffers.give(ahead.buffer)
  ahead.buffer = null
}

/**
 * A cursor over a whole table (LevelDB's two-level iterator): the index cursor picks the data block, a
 * block cursor walks it; empty blocks are skipped in both directions. One data-block cursor is reused.
 */
export class TableIterator implements InternalIterator {
  readonly #source: TableBlockSource
  readonly #index: IndexIterator
  #data: BlockIterator | null = null
  #dataBlock: Block | null = null
  readonly #verify: boolean
  readonly #fillCache: boolean
  readonly #ahead: ReadAhead | null

  /** readAhead: read the file in large chunks into one reused buffer, bypassing the block cache (bulk forward scans). */
  constructor (source: TableBlockSource, opts: { verifyChecksums: boolean, fillCache: boolean, readAhead?: boolean }) {
    this.#source = source
    this.#index = source.newIndexIterator()
    this.#verify = opts.verifyChecksums
    this.#fillCache = opts.fillCache
    this.#ahead = opts.readAhead === true ? new ReadAhead() : null
  }

  valid (): boolean { return this.#dataBlock !== null && this.#data!.valid() }

  seekToFirst (): void {
    this.#index.seekToFirst()
    if (this.#initDataBlock()) this.#data!.seekToFirst()
    this.#skipEmptyForward()
  }

  seekToLast (): void {
    this.#index.seekToLast()
    if (this.#initDataBlock()) this.#data!.seekToLast()
    this.#skipEmptyBackward()
  }

  seek (target: Buffer): void {
    this.#index.seek(target)
    if (this.#initDataBlock()) this.#data!.seek(target)
    this.#skipEmptyForward()
  }

  next (): void {
    this.#data!.next()
    this.#skipEmptyForward()
  }

  prev (): void {
    this.#data!.prev()
    this.#skipEmptyBackward()
  }

  key (): Buffer { return this.#data!.key() }
  keySlice (): ByteSlice { return this.#data!.keySlice() }
  value (): Buffer { return this.#data!.value() }
  valueSlice (): ValueSlice { return this.#data!.valueSlice() }

  close (): void {
    this.#data = null
    this.#dataBlock = null
    if (this.#ahead !== null) releaseReadAhead(this.#ahead)
  }

  /** Points the data cursor at the block the index names; false (no block) when the index is exhausted. */
  #initDataBlock (): boolean {
    if (!this.#index.valid()) {
      this.#dataBlock = null
      return false
    }
    const block = this.#ahead !== null
      ? this.#source.dataBlockAhead(this.#index.position, this.#verify, this.#ahead, this.#dataBlock)
      : this.#source.dataBlockAt(this.#index.position, this.#verify, this.#fillCache, this.#dataBlock)
    if (block !== this.#dataBlock || this.#data === null) {
      if (this.#data === null) this.#data = block.iterator()
      else this.#data.reset(block)
      this.#dataBlock = block
    }
    return true
  }

  #skipEmptyForward (): void {
    while (this.#dataBlock === null || !this.#data!.valid()) {
      if (!this.#index.valid()) {
        this.#dataBlock = null
        return
      }
      this.#index.next()
      if (this.#initDataBlock()) this.#data!.seekToFirst()
    }
  }

  #skipEmptyBackward (): void {
    while (this.#dataBlock === null || !this.#data!.valid()) {
      if (!this.#index.valid()) {
        this.#dataBlock = null
        return
      }
      this.#index.prev()
      if (this.#initDataBlock()) this.#data!.seekToLast()
    }
  }
}
