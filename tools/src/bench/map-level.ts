import { AbstractIterator, AbstractLevel } from 'abstract-level'
import type { AbstractDatabaseOptions, AbstractIteratorOptions } from 'abstract-level'

// The benchmark's ceiling: an abstract-level database over a plain Map that does no I/O. Whatever
// an engine loses against it on a workload is lost in the engine, not in the abstract-level layer.
//
// Point operations go to the Map. Iteration needs sorted keys, which a Map cannot give, so keys
// inserted since the last iteration wait in a pending list and are sorted and merged into a
// sorted array when the next iterator (or clear) starts. A fill followed by a scan therefore
// pays one sort, the way an LSM pays a flush; iterators keep the array they started with (a new
// array replaces it on the next merge) and skip keys deleted since.
//
// Keys and values are stored as strings ('utf8' is the only store encoding), compared by UTF-16
// code unit, which equals byte order for the ASCII keys the benchmark uses. No snapshots: an
// iterator sees values written after it started.

/** Options the ceiling accepts: those of every abstract-level database, nothing more. */
export type MapLevelOptions = AbstractDatabaseOptions<string, string>

// getSync is newer than the installed manifest types; the runtime knows it.
type Manifest = ConstructorParameters<typeof AbstractLevel>[0]

/** Range bounds in store format; `undefined` means unbounded on that side. */
interface Bounds {
  lower?: string
  lowerInclusive: boolean
  upper?: string
  upperInclusive: boolean
}

/** An abstract-level database held in a Map: the benchmark's no-I/O ceiling. Not durable. */
export class MapLevel extends AbstractLevel<string, string, string> {
  #entries = new Map<string, string>()
  #sorted: string[] = []
  #pending: string[] = []
  #deletedSinceMerge = 0

  /** Location is ignored (kept so every engine is constructed alike). */
  constructor (_location?: string, options?: MapLevelOptions) {
    super({
      encodings: { utf8: true },
      getSync: true,
      has: true,
      seek: true,
      permanence: false,
      createIfMissing: false,
      errorIfExists: false,
      implicitSnapshots: false,
      explicitSnapshots: false,
      snapshots: false
    } as Manifest, options)
  }

  async _get (key: string): Promise<string | undefined> {
    return this.#entries.get(key)
  }

  _getSync (key: string): string | undefined {
    return this.#entries.get(key)
  }

  async _getMany (keys: string[]): Promise<Array<string | undefined>> {
    const entries = this.#entries
    return keys.map(key => entries.get(key))
  }

  async _has (key: string): Promise<boolean> {
    return this.#entries.has(key)
  }

  async _hasMany (keys: string[]): Promise<boolean[]> {
    const entries = this.#entries
    return keys.map(key => entries.has(key))
  }

  async _put (key: string, value: string): Promise<void> {
    this.#set(key, value)
  }

  async _del (key: string): Promise<void> {
    this.#delete(key)
  }

  async _batch (operations: Array<{ type: 'put' | 'del', key: string, value?: string }>): Promise<void> {
    for (const op of operations) {
      if (op.type === 'put') this.#set(op.key, op.value as string)
      else this.#delete(op.key)
    }
  }

