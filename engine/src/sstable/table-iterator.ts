import type { InternalIterator } from '../internal-iterator.js'
import type { Block, BlockIterator } from './block.js'
import type { IndexIterator } from './index-block.js'

/** What a TableIterator needs from its table: the index cursor and a way to load the block an index entry names. */
export interface TableBlockSource {
  /** A new cursor over the index. */
  newIndexIterator(): IndexIterator
  /** The data block of index entry i (`current` itself if it is that block: no re-read). */
  dataBlockAt(i: number, verifyChecksums: boolean, fillCache: boolean, current: Block | null): Block
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

  constructor (source: TableBlockSource, opts: { verifyChecksums: boolean, fillCache: boolean }) {
    this.#source = source
    this.#index = source.newIndexIterator()
    this.#verify = opts.verifyChecksums
    this.#fillCache = opts.fillCache
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
  value (): Buffer { return this.#data!.value() }

  close (): void {
    this.#data = null
    this.#dataBlock = null
  }

  /** Points the data cursor at the block the index names; false (no block) when the index is exhausted. */
  #initDataBlock (): boolean {
    if (!this.#index.valid()) {
      this.#dataBlock = null
      return false
    }
    const block = this.#source.dataBlockAt(this.#index.position, this.#verify, this.#fillCache, this.#dataBlock)
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
