import { compareInternalKeys, makeInternalKey, KIND_SEEK } from './keys.js'
import type { InternalIterator } from './internal-iterator.js'
import type { RangeTombstone } from './range-tombstone.js'

/** Skip list height cap: 2^12 nodes per level-12 node at p=1/4 covers ~16M entries, far past any memtable. */
const MAX_HEIGHT = 12

/** Bytes charged per entry on top of key and value: node object, arrays, internal-key trailer. */
const ENTRY_OVERHEAD = 64

class Node {
  readonly key: Buffer
  readonly value: Buffer
  readonly next: Array<Node | null>
  prev: Node | null = null

  constructor (key: Buffer, value: Buffer, height: number) {
    this.key = key
    this.value = value
    this.next = new Array<Node | null>(height).fill(null)
  }
}

/**
 * The sorted in-memory table that takes every write after the commit log: a skip list of internal keys
 * (user key ascending, sequence descending). Entries are never removed or modified, so an iterator stays
 * valid while writes go on; readers see only entries at or below their snapshot sequence.
 */
export class Memtable {
  readonly #head = new Node(Buffer.alloc(0), Buffer.alloc(0), MAX_HEIGHT)
  #tail: Node | null = null
  #height = 1
  #bytes = 0
  #entries = 0
  #rand = 0x2545f491
  /** Range tombstones written into this memtable (clear() over a range), in sequence order. */
  readonly rangeTombstones: RangeTombstone[] = []
  /** Smallest and largest sequence number held, for flush metadata. */
  minSeq = Infinity
  maxSeq = 0

  /** Bytes of memory this table accounts for (keys, values and per-entry overhead). */
  get approximateBytes (): number { return this.#bytes }
  get entries (): number { return this.#entries }
  get isEmpty (): boolean { return this.#entries === 0 && this.rangeTombstones.length === 0 }

  /** Insert one entry. The caller guarantees that (userKey, seq) is new. */
  add (seq: number, kind: number, userKey: Buffer, value: Buffer): void {
    const key = makeInternalKey(userKey, seq, kind)
    const update = this.#findPredecessors(key)
    const height = this.#randomHeight()
    if (height > this.#height) {
      for (let i = this.#height; i < height; i++) update[i] = this.#head
      this.#height = height
    }
    const node = new Node(key, value, height)
    for (let i = 0; i < height; i++) {
      node.next[i] = update[i].next[i]
      update[i].next[i] = node
    }
    node.prev = update[0] === this.#head ? null : update[0]
    const after = node.next[0]
    if (after !== null) after.prev = node
    else this.#tail = node
    this.#bytes += key.length + value.length + ENTRY_OVERHEAD
    this.#entries++
    if (seq < this.minSeq) this.minSeq = seq
    if (seq > this.maxSeq) this.maxSeq = seq
  }

  /** Remember a range tombstone; its bytes count towards the flush threshold. */
  addRangeTombstone (t: RangeTombstone): void {
    this.rangeTombstones.push(t)
    this.#bytes += t.start.length + (t.end?.length ?? 0) + ENTRY_OVERHEAD
    if (t.seq < this.minSeq) this.minSeq = t.seq
    if (t.seq > this.maxSeq) this.maxSeq = t.seq
  }

  /**
   * The newest entry of userKey with sequence <= snapshotSeq, as its internal key and value, or
   * undefined when this table holds none.
   */
  get (userKey: Buffer, snapshotSeq: number): { key: Buffer, value: Buffer } | undefined {
    const node = this.#seekNode(makeInternalKey(userKey, snapshotSeq, KIND_SEEK))
    if (node === null) return undefined
    const k = node.key
    if (k.length - 8 !== userKey.length || userKey.compare(k, 0, k.length - 8) !== 0) return undefined
    return node
  }

  /** A cursor over every entry, in internal-key order. */
  iterator (): InternalIterator {
    return new MemtableIterator(this)
  }

  /** First node with key >= target, or null. */
  #seekNode (target: Buffer): Node | null {
    let x = this.#head
    for (let level = this.#height - 1; level >= 0; level--) {
      let n = x.next[level]
      while (n !== null && compareInternalKeys(n.key, target) < 0) {
        x = n
        n = x.next[level]
      }
    }
    return x.next[0]
  }

  #findPredecessors (target: Buffer): Node[] {
    const update = new Array<Node>(MAX_HEIGHT)
    let x = this.#head
    for (let level = this.#height - 1; level >= 0; level--) {
      let n = x.next[level]
      while (n !== null && compareInternalKeys(n.key, target) < 0) {
        x = n
        n = x.next[level]
      }
      update[level] = x
    }
    return update
  }

  #randomHeight (): number {
    let h = 1
    // xorshift32: cheap, and a skip list needs no better randomness
    let r = this.#rand
    r ^= r << 13; r ^= r >>> 17; r ^= r << 5
    this.#rand = r >>> 0
    let bits = this.#rand
    while (h < MAX_HEIGHT && (bits & 3) === 0) { h++; bits >>>= 2 }
    return h
  }

  /** @internal for the iterator */
  static first (m: Memtable): Node | null { return m.#head.next[0] }
  /** @internal */
  static last (m: Memtable): Node | null { return m.#tail }
  /** @internal */
  static seek (m: Memtable, target: Buffer): Node | null { return m.#seekNode(target) }
}

class MemtableIterator implements InternalIterator {
  readonly #table: Memtable
  #node: Node | null = null

  constructor (table: Memtable) { this.#table = table }

  valid (): boolean { return this.#node !== null }
  seekToFirst (): void { this.#node = Memtable.first(this.#table) }
  seekToLast (): void { this.#node = Memtable.last(this.#table) }
  seek (target: Buffer): void { this.#node = Memtable.seek(this.#table, target) }
  next (): void { this.#node = this.#node!.next[0] }
  prev (): void { this.#node = this.#node!.prev }
  key (): Buffer { return this.#node!.key }
  value (): Buffer { return this.#node!.value }
  close (): void { this.#node = null }
}