  async _clear (options: AbstractIteratorOptions<string, string> & { limit: number }): Promise<void> {
    const cursor = new SortedCursor(this.#sortedKeys(), this.#entries, options)
    const limit = options.limit < 0 ? Infinity : options.limit
    const doomed: string[] = []
    for (let key = cursor.nextKey(); key !== undefined && doomed.length < limit; key = cursor.nextKey()) {
      doomed.push(key)
    }
    for (const key of doomed) this.#delete(key)
  }

  _iterator (options: AbstractIteratorOptions<string, string>): MapIterator {
    return new MapIterator(this, this.#sortedKeys(), this.#entries, options)
  }

  #set (key: string, value: string): void {
    if (!this.#entries.has(key)) this.#pending.push(key)
    this.#entries.set(key, value)
  }

  #delete (key: string): void {
    if (this.#entries.delete(key)) this.#deletedSinceMerge++
  }

  /** The sorted array of live keys, after merging pending inserts and dropping deleted keys. */
  #sortedKeys (): string[] {
    if (this.#pending.length === 0 && this.#deletedSinceMerge === 0) return this.#sorted
    const pending = this.#pending.sort()
    const sorted = this.#sorted
    const entries = this.#entries
    // A new array, never an in-place edit: running iterators hold the old one.
    const merged: string[] = []
    let i = 0
    let j = 0
    let last: string | undefined
    while (i < sorted.length || j < pending.length) {
      const key = j >= pending.length || (i < sorted.length && sorted[i] < pending[j]) ? sorted[i++] : pending[j++]
      // A key deleted and re-inserted is both in sorted and pending: keep one.
      if (key !== last && entries.has(key)) merged.push(key)
      last = key
    }
    this.#sorted = merged
    this.#pending = []
    this.#deletedSinceMerge = 0
    return merged
  }
}

/** Walks a sorted key array within range bounds, forward or reverse, skipping deleted keys. */
class SortedCursor {
  readonly #keys: string[]
  readonly #entries: Map<string, string>
  readonly #reverse: boolean
  readonly #bounds: Bounds
  #index: number

  constructor (keys: string[], entries: Map<string, string>, options: AbstractIteratorOptions<string, string>) {
    this.#keys = keys
    this.#entries = entries
    this.#reverse = options.reverse === true
    this.#bounds = boundsOf(options)
    this.#index = this.#reverse ? this.#startReverse() : this.#startForward()
  }

  /** The next live key in range, or undefined when the range is exhausted. */
  nextKey (): string | undefined {
    const keys = this.#keys
    const step = this.#reverse ? -1 : 1
    while (this.#index >= 0 && this.#index < keys.length) {
      const key = keys[this.#index]
      if (!this.#withinFarBound(key)) {
        this.#index = -1
        return undefined
      }
      this.#index += step
      if (this.#entries.has(key)) return key
    }
    return undefined
  }

  /** The value of a key nextKey() returned (it may have been deleted since: undefined). */
  valueOf (key: string): string | undefined {
    return this.#entries.get(key)
  }

  /** Moves to the first key at or past target in iteration order; exhausted if target is out of range. */
  seek (target: string): void {
    const b = this.#bounds
    if (!this.#reverse) {
      const belowRange = b.lower !== undefined && (b.lowerInclusive ? target < b.lower : target <= b.lower)
      this.#index = belowRange ? -1 : firstAtOrAbove(this.#keys, target)
    } else {
      const aboveRange = b.upper !== undefined && (b.upperInclusive ? target > b.upper : target >= b.upper)
      this.#index = aboveRange ? -1 : firstAbove(this.#keys, target) - 1
    }
  }

  #startForward (): number {
    const b = this.#bounds
    if (b.lower === undefined) return 0
    return b.lowerInclusive ? firstAtOrAbove(this.#keys, b.lower) : firstAbove(this.#keys, b.lower)
  }

  #startReverse (): number {
    const b = this.#bounds
    if (b.upper === undefined) return this.#keys.length - 1
    return (b.upperInclusive ? firstAbove(this.#keys, b.upper) : firstAtOrAbove(this.#keys, b.upper)) - 1
  }

  /** Whether key is within the bound iteration moves towards (upper forward, lower in reverse). */
  #withinFarBound (key: string): boolean {
    const b = this.#bounds
    if (!this.#reverse) {
      return b.upper === undefined || (b.upperInclusive ? key <= b.upper : key < b.upper)
    }
    return b.lower === undefined || (b.lowerInclusive ? key >= b.lower : key > b.lower)
  }
}

/** The ceiling's iterator: entries from a SortedCursor, in batches for nextv() and all(). */
class MapIterator extends AbstractIterator<MapLevel, string, string> {
  readonly #cursor: SortedCursor

  constructor (db: MapLevel, keys: string[], entries: Map<string, string>, options: AbstractIteratorOptions<string, string>) {
    super(db, options)
    this.#cursor = new SortedCursor(keys, entries, options)
  }

  async _next (): Promise<[string, string] | undefined> {
    return this.#nextEntry()
  }

  async _nextv (size: number): Promise<Array<[string, string]>> {
    return this.#take(size)
  }

  async _all (): Promise<Array<[string, string]>> {
    // nextv() is capped to the limit by abstract-level; all() leaves that to us.
    return this.#take(this.limit - this.count)
  }

  _seek (target: string): void {
    this.#cursor.seek(target)
  }

  #take (size: number): Array<[string, string]> {
    const batch: Array<[string, string]> = []
    while (batch.length < size) {
      const entry = this.#nextEntry()
      if (entry === undefined) break
      batch.push(entry)
    }
    return batch
  }

  #nextEntry (): [string, string] | undefined {
    for (;;) {
      const key = this.#cursor.nextKey()
      if (key === undefined) return undefined
      const value = this.#cursor.valueOf(key)
      if (value !== undefined) return [key, value]
    }
  }
}

/** gte wins over gt and lte over lt, as abstract-level specifies. */
function boundsOf (options: AbstractIteratorOptions<string, string>): Bounds {
  const o = options as { gt?: string, gte?: string, lt?: string, lte?: string }
  const lowerInclusive = 'gte' in o
  const upperInclusive = 'lte' in o
  return {
    lower: lowerInclusive ? o.gte : 'gt' in o ? o.gt : undefined,
    lowerInclusive,
    upper: upperInclusive ? o.lte : 'lt' in o ? o.lt : undefined,
    upperInclusive
  }
}

/** Index of the first key >= target (keys.length if none). */
function firstAtOrAbove (keys: string[], target: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid] < target) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Index of the first key > target (keys.length if none). */
function firstAbove (keys: string[], target: string): number {
  let lo = 0
  let hi = keys.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (keys[mid] <= target) lo = mid + 1
    else hi = mid
  }
  return lo
}
