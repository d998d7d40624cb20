import { KIND_VALUE, KIND_SEEK, MAX_SEQUENCE, compareBytes, kindOf, makeInternalKey, seqOf, userKeyOf } from '../keys.js'
import type { InternalIterator } from './internal-iterator.js'
import { type RangeTombstone, anyTombstoneCovers } from '../range-tombstone.js'
import type { RangeTombstoneIndex } from '../range-tombstone-index.js'

/** One end of a key range. */
export interface Bound { key: Buffer, inclusive: boolean }

/** The sources of an iterator, pinned until release(). */
export interface IteratorSource {
  iterator: InternalIterator
  tombstones: RangeTombstone[]
  /** The tombstones (and maybe later ones, which covers() skips by snapshot) indexed; checked instead of the list when present. */
  tombstoneIndex?: RangeTombstoneIndex
  release: () => void
}

/** Whether the user key of internal key k lies above the upper bound. */
function pastUpper (k: Buffer, hi: Bound): boolean {
  const c = compareBytes(k, 0, k.length - 8, hi.key, 0, hi.key.length)
  return c > 0 || (c === 0 && !hi.inclusive)
}

/** Whether the user key of internal key k lies below the lower bound. */
function beforeLower (k: Buffer, lo: Bound): boolean {
  const c = compareBytes(k, 0, k.length - 8, lo.key, 0, lo.key.length)
  return c < 0 || (c === 0 && !lo.inclusive)
}

/** Whether two internal keys have the same user key. */
function sameUserKey (a: Buffer, b: Buffer): boolean {
  const n = a.length
  if (n !== b.length) return false
  for (let i = n - 9; i >= 0; i--) if (a[i] !== b[i]) return false
  return true
}

/**
 * The user's view of the merged sources at one sequence number (LevelDB's DBIter): for every user key, its
 * newest entry at or below the snapshot, hidden when that entry is a deletion or a range tombstone covers it.
 * The direction is fixed at creation, as abstract-level iterators are; seek() repositions.
 */
export class DbIterator {
  readonly #source: IteratorSource
  readonly #it: InternalIterator
  readonly #snap: number
  readonly #lower: Bound | null
  readonly #upper: Bound | null
  readonly #reverse: boolean
  #positioned = false
  #done = false
  #skip: Buffer | null = null
  /**
   * The current entry after next() returned true: the internal key (its first keyLength bytes are the user
   * key) and the value, views the caller copies.
   */
  internalKey: Buffer = EMPTY
  /** The current value is valueData[valueStart, valueEnd): a view the caller decodes or copies. */
  valueData: Buffer = EMPTY
  valueStart = 0
  valueEnd = 0

  /** The current value as a view (allocates one; decoders use valueData/valueStart/valueEnd). */
  get value (): Buffer { return this.valueData.subarray(this.valueStart, this.valueEnd) }

  /** Length of the current user key within internalKey. */
  get keyLength (): number { return this.internalKey.length - 8 }

  /** The current user key (a view). */
  get key (): Buffer { return this.internalKey.subarray(0, this.internalKey.length - 8) }

  constructor (source: IteratorSource, snapshotSeq: number, lower: Bound | null, upper: Bound | null, reverse: boolean) {
    this.#source = source
    this.#it = source.iterator
    this.#snap = snapshotSeq
    this.#lower = lower
    this.#upper = upper
    this.#reverse = reverse
  }

