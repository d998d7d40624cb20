import type { RangeTombstone } from './range-tombstone.js'

/**
 * The live range tombstones as fragments, for reads: a key is checked against the tombstones over it
 * only, found by binary search, not against every tombstone. Pebble and RocksDB fragment range
 * deletions the same way: the tombstones' starts and ends cut the key space into fragments, and each
 * fragment lists the sequences of the tombstones that cover all of it (sorted), so
 *
 *   fragment i  = [bounds[i], bounds[i + 1])   (the last one open-ended when a tombstone is)
 *   seqs[i]     = ascending sequences of the tombstones over fragment i
 *
 * Bounds and keys are latin1 strings: one character per byte, so they order as the bytes do, and a
 * comparison is a JavaScript string comparison rather than a native Buffer.compare call per step.
 *
 * A node that gives partitions up leaves hundreds of tombstones until the engine retires them; with
 * a linear check each read of a key written before them compared it with every one.
 */
export class RangeTombstoneIndex {
  readonly #bounds: string[]
  readonly #seqs: number[][]

  /** Index `list` (any order, ranges may overlap). The list is not kept: later changes to it are not seen. */
  constructor (list: readonly RangeTombstone[]) {
    const bounds: string[] = []
    for (const t of list) {
      bounds.push(t.start.toString('latin1'))
      if (t.end !== null) bounds.push(t.end.toString('latin1'))
    }
    bounds.sort()
    const unique: string[] = []
    for (const b of bounds) if (unique.length === 0 || unique[unique.length - 1] !== b) unique.push(b)
    this.#bounds = unique
    this.#seqs = unique.map(() => [])
    for (const t of list) {
      const first = this.#fragmentAt(t.start.toString('latin1'))
      const end = t.end === null ? unique.length : this.#fragmentAt(t.end.toString('latin1'))
      // An empty range (end <= start) covers no fragment.
      for (let i = first; i < end; i++) this.#seqs[i]!.push(t.seq)
    }
    for (const s of this.#seqs) if (s.length > 1) s.sort((a, b) => a - b)
  }

  /**
   * Whether a tombstone of the index hides an entry of the user key (as a latin1 string) written at
   * entrySeq, for a reader at snapshotSeq: anyTombstoneCovers' answer.
   */
  covers (userKey: string, entrySeq: number, snapshotSeq: number): boolean {
    const i = this.#fragmentAt(userKey)
    if (i < 0) return false
    const seqs = this.#seqs[i]!
    // The lowest sequence above entrySeq: a tombstone there or above that a reader at snapshotSeq sees.
    let lo = 0
    let hi = seqs.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (seqs[mid]! > entrySeq) hi = mid
      else lo = mid + 1
    }
    return lo < seqs.length && seqs[lo]! <= snapshotSeq
  }

  /** The index of the fragment holding `key`: the last bound at or below it (-1 when below every bound). */
  #fragmentAt (key: string): number {
    const bounds = this.#bounds
    let lo = 0
    let hi = bounds.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (bounds[mid]! <= key) lo = mid + 1
      else hi = mid
    }
    return lo - 1
  }
}

/** Below this many tombstones a linear check is as fast as a lookup and costs no index. */
export const INDEX_FROM = 8

/**
 * The index of a tombstone list that only grows by appending until it is replaced by a new array
 * (the engine's live list: writes push, retirement filters into a new one): rebuilt when either
 * happens, at most once per change, on the first read after it.
 */
export class TombstoneIndexCache {
  #list: readonly RangeTombstone[] | undefined
  #length = -1
  #index: RangeTombstoneIndex | undefined

  /** The index of `list` as it is now; undefined when the list is short enough to check linearly. */
  of (list: readonly RangeTombstone[]): RangeTombstoneIndex | undefined {
    if (list.length < INDEX_FROM) return undefined
    if (list !== this.#list || list.length !== this.#length) {
      this.#index = new RangeTombstoneIndex(list)
      this.#list = list
      this.#length = list.length
    }
    return this.#index
  }
}
