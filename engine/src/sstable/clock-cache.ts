/**
 * What a ClockRing holds: anything that carries its own place on the ring, its charge and its flag.
 * Keeping these in the cached object itself spares a cache hit one object (see BlockCache).
 */
export interface ClockItem {
  /** Index on the ring while held (-1 when not). */
  clockAt: number
  /** Set by every hit, cleared as the hand passes. */
  clockHit: boolean
  /** What the item counts against the capacity. */
  clockCharge: number
}

/**
 * CLOCK (second chance) eviction order, an approximation of LRU: a hit only sets a flag, where an LRU list
 * is relinked on every hit. The read path looks up a table and a block for every point read, so hits are
 * what these caches do most. Items sit on a ring; the hand sweeps it when room is needed, clearing flags,
 * and picks the first item not hit since the hand last passed it. Removed items leave holes that later
 * insertions fill. The ring only orders and sums charges: the caller finds items its own way.
 */
export class ClockRing<T extends ClockItem> {
  #ring: Array<T | null> = []
  #holes: number[] = []
  #hand = 0
  #charged = 0
  #size = 0

  get size (): number { return this.#size }
  get charged (): number { return this.#charged }

  add (item: T, charge: number): void {
    const at = this.#holes.length > 0 ? this.#holes.pop()! : this.#ring.length
    this.#ring[at] = item
    item.clockAt = at
    item.clockCharge = charge
    item.clockHit = false
    this.#charged += charge
    this.#size++
  }

  remove (item: T): void {
    this.#ring[item.clockAt] = null
    this.#holes.push(item.clockAt)
    item.clockAt = -1
    this.#charged -= item.clockCharge
    this.#size--
  }

  /** The item to evict next (still held: the caller removes it). The ring must not be empty. */
  victim (): T {
    const ring = this.#ring
    for (;;) {
      if (this.#hand >= ring.length) this.#hand = 0
      const e = ring[this.#hand++]
      if (e === null) continue
      if (e.clockHit) {
        e.clockHit = false
        continue
      }
      return e
    }
  }

  /** The items held, in no particular order. */
  * items (): IterableIterator<T> {
    for (const e of this.#ring) if (e !== null) yield e
  }

  /** Forgets every item (their clockAt is not reset). */
  clear (): void {
    this.#ring = []
    this.#holes = []
    this.#hand = 0
    this.#charged = 0
    this.#size = 0
  }

  /** After many removals, rebuilds the ring without holes so the hand does not walk them. */
  compactIfSparse (): void {
    if (this.#holes.length <= 64 || this.#holes.length * 2 < this.#ring.length) return
    const ring: T[] = []
    for (const e of this.#ring) {
      if (e === null) continue
      e.clockAt = ring.length
      ring.push(e)
    }
    this.#ring = ring
    this.#holes = []
    this.#hand = 0
  }
}

/** A cache bounded by the total charge of its entries, keyed by a Map, evicting in ClockRing order. */
export class ClockCache<K, V> {
  readonly capacity: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined
  readonly #map = new Map<K, ClockEntry<K, V>>()
  readonly #ring = new ClockRing<ClockEntry<K, V>>()

  /** capacity: the largest total charge held; onEvict runs for every entry that leaves (evicted, deleted, replaced, cleared). */
  constructor (capacity: number, onEvict?: (key: K, value: V) => void) {
    this.capacity = capacity
    this.#onEvict = onEvict
  }

  /** Entries held. */
  get size (): number { return this.#map.size }
  /** Total charge of the entries held. */
  get charged (): number { return this.#ring.charged }

  /** The value cached under key (marking it recently used), or undefined. */
  get (key: K): V | undefined {
    const e = this.#map.get(key)
    if (e === undefined) return undefined
    e.clockHit = true
    return e.value
  }

  /** Caches value under key, replacing any entry there and evicting until it fits; a charge above capacity is not cached. */
  set (key: K, value: V, charge = 1): void {
    if (charge > this.capacity) return
    const old = this.#map.get(key)
    if (old !== undefined) this.#remove(old)
    while (this.#ring.charged + charge > this.capacity) this.#remove(this.#ring.victim())
    const e = new ClockEntry(key, value)
    this.#ring.add(e, charge)
    this.#map.set(key, e)
  }

  /** Removes the entry under key; true iff there was one. */
  delete (key: K): boolean {
    const e = this.#map.get(key)
    if (e === undefined) return false
    this.#remove(e)
    this.#ring.compactIfSparse()
    return true
  }

  /** Removes every entry for which pred holds. */
  deleteWhere (pred: (key: K, value: V) => boolean): void {
    for (const e of this.#map.values()) if (pred(e.key, e.value)) this.#remove(e)
    this.#ring.compactIfSparse()
  }

  /** The values held, in no particular order. */
  * values (): IterableIterator<V> {
    for (const e of this.#map.values()) yield e.value
  }

  /** Removes every entry. */
  clear (): void {
    const entries = [...this.#map.values()]
    this.#map.clear()
    this.#ring.clear()
    if (this.#onEvict !== undefined) for (const e of entries) this.#onEvict(e.key, e.value)
  }

  #remove (e: ClockEntry<K, V>): void {
    this.#map.delete(e.key)
    this.#ring.remove(e)
    this.#onEvict?.(e.key, e.value)
  }
}

/** One entry of a ClockCache. */
class ClockEntry<K, V> implements ClockItem {
  readonly key: K
  readonly value: V
  clockAt = -1
  clockHit = false
  clockCharge = 0

  constructor (key: K, value: V) {
    this.key = key
    this.value = value
  }
}
