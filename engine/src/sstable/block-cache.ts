import { LRUCache } from 'lru-cache'
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

/** Per-entry bookkeeping charged on top of a block's bytes, so many tiny blocks cannot exceed the budget unseen. */
const ENTRY_OVERHEAD = 64

/** File offsets stay below 2^32 (tables are far smaller) and file numbers below 2^21: the pair packs exactly into one number key. */
const OFFSET_SPAN = 2 ** 32
const MAX_PACKED_FILE_NUMBER = 2 ** 21

/**
 * Decoded, checksum-verified blocks shared by all open tables, least recently used evicted, bounded by
 * bytes. Keyed by (file number, block offset). capacityBytes 0 disables caching.
 */
export class BlockCache {
  readonly capacityBytes: number
  #lru: LRUCache<number | string, Block> | null
  #hits = 0
  #misses = 0

  constructor (opts: { capacityBytes: number }) {
    this.capacityBytes = opts.capacityBytes
    this.#lru = opts.capacityBytes > 0
      ? new LRUCache<number | string, Block>({ maxSize: opts.capacityBytes, sizeCalculation: (b) => b.memoryBytes + ENTRY_OVERHEAD })
      : null
  }

  static #key (fileNumber: number, offset: number): number | string {
    return fileNumber < MAX_PACKED_FILE_NUMBER && offset < OFFSET_SPAN ? fileNumber * OFFSET_SPAN + offset : `${fileNumber}:${offset}`
  }

  /** The cached block, counting a hit or a miss. */
  get (fileNumber: number, offset: number): Block | undefined {
    const b = this.#lru?.get(BlockCache.#key(fileNumber, offset))
    if (b === undefined) this.#misses++
    else this.#hits++
    return b
  }

  /** Caches a block (which must have been checksum-verified). */
  set (fileNumber: number, offset: number, block: Block): void {
    this.#lru?.set(BlockCache.#key(fileNumber, offset), block)
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile (fileNumber: number): void {
    const lru = this.#lru
    if (lru === null) return
    const doomed: Array<number | string> = []
    for (const k of lru.keys()) {
      const n = typeof k === 'number' ? Math.floor(k / OFFSET_SPAN) : Number(k.slice(0, k.indexOf(':')))
      if (n === fileNumber) doomed.push(k)
    }
    for (const k of doomed) lru.delete(k)
  }

  get hits (): number { return this.#hits }
  get misses (): number { return this.#misses }

  stats (): BlockCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#lru?.size ?? 0, bytes: this.#lru?.calculatedSize ?? 0 }
  }

  clear (): void {
    this.#lru?.clear()
  }
}
