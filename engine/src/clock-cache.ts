/**
 * A cache bounded by the total charge of its entries, evicting by CLOCK (second chance), an approximation
 * of LRU: a hit only sets a flag, where an LRU list is relinked on every hit. The read path looks up a
 * table and a block for every point read, so hits are what these caches do most.
 *
 * Entries sit on a ring; the hand sweeps it when room is needed, clearing flags, and evicts the first entry
 * not hit since the hand last passed it. Removed entries leave holes that later insertions fill.
 */
export class ClockCache<K, V> {
  readonly capacity: number
  readonly #onEvict: ((key: K, value: V) => void) | undefined
  readonly #map = new Map<K, ClockEntry<K, V>>()
  #ring: Array<ClockEntry<K, V> | null> = []
  #holes: number[] = []
  #hand = 0
  #charged = 0

  /** capacity: the largest total charge held; onEvict runs for every entry that leaves (evicted, deleted, replaced, cleared). */
  constructor (capacity: number, onEvict?: (key: K, value: V) => void) {
    this.capacity = capacity
    this.#onEvict = onEvict
  }

  /** Entries held. */
  get size (): number { return this.#map.size }
  /** Total charge of the entries held. */
  get charged (): number { return this.#charged }

  /** The value cached under key (marking it recently used), or undefined. */
  get (key: K): V | undefined {
    const e = this.#map.get(key)
    if (e === undefined) return undefined
    e.referenced = true
    return e.value
  }

  /** Caches value under key, replacing any entry there and evicting until it fits; a charge above capacity is not cached. */
  set (key: K, value: V, charge = 1): void {
    if (charge > this.capacity) return
    const old = this.#map.get(key)
    if (old !== undefined) this.#remove(old)
    while (this.#charged + charge > this.capacity) this.#evictOne()
    const at = this.#holes.length > 0 ? this.#holes.pop()! : this.#ring.length
    const e = new ClockEntry(key, value, charge, at)
    this.#ring[at] = e
    this.#map.set(key, e)
    this.#charged += charge
  }

  /** Removes the entry under key; true iff there was one. */
  delete (key: K): boolean {
    const e = this.#map.get(key)
    if (e === undefined) return false
    this.#remove(e)
    this.#compactIfSparse()
    return true
  }

  /** Removes every entry for which pred holds. */
  deleteWhere (pred: (key: K, value: V) => boolean): void {
    for (const e of this.#map.values()) if (pred(e.key, e.value)) this.#remove(e)
    this.#compactIfSparse()
  }

  /** The values held, in no particular order. */
  * values (): IterableIterator<V> {
    for (const e of this.#map.values()) yield e.value
  }

  /** Removes every entry. */
  clear (): void {
    const entries = [...this.#map.values()]
    this.#map.clear()
    this.#ring = []
    this.#holes = []
    this.#hand = 0
    this.#charged = 0
    if (this.#onEvict !== undefined) for (const e of entries) this.#onEvict(e.key, e.value)
  }

  #evictOne (): void {
    const ring = this.#ring
    for (;;) {
      if (this.#hand >= ring.length) this.#hand = 0
      const e = ring[this.#hand++]
      if (e === null) continue
      if (e.referenced) {
        e.referenced = false
        continue
      }
      this.#remove(e)
      return
    }
  }

  #remove (e: ClockEntry<K, V>): void {
    this.#map.delete(e.key)
    this.#ring[e.at] = null
    this.#holes.push(e.at)
    this.#charged -= e.charge
    this.#onEvict?.(e.key, e.value)
  }

  /** After many removals, rebuilds the ring without holes so the hand does not walk them. */
  #compactIfSparse (): void {
    if (this.#holes.length <= 64 || this.#holes.length * 2 < this.#ring.length) return
    const ring: Array<ClockEntry<K, V>> = []
    for (const e of this.#ring) {
      if (e === null) continue
      e.at = ring.length
      ring.push(e)
    }
    this.#ring = ring
    this.#holes = []
    this.#hand = 0
  }
}

/** One entry and its place on the ring. */
class ClockEntry<K, V> {
  readonly key: K
  readonly value: V
  readonly charge: number
  /** Set by every hit, cleared as the hand passes. */
  referenced = false
  /** Index in the ring. */
  at: number

  constructor (key: K, value: V, charge: number, at: number) {
    this.key = key
    this.value = value
    this.charge = charge
    this.at = at
  }
}