  /** Move to the next visible entry in the iteration direction; false (and stays false) at the end. */
  next (): boolean {
    if (this.#done) return false
    if (!this.#positioned) {
      this.#positioned = true
      if (this.#reverse) this.#seekLastAtMost(this.#upper)
      else this.#seekFirstAtLeast(this.#lower)
    }
    const found = this.#reverse ? this.#prevVisible() : this.#nextVisible()
    if (!found) this.#done = true
    return found
  }

  /**
   * Reposition at the first key >= target (the last key <= target in reverse). A target outside the range
   * ends the iterator, as abstract-level specifies.
   */
  seek (target: Buffer): void {
    this.#skip = null
    this.#positioned = true
    if (this.#outOfRange(target)) {
      this.#done = true
      return
    }
    this.#done = false
    if (this.#reverse) this.#seekLastAtMost({ key: target, inclusive: true })
    else this.#seekFirstAtLeast({ key: target, inclusive: true })
  }

  close (): void {
    this.#done = true
    this.#source.release()
  }

  #outOfRange (k: Buffer): boolean {
    const lo = this.#lower
    const hi = this.#upper
    if (lo !== null) {
      const c = k.compare(lo.key)
      if (c < 0 || (c === 0 && !lo.inclusive)) return true
    }
    if (hi !== null) {
      const c = k.compare(hi.key)
      if (c > 0 || (c === 0 && !hi.inclusive)) return true
    }
    return false
  }

  #seekFirstAtLeast (b: Bound | null): void {
    if (b === null) this.#it.seekToFirst()
    else if (b.inclusive) this.#it.seek(makeInternalKey(b.key, MAX_SEQUENCE, KIND_SEEK))
    else this.#it.seek(makeInternalKey(b.key, 0, 0))
  }

  #seekLastAtMost (b: Bound | null): void {
    if (b === null) {
      this.#it.seekToLast()
      return
    }
    // (k, 0, 0) is the last possible internal key of user key k; (k, MAX, SEEK) the first.
    this.#it.seek(b.inclusive ? makeInternalKey(b.key, 0, 0) : makeInternalKey(b.key, MAX_SEQUENCE, KIND_SEEK))
    if (!this.#it.valid()) this.#it.seekToLast()
    else if (this.#it.key().compare(b.key, 0, b.key.length, 0, this.#it.key().length - 8) !== 0 || !b.inclusive) {
      // landed past the bound: step back onto the last entry at most the bound
      this.#it.prev()
    }
  }

  /** Whether a range tombstone hides the entry of internal key k for a reader at snap. */
  #covered (tombstones: readonly RangeTombstone[], k: Buffer, snap: number): boolean {
    const index = this.#source.tombstoneIndex
    return index === undefined
      ? anyTombstoneCovers(tombstones, userKeyOf(k), seqOf(k), snap)
      : index.covers(k.toString('latin1', 0, k.length - 8), seqOf(k), snap)
  }

  #nextVisible (): boolean {
    const it = this.#it
    const snap = this.#snap
    const tombstones = this.#source.tombstones
    const hi = this.#upper
    const lo = this.#lower
    while (it.valid()) {
      const k = it.key()
      if (seqOf(k) > snap || (this.#skip !== null && sameUserKey(k, this.#skip))) {
        it.next()
        continue
      }
      if (hi !== null && pastUpper(k, hi)) return false
      this.#skip = k
      if (lo !== null && beforeLower(k, lo)) { it.next(); continue }
      if (kindOf(k) !== KIND_VALUE || (tombstones.length > 0 && this.#covered(tombstones, k, snap))) {
        it.next()
        continue
      }
      this.internalKey = k
      const v = it.valueSlice()
      this.valueData = v.data
      this.valueStart = v.start
      this.valueEnd = v.end
      it.next()
      return true
    }
    return false
  }

  #prevVisible (): boolean {
    const it = this.#it
    const snap = this.#snap
    const tombstones = this.#source.tombstones
    const hi = this.#upper
    const lo = this.#lower
    while (it.valid()) {
      const k = it.key()
      if (lo !== null && beforeLower(k, lo)) return false
      const beyond = hi !== null && pastUpper(k, hi)
      // Walk back over every entry of this user key; the last one at or below the snapshot is the newest visible.
      let foundKey: Buffer | null = null
      let foundData: Buffer = EMPTY
      let foundStart = 0
      let foundEnd = 0
      while (it.valid()) {
        const k2 = it.key()
        if (!sameUserKey(k2, k)) break
        if (seqOf(k2) <= snap) {
          foundKey = k2
          const v = it.valueSlice()
          foundData = v.data
          foundStart = v.start
          foundEnd = v.end
        }
        it.prev()
      }
      if (beyond || foundKey === null || kindOf(foundKey) !== KIND_VALUE) continue
      if (tombstones.length > 0 && this.#covered(tombstones, foundKey, snap)) continue
      this.internalKey = foundKey
      this.valueData = foundData
      this.valueStart = foundStart
      this.valueEnd = foundEnd
      return true
    }
    return false
  }
}

const EMPTY = Buffer.alloc(0)
