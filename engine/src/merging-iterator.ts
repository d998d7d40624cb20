import { compareInternalKeys } from './keys.js'
import type { InternalIterator } from './internal-iterator.js'

/**
 * Merges sorted internal iterators into one sorted stream (LevelDB's MergingIterator). Children are few
 * (the memtables, each level-0 table, one iterator per deeper level), so the smallest is found by a scan.
 * Changing direction re-positions every child around the current key.
 */
export class MergingIterator implements InternalIterator {
  readonly #children: InternalIterator[]
  #current: InternalIterator | null = null
  #forward = true

  constructor (children: InternalIterator[]) {
    this.#children = children
  }

  valid (): boolean { return this.#current !== null && this.#current.valid() }

  seekToFirst (): void {
    for (const c of this.#children) c.seekToFirst()
    this.#forward = true
    this.#findSmallest()
  }

  seekToLast (): void {
    for (const c of this.#children) c.seekToLast()
    this.#forward = false
    this.#findLargest()
  }

  seek (target: Buffer): void {
    for (const c of this.#children) c.seek(target)
    this.#forward = true
    this.#findSmallest()
  }

  next (): void {
    const cur = this.#current!
    if (!this.#forward) {
      // Put every other child just past the current key, so that all are positioned forward.
      const key = cur.key()
      for (const c of this.#children) {
        if (c === cur) continue
        c.seek(key)
        if (c.valid() && compareInternalKeys(c.key(), key) === 0) c.next()
      }
      this.#forward = true
    }
    cur.next()
    this.#findSmallest()
  }

  prev (): void {
    const cur = this.#current!
    if (this.#forward) {
      // Put every other child just before the current key.
      const key = cur.key()
      for (const c of this.#children) {
        if (c === cur) continue
        c.seek(key)
        if (c.valid()) c.prev()
        else c.seekToLast()
      }
      this.#forward = false
    }
    cur.prev()
    this.#findLargest()
  }

  key (): Buffer { return this.#current!.key() }
  value (): Buffer { return this.#current!.value() }

  close (): void {
    for (const c of this.#children) c.close()
    this.#current = null
  }

  #findSmallest (): void {
    let best: InternalIterator | null = null
    let bestKey: Buffer | null = null
    for (const c of this.#children) {
      if (!c.valid()) continue
      const k = c.key()
      if (bestKey === null || compareInternalKeys(k, bestKey) < 0) { best = c; bestKey = k }
    }
    this.#current = best
  }

  #findLargest (): void {
    let best: InternalIterator | null = null
    let bestKey: Buffer | null = null
    for (let i = this.#children.length - 1; i >= 0; i--) {
      const c = this.#children[i]
      if (!c.valid()) continue
      const k = c.key()
      if (bestKey === null || compareInternalKeys(k, bestKey) > 0) { best = c; bestKey = k }
    }
    this.#current = best
  }
}
