import { encodeTrailer, TRAILER_SIZE, seqOf, kindOf } from './keys.js'
import type { InternalIterator, ValueSlice } from './internal-iterator.js'
import type { RangeTombstone } from './range-tombstone.js'

/** Skip list height cap: at p = 1/4, 12 levels cover ~16M entries, far past any memtable. */
const MAX_HEIGHT = 12

/** Bytes charged per entry on top of key and value: node object, link array, index entry. */
const ENTRY_OVERHEAD = 96

/**
 * One entry. The user key is held as a latin1 string: one char per byte, so JS string order is byte order.
 * The value is rec[voff, voff + vlen): usually a slice of the write's log record, so that an entry costs no
 * buffer object of its own.
 */
class Node {
  readonly ukey: string
  readonly seq: number
  readonly kind: number
  readonly rec: Buffer
  readonly voff: number
  readonly vlen: number
  readonly next: Array<Node | null>
  prev: Node | null = null

  constructor (ukey: string, seq: number, kind: number, rec: Buffer, voff: number, vlen: number, height: number) {
    this.ukey = ukey
    this.seq = seq
    this.kind = kind
    this.rec = rec
    this.voff = voff
    this.vlen = vlen
    this.next = new Array<Node | null>(height).fill(null)
  }

  /** The value (a view, allocated per call unless the value is all of rec). */
  get value (): Buffer {
    const rec = this.rec
    return this.voff === 0 && this.vlen === rec.length ? rec : rec.subarray(this.voff, this.voff + this.vlen)
  }
}

/** Internal-key order on (user key, seq, kind): user key ascending, then seq and kind descending. */
function compare (n: Node, ukey: string, seq: number, kind: number): number {
  if (n.ukey !== ukey) return n.ukey < ukey ? -1 : 1
  if (n.seq !== seq) return n.seq > seq ? -1 : 1
  return kind - n.kind
}

/** What a point lookup found: the newest entry of the key visible at the snapshot; its value is rec[voff, voff + vlen). */
export interface MemtableEntry {
  readonly seq: number
  readonly kind: number
  readonly value: Buffer
  readonly rec: Buffer
  readonly voff: number
  readonly vlen: number
}

/**
 * The sorted in-memory table that takes every write after the commit log: a skip list ordered like internal
 * keys, plus a hash index from user key to its newest entry, so that a point lookup costs one map probe
 * instead of a skip-list descent. Keys are latin1 strings (native string comparison is byte order and far
 * cheaper than comparing Buffers). Entries are never removed or modified, so iterators stay valid while
 * writes go on; readers see only entries at or below their snapshot sequence.
 */
export class Memtable {
  readonly #head = new Node('', 0, 0, Buffer.alloc(0), 0, 0, MAX_HEIGHT)
  readonly #index = new Map<string, Node>()
  readonly #update = new Array<Node>(MAX_HEIGHT)
  /** The last node of each level (the head while a level is empty): where an entry past the tail links in. */
  readonly #lastAt = new Array<Node>(MAX_HEIGHT)
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
  constructor () {
    this.#lastAt.fill(this.#head)
  }

