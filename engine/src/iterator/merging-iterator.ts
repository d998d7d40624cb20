import { compareInternalKeys, compareInternalKeySlices } from '../keys.js'
import type { ByteSlice, InternalIterator, ValueSlice } from './internal-iterator.js'

/**
 * Merges sorted internal iterators into one sorted stream (LevelDB's MergingIterator). The valid children
 * sit in a binary heap ordered by their current key (smallest on top going forward, largest going
 * backward), so a step costs O(log children) comparisons. Changing direction re-positions every child
 * around the current key and rebuilds the heap. Children are compared through their key slices, so a step
 * makes no key buffer (a compaction steps once per entry it rewrites).
 */
export class MergingIterator implements InternalIterator {
  readonly #children: InternalIterator[]
  /** Valid children, heap-ordered; heap[0] is the current one. */
  readonly #heap: InternalIterator[] = []
  #forward = true

  constructor (children: InternalIterator[]) {
    this.#children = children
  }

  valid (): boolean { return this.#heap.length > 0 }

  seekToFirst (): void {
    for (const c of this.#children) c.seekToFirst()
    this.#rebuild(true)
  }

  seekToLast (): void {
    for (const c of this.#children) c.seekToLast()
    this.#rebuild(false)
  }

  seek (target: Buffer): void {
    for (const c of this.#children) c.seek(target)
    this.#rebuild(true)
  }

  next (): void {
    const cur = this.#heap[0]
    if (!this.#forward) {
      // Put every other child just past the current key, so that all are positioned forward.
      const key = cur.key()
      for (const c of this.#children) {
        if (c === cur) continue
        c.seek(key)
        if (c.valid() && compareInternalKeys(c.key(), key) === 0) c.next()
      }
      cur.next()
      this.#rebuild(true)
      return
    }
    cur.next()
    this.#fixTop()
  }

  prev (): void {
    const cur = this.#heap[0]
    if (this.#forward) {
      // Put every other child just before the current key.
      const key = cur.key()
      for (const c of this.#children) {
        if (c === cur) continue
        c.seek(key)
        if (c.valid()) c.prev()
        else c.seekToLast()
      }
      cur.prev()
      this.#rebuild(false)
      return
    }
    cur.prev()
    this.#fixTop()
  }

  key (): Buffer { return this.#heap[0].key() }
  keySlice (): ByteSlice { return this.#heap[0].keySlice() }
  value (): Buffer { return this.#heap[0].value() }
  valueSlice (): ValueSlice { return this.#heap[0].valueSlice() }

  close (): void {
    for (const c of this.#children) c.close()
    this.#heap.length = 0
  }

  /** a before b in the current direction. */
  #before (a: InternalIterator, b: InternalIterator): boolean {
    // Two children's own slice objects: both stay as they are while compared.
    const x = a.keySlice()
    const y = b.keySlice()
    const r = compareInternalKeySlices(x.data, x.start, x.end, y.data, y.start, y.end)
    return this.#forward ? r < 0 : r > 0
  }

  #rebuild (forward: boolean): void {
    this.#forward = forward
    const heap = this.#heap
    heap.length = 0
    for (const c of this.#children) if (c.valid()) heap.push(c)
    for (let i = (heap.length >>> 1) - 1; i >= 0; i--) this.#siftDown(i)
  }

  /** The top child moved: drop it if exhausted, else restore heap order. */
  #fixTop (): void {
    const heap = this.#heap
    if (!heap[0].valid()) {
      const last = heap.pop()!
      if (heap.length === 0) return
      heap[0] = last
    }
    this.#siftDown(0)
  }

  #siftDown (i: number): void {
    const heap = this.#heap
    const n = heap.length
    const item = heap[i]
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const child = r < n && this.#before(heap[r], heap[l]) ? r : l
      if (!this.#before(heap[child], item)) break
      heap[i] = heap[child]
      i = child
    }
    heap[i] = item
  }
}
