import { ClockCache } from '../clock-cache.js'
import type { Block } from './block.js'

/** Counters of a BlockCache. */
export interface BlockCacheStats {
  hits: number
  misses: number
  /** Blocks held. */
  entries: number
  /** Bytes charged for the blocks held. */
  bytes: number
}

/**
 * Per-entry bookkeeping charged on top of a block's bytes, so many tiny blocks cannot exceed the budget
 * unseen: the Block, its Buffer, the ArrayBuffer behind it, the cache entry and its map slot. Measured on
 * Node 20 as the heap and external growth per cached block beyond its bytes: 417.
 */
export const ENTRY_OVERHEAD = 420

/** File offsets stay below 2^32 (tables are far smaller) and file numbers below 2^21: the pair packs exactly into one number key. */
const OFFSET_SPAN = 2 ** 32
const MAX_PACKED_FILE_NUMBER = 2 ** 21

/**
 * Checksum-verified blocks shared by all open tables, bounded by bytes, keyed by (file number, block
 * offset), evicted by CLOCK (see ClockCache: hits, the common case, only set a flag). capacityBytes 0
 * disables caching; a block larger than the capacity is not cached.
 */
export class BlockCache {
  readonly capacityBytes: number
  readonly #clock: ClockCache<number | string, Block>
  #hits = 0
  #misses = 0

  constructor (opts: { capacityBytes: number }) {
    this.capacityBytes = opts.capacityBytes
    this.#clock = new ClockCache(opts.capacityBytes)
  }

  static #key (fileNumber: number, offset: number): number | string {
    return fileNumber < MAX_PACKED_FILE_NUMBER && offset < OFFSET_SPAN ? fileNumber * OFFSET_SPAN + offset : `${fileNumber}:${offset}`
  }

  static #fileOf (key: number | string): number {
    return typeof key === 'number' ? Math.floor(key / OFFSET_SPAN) : Number(key.slice(0, key.indexOf(':')))
  }

  /** The cached block, counting a hit or a miss. */
  get (fileNumber: number, offset: number): Block | undefined {
    const b = this.#clock.get(BlockCache.#key(fileNumber, offset))
    if (b === undefined) this.#misses++
    else this.#hits++
    return b
  }

  /** Caches a block (which must have been checksum-verified), replacing any cached at the same place. */
  set (fileNumber: number, offset: number, block: Block): void {
    this.#clock.set(BlockCache.#key(fileNumber, offset), block, block.memoryBytes + ENTRY_OVERHEAD)
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile (fileNumber: number): void {
    this.#clock.deleteWhere((key) => BlockCache.#fileOf(key) === fileNumber)
  }

  get hits (): number { return this.#hits }
  get misses (): number { return this.#misses }

  stats (): BlockCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#clock.size, bytes: this.#clock.charged }
  }

  clear (): void {
    this.#clock.clear()
  }
}
