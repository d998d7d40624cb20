import { ClockRing } from './clock-cache.js'
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
 * unseen: the Block, its Buffer, the ArrayBuffer behind it and its slots in the cache (the heap and external
 * memory a cached block takes beyond its bytes, rounded up).
 */
export const ENTRY_OVERHEAD = 420

/**
 * The cached blocks of one table file, by block number (the block's entry in the table's index). Every open
 * Table of the file shares it, so a table closed and opened again finds its blocks still cached; a lookup is
 * an array read, no hashing (this is the hottest path of a point read). The cache knows a file's slots only
 * while they hold a block: the slots of tables that cache nothing (scans with fillCache off) live and die
 * with their Table, bounded by the table cache.
 */
export class FileBlocks {
  readonly fileNumber: number
  readonly slots: Array<Block | undefined>
  /** Blocks held in slots. */
  count = 0

  constructor (fileNumber: number, blockCount: number) {
    this.fileNumber = fileNumber
    this.slots = new Array<Block | undefined>(blockCount).fill(undefined)
  }
}

/** The slots every table of a cache with no capacity gets: none. */
const NO_SLOTS = new FileBlocks(-1, 0)

/**
 * Checksum-verified data blocks shared by all open tables, bounded by bytes, evicted in CLOCK order (see
 * ClockRing). capacityBytes 0 disables caching; a block larger than the capacity is not cached. The
 * cache's bookkeeping lives in the Block itself (its cache* and clock* fields).
 */
export class BlockCache {
  readonly capacityBytes: number
  readonly #files = new Map<number, FileBlocks>()
  readonly #ring = new ClockRing<Block>()
  #hits = 0
  #misses = 0

  constructor (opts: { capacityBytes: number }) {
    this.capacityBytes = opts.capacityBytes
  }

  /** The slots of a file's blocks: those holding its cached blocks if any, else new ones (known once they hold one). */
  fileBlocks (fileNumber: number, blockCount: number): FileBlocks {
    // A cache that holds nothing (a compaction's) needs no slots: every lookup misses.
    if (this.capacityBytes === 0) return NO_SLOTS
    const fb = this.#files.get(fileNumber)
    if (fb !== undefined && fb.slots.length === blockCount) return fb
    return new FileBlocks(fileNumber, blockCount)
  }

  /** Block i of the file, counting a hit or a miss. */
  get (fb: FileBlocks, i: number): Block | undefined {
    const b = fb.slots[i]
    if (b === undefined) {
      this.#misses++
      return undefined
    }
    b.clockHit = true
    this.#hits++
    return b
  }

  /** Caches block i of the file (which must have been checksum-verified), replacing any block there. */
  set (fb: FileBlocks, i: number, block: Block): void {
    const charge = block.memoryBytes + ENTRY_OVERHEAD
    if (charge > this.capacityBytes || block.cacheOwner !== null) return
    const known = this.#files.get(fb.fileNumber)
    // Another Table of the file (an old one an iterator still reads, say) caches into other slots: one set
    // of slots per file, so that evictFile finds every block; this one does without the cache.
    if (known !== undefined && known !== fb) return
    const old = fb.slots[i]
    if (old !== undefined) this.#remove(old)
    while (this.#ring.charged + charge > this.capacityBytes) this.#remove(this.#ring.victim())
    // Known from its first block on (the removals above may have just forgotten it).
    this.#files.set(fb.fileNumber, fb)
    this.#ring.add(block, charge)
    block.cacheOwner = fb
    block.cacheSlot = i
    fb.slots[i] = block
    fb.count++
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile (fileNumber: number): void {
    const fb = this.#files.get(fileNumber)
    if (fb === undefined) return
    this.#files.delete(fileNumber)
    for (const b of fb.slots) if (b !== undefined) this.#remove(b)
    this.#ring.compactIfSparse()
  }

  get hits (): number { return this.#hits }
  get misses (): number { return this.#misses }

  stats (): BlockCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#ring.size, bytes: this.#ring.charged }
  }

  /** Drops every block. */
  clear (): void {
    for (const b of [...this.#ring.items()]) this.#remove(b)
    this.#ring.clear()
  }

  #remove (b: Block): void {
    const fb = b.cacheOwner!
    if (fb.slots[b.cacheSlot] === b) {
      fb.slots[b.cacheSlot] = undefined
      if (--fb.count === 0 && this.#files.get(fb.fileNumber) === fb) this.#files.delete(fb.fileNumber)
    }
    this.#ring.remove(b)
    b.cacheOwner = null
  }

  /** Files whose slots the cache knows (those holding a block). */
  get files (): number { return this.#files.size }
}