  get approximateBytes (): number { return this.#bytes }
  get entries (): number { return this.#entries }
  get isEmpty (): boolean { return this.#entries === 0 && this.rangeTombstones.length === 0 }

  /** Insert one entry. The caller guarantees that (userKey, seq) is new. */
  add (seq: number, kind: number, userKey: Buffer, value: Buffer): void {
    this.addString(userKey.toString('latin1'), seq, kind, value)
  }

  /** Insert one entry whose user key is already a latin1 string. */
  addString (ukey: string, seq: number, kind: number, value: Buffer): void {
    this.addSlice(ukey, seq, kind, value, 0, value.length)
  }

  /** Insert one entry whose value is rec[voff, voff + vlen) (kept as a view: rec must never change). */
  addSlice (ukey: string, seq: number, kind: number, rec: Buffer, voff: number, vlen: number): void {
    let update = this.#update
    const tail = this.#tail
    // Entries in ascending order (sequential loads) go past the tail: they link in after the last node of
    // each level, with no descent.
    if (tail !== null && compare(tail, ukey, seq, kind) < 0) update = this.#lastAt
    else this.#descend(ukey, seq, kind, update)
    const height = this.#randomHeight()
    if (height > this.#height) {
      for (let i = this.#height; i < height; i++) update[i] = this.#head
      this.#height = height
    }
    const node = new Node(ukey, seq, kind, rec, voff, vlen, height)
    // Read before the loop: when update is #lastAt, the loop overwrites it.
    const before = update[0]
    const lastAt = this.#lastAt
    for (let i = 0; i < height; i++) {
      const next = update[i].next[i]
      node.next[i] = next
      update[i].next[i] = node
      if (next === null) lastAt[i] = node
    }
    node.prev = before === this.#head ? null : before
    const after = node.next[0]
    if (after !== null) after.prev = node
    else this.#tail = node
    const newest = this.#index.get(ukey)
    if (newest === undefined || newest.seq < seq) this.#index.set(ukey, node)
    this.#bytes += ukey.length * 2 + vlen + ENTRY_OVERHEAD
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

  /** The newest entry of the user key (a latin1 string) with sequence <= snapshotSeq, or undefined. */
  lookup (ukey: string, snapshotSeq: number): MemtableEntry | undefined {
    let n: Node | null | undefined = this.#index.get(ukey)
    // Versions of a key are adjacent, newest first: step over those newer than the snapshot.
    while (n !== undefined && n !== null && n.seq > snapshotSeq) {
      n = n.next[0]
      if (n !== null && n.ukey !== ukey) return undefined
    }
    return n ?? undefined
  }

  /** As lookup(), taking the user key as bytes. */
  get (userKey: Buffer, snapshotSeq: number): MemtableEntry | undefined {
    return this.lookup(userKey.toString('latin1'), snapshotSeq)
  }

  /** A cursor over every entry, in internal-key order. */
  iterator (): InternalIterator {
    return new MemtableIterator(this)
  }

  /** First node at or after (ukey, seq, kind) in internal-key order, or null. */
  #seekNode (ukey: string, seq: number, kind: number): Node | null {
    return this.#descend(ukey, seq, kind, null).next[0]
  }

  /**
   * The last node before (ukey, seq, kind) at the bottom level; with `update`, also the last node before it
   * at every level (where an insert links in).
   */
  #descend (ukey: string, seq: number, kind: number, update: Node[] | null): Node {
    let x = this.#head
    for (let level = this.#height - 1; level >= 0; level--) {
      let n = x.next[level]
      while (n !== null && compare(n, ukey, seq, kind) < 0) {
        x = n
        n = x.next[level]
      }
      if (update !== null) update[level] = x
    }
    return x
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
  static seek (m: Memtable, target: Buffer): Node | null {
    const n = target.length - TRAILER_SIZE
    return m.#seekNode(target.toString('latin1', 0, n), seqOf(target), kindOf(target))
  }
}

class MemtableIterator implements InternalIterator {
  readonly #table: Memtable
  #node: Node | null = null
  #key: Buffer | null = null

  constructor (table: Memtable) { this.#table = table }

  valid (): boolean { return this.#node !== null }
  seekToFirst (): void { this.#set(Memtable.first(this.#table)) }
  seekToLast (): void { this.#set(Memtable.last(this.#table)) }
  seek (target: Buffer): void { this.#set(Memtable.seek(this.#table, target)) }
  next (): void { this.#set(this.#node!.next[0]) }
  prev (): void { this.#set(this.#node!.prev) }

  key (): Buffer {
    if (this.#key === null) {
      const n = this.#node!
      const len = n.ukey.length
      const ik = Buffer.allocUnsafe(len + TRAILER_SIZE)
      ik.write(n.ukey, 0, len, 'latin1')
      encodeTrailer(ik, len, n.seq, n.kind)
      this.#key = ik
    }
    return this.#key
  }

  value (): Buffer { return this.#node!.value }
  valueSlice (): ValueSlice {
    const n = this.#node!
    const s = this.#slice
    s.data = n.rec
    s.start = n.voff
    s.end = n.voff + n.vlen
    return s
  }

  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }
  close (): void { this.#node = null }

  #set (n: Node | null): void {
    this.#node = n
    this.#key = null
  }
}
