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
 * unseen: the Block, its Buffer, the ArrayBuffer behind it, the cache slot and its map entry. Measured on
 * Node 20 as the heap and external growth per cached block beyond its bytes: 417.
 */
export const ENTRY_OVERHEAD = 420

/** File offsets stay below 2^32 (tables are far smaller) and file numbers below 2^21: the pair packs exactly into one number key. */
const OFFSET_SPAN = 2 ** 32
const MAX_PACKED_FILE_NUMBER = 2 ** 21

/** One cached block and its place on the clock. */
class Slot {
  readonly key: number | string
  readonly fileNumber: number
  readonly block: Block
  readonly charge: number
  /** Set by every hit, cleared as the clock hand passes: a block is evicted after a full turn without a hit. */
  referenced = false
  /** Index in the ring. */
  at: number

  constructor (key: number | string, fileNumber: number, block: Block, charge: number, at: number) {
    this.key = key
    this.fileNumber = fileNumber
    this.block = block
    this.charge = charge
    this.at = at
  }
}

/**
 * Checksum-verified blocks shared by all open tables, bounded by bytes, keyed by (file number, block
 * offset). Eviction is CLOCK (second chance), an approximation of LRU: a hit only sets a flag, where an
 * LRU list would be relinked on every hit, and hits are what the read path does most. capacityBytes 0
 * disables caching; a block larger than the capacity is not cached.
 */
export class BlockCache {
  readonly capacityBytes: number
  readonly #map = new Map<number | string, Slot>()
  /** Slots in clock order; evicted slots leave holes (null) that later insertions fill. */
  #ring: Array<Slot | null> = []
  #holes: number[] = []
  #hand = 0
  #bytes = 0
  #hits = 0
  #misses = 0

  constructor (opts: { capacityBytes: number }) {
    this.capacityBytes = opts.capacityBytes
  }

  static #key (fileNumber: number, offset: number): number | string {
    return fileNumber < MAX_PACKED_FILE_NUMBER && offset < OFFSET_SPAN ? fileNumber * OFFSET_SPAN + offset : `${fileNumber}:${offset}`
  }

  /** The cached block, counting a hit or a miss. */
  get (fileNumber: number, offset: number): Block | undefined {
    const s = this.#map.get(BlockCache.#key(fileNumber, offset))
    if (s === undefined) {
      this.#misses++
      return undefined
    }
    this.#hits++
    s.referenced = true
    return s.block
  }

  /** Caches a block (which must have been checksum-verified), replacing any cached at the same place. */
  set (fileNumber: number, offset: number, block: Block): void {
    const charge = block.memoryBytes + ENTRY_OVERHEAD
    if (charge > this.capacityBytes) return
    const key = BlockCache.#key(fileNumber, offset)
    const old = this.#map.get(key)
    if (old !== undefined) this.#remove(old)
    while (this.#bytes + charge > this.capacityBytes) this.#evictOne()
    const at = this.#holes.length > 0 ? this.#holes.pop()! : this.#ring.length
    const s = new Slot(key, fileNumber, block, charge, at)
    this.#ring[at] = s
    this.#map.set(key, s)
    this.#bytes += charge
  }

  /** Drops every block of a file (after the file is deleted). */
  evictFile (fileNumber: number): void {
    for (const s of this.#map.values()) if (s.fileNumber === fileNumber) this.#remove(s)
    this.#compactIfSparse()
  }

  get hits (): number { return this.#hits }
  get misses (): number { return this.#misses }

  stats (): BlockCacheStats {
    return { hits: this.#hits, misses: this.#misses, entries: this.#map.size, bytes: this.#bytes }
  }

  clear (): void {
    this.#map.clear()
    this.#ring = []
    this.#holes = []
    this.#hand = 0
    this.#bytes = 0
  }

  /** Advances the hand to the first slot not referenced since it last passed, clearing flags on the way, and evicts it. */
  #evictOne (): void {
    const ring = this.#ring
    for (;;) {
      if (this.#hand >= ring.length) this.#hand = 0
      const s = ring[this.#hand++]
      if (s === null) continue
      if (s.referenced) {
        s.referenced = false
        continue
      }
      this.#remove(s)
      return
    }
  }

  #remove (s: Slot): void {
    this.#map.delete(s.key)
    this.#ring[s.at] = null
    this.#holes.push(s.at)
    this.#bytes -= s.charge
  }

  /** After mass removals (a file dropped), rebuilds the ring without holes so the hand does not walk them. */
  #compactIfSparse (): void {
    if (this.#holes.length <= 64 || this.#holes.length * 2 < this.#ring.length) return
    const ring: Slot[] = []
    for (const s of this.#ring) {
      if (s === null) continue
      s.at = ring.length
      ring.push(s)
    }
    this.#ring = ring
    this.#holes = []
    this.#hand = 0
  }
}
