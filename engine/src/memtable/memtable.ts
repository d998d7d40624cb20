import { bigEndianWord, compareBytes, compareBytesFrom, prefixOfOrder, sharedPrefixLength, TRAILER_SIZE, seqOf, kindOf, KIND_RANGE_DELETE, KIND_VALUE } from '../keys.js'
import type { InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import type { RangeTombstone } from '../range-tombstone.js'
import {
  Arena, ENTRY_OVERHEAD, F_FP0, F_FP1, F_HASH, F_KEY_LEN, F_KEY_OFF, F_KIND_HEIGHT, F_LINKS, F_NEXT, F_PREV, F_VAL_LEN, F_VAL_OFF,
  MAX_HEIGHT, NIL, STRIDE, nodeInternalKey, nodeValue, sharedBytes, sharedFloat64, sharedInt32
} from './arena.js'
import type { ArenaPool } from './arena-pool.js'
import { equalsString, hashBytes, hashString } from './key-hash.js'
import { MemtableIterator } from './memtable-iterator.js'
import { MemtableRunIterator, type MemtableRun } from './run-iterator.js'

/**
 * What an entry counts towards writeBufferSize on top of its key and value: about LevelDB's charge (its
 * internal key's 8-byte trailer, two length varints and a skip-list node), so that a memtable holds as many
 * entries as LevelDB's of the same size and level-0 tables come out as large as LevelDB's. Larger level-0
 * tables mean fewer level-0 -> level-1 merges for the same data, each rewriting level 1 once: the count is
 * what write amplification depends on. The memory behind a memtable is its data arena (log records, with
 * their batch headers) and ENTRY_OVERHEAD per entry: about 1.3x writeBufferSize for 100-byte values.
 */
const ENTRY_CHARGE = 32

/**
 * The most memory a memtable may take per byte it counts towards writeBufferSize. Entries with values of
 * about 100 bytes take 1.32x their charge and are counted by the charge alone; small entries (deletions
 * above all: 16-byte keys take ~95 bytes each, ~2x) are counted by memory / 1.35 instead, so that a memtable
 * never takes more than 1.35x writeBufferSize, whatever its entries.
 */
const MEMORY_PER_CHARGED_BYTE = 1.35

/**
 * Fewer point entries than this in a write group are linked one by one, in op order: sorting them first pays
 * when the next entry is likely near the previous one, which takes more than a handful spread over the table.
 */
const MIN_SORTED_BATCH = 8

/** A group's entries are sorted as word * SORT_SLOTS + place: exact in a double for 2^21 entries per group. */
const SORT_SLOTS = 2 ** 21

/** What a point lookup found: the newest entry of the key visible at the snapshot; its value is rec[voff, voff + vlen). */
export interface MemtableEntry {
  readonly seq: number
  readonly kind: number
  readonly rec: Buffer
  readonly voff: number
  readonly vlen: number
}

/**
 * The sorted in-memory table that takes every write after the commit log: a skip list ordered like internal
 * keys (user key bytes ascending, then sequence and kind descending), plus a hash index from user key to its
 * newest entry, so that a point lookup costs one probe instead of a descent. Entries live in an Arena. Writes
 * encode their log record straight into the arena (reserve()), so an entry's key and value are the record's
 * own bytes: no copy, no buffer per entry.
 *
 * Entries are never removed or modified, so iterators stay valid while writes go on; readers see only
 * entries at or below their snapshot sequence. A memtable is reference-counted: its creator holds one
 * reference, each open iterator another (ref/unref); when the last is dropped the arena goes back to the
 * pool, so nothing may keep a view of its bytes past that (lookups' and cursors' views are read at once).
 */
export class Memtable {
  #a: Arena
  readonly #pool: ArenaPool | null
  #refs = 1
  /** Bytes of the data arena in use. */
  #used = 0
  /** Next free node number (node 0 is the head). */
  #nodes = 1
  /** Next free link slot (the head's links are 0..MAX_HEIGHT-1). */
  #linkEnd = MAX_HEIGHT
  readonly #update = new Int32Array(MAX_HEIGHT)
  /** The last node of each level (the head while a level is empty): where an entry past the tail links in. */
  readonly #lastAt = new Int32Array(MAX_HEIGHT)
  #tail = NIL
  #height = 1
  #entries = 0
  #rand = 0x2545f491
  readonly #found: { seq: number, kind: number, rec: Buffer, voff: number, vlen: number } = { seq: 0, kind: 0, rec: Buffer.alloc(0), voff: 0, vlen: 0 }
  /** Range tombstones written into this memtable (clear() over a range), in sequence order. */
  readonly rangeTombstones: RangeTombstone[] = []
  #tombstoneBytes = 0
  /** Keys' and values' bytes plus ENTRY_CHARGE per entry: what counts towards writeBufferSize. */
  #charged = 0
  /** Smallest and largest sequence number held, for flush metadata. */
  minSeq = Infinity
  maxSeq = 0

  constructor (pool: ArenaPool | null = null, dataBytes = 64 * 1024) {
    this.#pool = pool
    this.#a = pool !== null ? pool.take() : new Arena(dataBytes)
    const meta = this.#a.meta
    meta.fill(0, 0, STRIDE)
    meta[F_KIND_HEIGHT] = MAX_HEIGHT << 8
    meta[F_LINKS] = 0
    this.#a.links.fill(NIL, 0, MAX_HEIGHT)
    this.#a.slots.fill(NIL)
  }

  /**
   * Bytes this table counts towards writeBufferSize: keys, values and ENTRY_CHARGE per entry, or its memory /
   * MEMORY_PER_CHARGED_BYTE when that is more; and range tombstones.
   */
  get approximateBytes (): number {
    return Math.max(this.#charged, this.#entryMemory() / MEMORY_PER_CHARGED_BYTE) + this.#tombstoneBytes
  }
  /** Bytes of memory the table's entries take: its data arena in use, and the skip list and index per entry. */
  get memoryBytes (): number { return this.#entryMemory() + this.#tombstoneBytes }
  #entryMemory (): number { return this.#used + (this.#nodes - 1) * ENTRY_OVERHEAD }
  get entries (): number { return this.#entries }
  get isEmpty (): boolean { return this.#entries === 0 && this.rangeTombstones.length === 0 }

  /** The data arena (its buffer changes when it grows: read it after reserve()). */
  get data (): Buffer { return this.#a.data }

  /** Take one more reference (an iterator over this table). */
  ref (): void { this.#refs++ }

  /** Drop a reference; at the last, the arena goes back to the pool and the table must not be used again. */
  unref (): void {
    if (--this.#refs > 0) return
    if (this.#refs < 0) throw new Error('memtable released twice')
    if (this.#pool !== null) this.#pool.give(this.#a)
  }

  /**
   * Reserve `size` bytes at the end of the data arena for an entry's bytes (a log record is encoded there);
   * returns their offset in `data`, which may be a new, larger buffer now.
   */
  reserve (size: number): number {
    const a = this.#a
    const at = this.#used
    if (at + size > a.data.length) {
      let cap = a.data.length * 2
      while (cap < at + size) cap *= 2
      const bigger = sharedBytes(cap)
      a.data.copy(bigger, 0, 0, at)
      a.data = bigger
    }
    this.#used = at + size
    return at
  }

  /** Insert one entry, copying its key and value in. The caller guarantees that (userKey, seq) is new. */
  add (seq: number, kind: number, userKey: Buffer, value: Buffer): void {
    const at = this.reserve(userKey.length + value.length)
    const data = this.#a.data
    userKey.copy(data, at)
    value.copy(data, at + userKey.length)
    this.addAt(seq, kind, at, userKey.length, at + userKey.length, value.length)
  }

  /** Insert one entry whose user key is a latin1 string, copying key and value in. */
  addString (ukey: string, seq: number, kind: number, value: Buffer): void {
    const at = this.reserve(ukey.length + value.length)
    const data = this.#a.data
    data.write(ukey, at, ukey.length, 'latin1')
    value.copy(data, at + ukey.length)
    this.addAt(seq, kind, at, ukey.length, at + ukey.length, value.length)
  }

  /** Insert one entry whose key is data[koff, koff + klen) and value data[voff, voff + vlen) (reserved bytes). */
  addAt (seq: number, kind: number, koff: number, klen: number, voff: number, vlen: number): void {
    const node = this.#newEntry(seq, kind, koff, klen, voff, vlen)
    this.#link(node, this.#predecessors(node))
  }

  /**
   * Insert the point entries of a write group, whose record reserve() holds: entry i has sequence seq + i,
   * kind ops[i].kind, key data[slices[4i], +slices[4i + 1]) and value data[slices[4i + 2], +slices[4i + 3]).
   * Ops of kind KIND_RANGE_DELETE are skipped (the caller keeps them as range tombstones). The caller
   * guarantees that every (user key, seq) is new. The same table results as from addAt() in op order: the
   * entries are linked in internal-key order instead (a key written twice in the group: newest first), each
   * found from where the one before it went in, so that a group of k entries spread over n costs about
   * log(n / k) steps each instead of log(n).
   */
  addBatch (seq: number, ops: ReadonlyArray<{ readonly kind: number }>, slices: ArrayLike<number>): void {
    let k = 0
    let sorted = this.#sorted
    if (sorted.length < ops.length) sorted = this.#sorted = new Int32Array(Math.max(ops.length, 2 * sorted.length))
    for (let i = 0; i < ops.length; i++) {
      const kind = ops[i].kind
      if (kind === KIND_RANGE_DELETE) continue
      const value = kind === KIND_VALUE
      sorted[k++] = this.#newEntry(seq + i, kind, slices[4 * i], slices[4 * i + 1], value ? slices[4 * i + 2] : 0, value ? slices[4 * i + 3] : 0)
    }
    if (k === 0) return
    if (k < MIN_SORTED_BATCH) {
      for (let i = 0; i < k; i++) this.#link(sorted[i], this.#predecessors(sorted[i]))
      return
    }
    const run = this.#sortNodes(sorted, k)
    const finger = this.#update
    let node = run[0]
    if (this.#predecessors(node) === this.#lastAt) finger.set(this.#lastAt)
    this.#link(node, finger)
    for (let i = 1; i < k; i++) {
      // finger[l] is the last node of level l at or before the previous entry: where the search starts.
      const h = this.#a.meta[node * STRIDE + F_KIND_HEIGHT] >> 8
      for (let l = 0; l < h; l++) finger[l] = node
      node = run[i]
      this.#descendFromFinger(node, finger)
      this.#link(node, finger)
    }
  }

  /** Sorting scratch of addBatch: the group's node numbers. */
  #sorted = new Int32Array(1024)
  #sortKeys = new Float64Array(1024)

  /**
   * nodes[0, k) in internal-key order. A comparator sort costs a call per comparison; instead each node is
   * sorted natively by its first word (with its place in the group below it, in one exact double), and an
   * insertion sort then orders the runs of equal first words by #order.
   */
  #sortNodes (nodes: Int32Array, k: number): Int32Array {
    if (k > SORT_SLOTS) return nodes.subarray(0, k).sort(this.#orderNodes)
    let keys = this.#sortKeys
    if (keys.length < k) keys = this.#sortKeys = new Float64Array(nodes.length)
    const meta = this.#a.meta
    for (let i = 0; i < k; i++) keys[i] = (meta[nodes[i] * STRIDE + F_FP0] >>> 0) * SORT_SLOTS + i
    const order = keys.subarray(0, k).sort()
    const run = this.#sortedRun.length >= k ? this.#sortedRun : (this.#sortedRun = new Int32Array(nodes.length))
    for (let i = 0; i < k; i++) run[i] = nodes[order[i] % SORT_SLOTS]
    // Runs of one first word: short ones by insertion, long ones (keys alike past the word) by a full sort.
    for (let start = 0; start < k;) {
      const w = meta[run[start] * STRIDE + F_FP0]
      let end = start + 1
      while (end < k && meta[run[end] * STRIDE + F_FP0] === w) end++
      if (end - start > 16) run.subarray(start, end).sort(this.#orderNodes)
      else {
        for (let i = start + 1; i < end; i++) {
          const n = run[i]
          let j = i - 1
          while (j >= start && this.#order(run[j], n) > 0) { run[j + 1] = run[j]; j-- }
          run[j + 1] = n
        }
      }
      start = end
    }
    return run.subarray(0, k)
  }

  readonly #orderNodes = (a: number, b: number): number => this.#order(a, b)

  #sortedRun = new Int32Array(1024)

  /**
   * A new node for an entry, its key's words and hash set, not linked yet. Every field a search reads is set,
   * so nodes made together may be ordered (sorted) before they are linked.
   */
  #newEntry (seq: number, kind: number, koff: number, klen: number, voff: number, vlen: number): number {
    const height = this.#randomHeight()
    const node = this.#newNode(height)
    const a = this.#a
    const meta = a.meta
    const m = node * STRIDE
    meta[m + F_KEY_OFF] = koff
    meta[m + F_KEY_LEN] = klen
    meta[m + F_VAL_OFF] = voff
    meta[m + F_VAL_LEN] = vlen
    meta[m + F_KIND_HEIGHT] = kind | (height << 8)
    meta[m + F_HASH] = hashBytes(a.data, koff, klen)
    a.seqs[node] = seq
    this.#admitKey(node)
    return node
  }

  /** Where node links in: the last node before it at every level, in #update, or #lastAt when it goes past the tail. */
  #predecessors (node: number): Int32Array {
    const tail = this.#tail
    // Entries in ascending order (sequential loads) go past the tail: they link in after the last node of
    // each level, with no descent.
    if (tail !== NIL && this.#compareNodes(tail, node) < 0) return this.#lastAt
    this.#descendForNode(node, this.#update)
    return this.#update
  }

  /** Link a node made by #newEntry in after update[l] at each of its levels l, and index it. */
  #link (node: number, update: Int32Array): void {
    const a = this.#a
    const meta = a.meta
    const m = node * STRIDE
    const height = meta[m + F_KIND_HEIGHT] >> 8
    if (height > this.#height) {
      for (let i = this.#height; i < height; i++) update[i] = NIL
      this.#height = height
    }
    const links = a.links
    const base = meta[m + F_LINKS]
    // Read before the loop: when update is #lastAt, the loop overwrites it.
    const before = update[0]
    const lastAt = this.#lastAt
    for (let i = 0; i < height; i++) {
      const u = update[i]
      const ul = meta[u * STRIDE + F_LINKS] + i
      const next = links[ul]
      links[base + i] = next
      links[ul] = node
      if (next === NIL) lastAt[i] = node
    }
    meta[m + F_PREV] = before
    const after = links[base]
    meta[m + F_NEXT] = after
    meta[before * STRIDE + F_NEXT] = node
    if (after !== NIL) meta[after * STRIDE + F_PREV] = node
    else this.#tail = node
    const seq = a.seqs[node]
    this.#index(node, meta[m + F_HASH], seq)
    this.#entries++
    this.#charged += meta[m + F_KEY_LEN] + meta[m + F_VAL_LEN] + ENTRY_CHARGE
    if (seq < this.minSeq) this.minSeq = seq
    if (seq > this.maxSeq) this.maxSeq = seq
  }

  /** Remember a range tombstone; its bytes count towards the flush threshold. */
  addRangeTombstone (t: RangeTombstone): void {
    this.rangeTombstones.push(t)
    this.#tombstoneBytes += t.start.length + (t.end?.length ?? 0) + ENTRY_OVERHEAD
    if (t.seq < this.minSeq) this.minSeq = t.seq
    if (t.seq > this.maxSeq) this.maxSeq = t.seq
  }

  /**
   * The newest entry of the user key (a latin1 string) with sequence <= snapshotSeq, or undefined. The
   * result is reused by the next lookup, and its rec a view of the arena: read it at once.
   */
  lookup (ukey: string, snapshotSeq: number): MemtableEntry | undefined {
    const a = this.#a
    const meta = a.meta
    const data = a.data
    const slots = a.slots
    const mask = slots.length - 1
    let i = hashString(ukey) & mask
    let n = NIL
    for (;;) {
      const s = slots[i]
      if (s === NIL) return undefined
      const m = s * STRIDE
      if (equalsString(data, meta[m + F_KEY_OFF], meta[m + F_KEY_LEN], ukey)) { n = s; break }
      i = (i + 1) & mask
    }
    // Versions of a key are adjacent, newest first: step over those newer than the snapshot.
    const seqs = a.seqs
    const kOff = meta[n * STRIDE + F_KEY_OFF]
    const kLen = meta[n * STRIDE + F_KEY_LEN]
    while (seqs[n] > snapshotSeq) {
      n = meta[n * STRIDE + F_NEXT]
      if (n === NIL) return undefined
      const m = n * STRIDE
      if (compareBytes(data, meta[m + F_KEY_OFF], meta[m + F_KEY_OFF] + meta[m + F_KEY_LEN], data, kOff, kOff + kLen) !== 0) return undefined
    }
    const f = this.#found
    const m = n * STRIDE
    f.seq = seqs[n]
    f.kind = meta[m + F_KIND_HEIGHT] & 0xff
    f.rec = data
    f.voff = meta[m + F_VAL_OFF]
    f.vlen = meta[m + F_VAL_LEN]
    return f
  }

  /** A cursor over every entry, in internal-key order. */
  iterator (): InternalIterator {
    return new MemtableIterator(this)
  }

  // ---- for the iterator ----

  /** @internal */
  firstNode (): number { return this.#a.links[0] }
  /** @internal */
  lastNode (): number { return this.#tail }
  /** @internal */
  nextNode (n: number): number { return this.#a.meta[n * STRIDE + F_NEXT] }
  /** @internal */
  prevNode (n: number): number { return this.#a.meta[n * STRIDE + F_PREV] }
  /** @internal First node at or after the internal key `target`, or NIL. */
  seekNode (target: Buffer): number {
    const x = this.#search(target, 0, target.length - TRAILER_SIZE, seqOf(target), kindOf(target), null)
    return this.#a.links[this.#a.meta[x * STRIDE + F_LINKS]]
  }

  /** @internal The internal key of node n, into a new buffer. */
  internalKey (n: number): Buffer {
    return nodeInternalKey(this.#a, n)
  }

  /**
   * A forward cursor for writing this frozen table out on this thread: the one a background flush uses
   * (it reads ahead and makes no key buffer per entry), over run().
   */
  flushIterator (): InternalIterator {
    return new MemtableRunIterator(this.run())
  }

  /**
   * The arena's parts a MemtableRunIterator reads, for a flush on the background thread: shared memory, so
   * posting them copies nothing. Only for a frozen table (no more writes), kept referenced until the flush is done.
   */
  run (): MemtableRun {
    const a = this.#a
    return { data: a.data, meta: a.meta, seqs: a.seqs }
  }

  /** @internal Node n's value into slice s. */
  valueOf (n: number, s: ValueSlice): ValueSlice {
    return nodeValue(this.#a, n, s)
  }

  // ---- internals ----

  /** Internal-key order of nodes a and b. */
  #compareNodes (a: number, b: number): number {
    const ar = this.#a
    const meta = ar.meta
    const am = a * STRIDE
    const bm = b * STRIDE
    const c = compareBytes(ar.data, meta[am + F_KEY_OFF], meta[am + F_KEY_OFF] + meta[am + F_KEY_LEN], ar.data, meta[bm + F_KEY_OFF], meta[bm + F_KEY_OFF] + meta[bm + F_KEY_LEN])
    if (c !== 0) return c
    const sa = ar.seqs[a]
    const sb = ar.seqs[b]
    if (sa !== sb) return sa > sb ? -1 : 1
    return (meta[bm + F_KIND_HEIGHT] & 0xff) - (meta[am + F_KIND_HEIGHT] & 0xff)
  }

  /**
   * Every key of this memtable starts with the first #prefix bytes of the first key inserted (#prefix < 0:
   * no key yet). Each node holds the 8 bytes after that prefix (F_FP0, F_FP1), so an insert's descent orders
   * most nodes by two integers without touching the arena. A key that shares less shrinks the prefix, and
   * every node's words are taken again (the prefix only shrinks, at most once per byte of it).
   */
  #prefix = -1
  #prefixNode = NIL

  /** Keeps the shared-prefix invariant for a new node and sets its words. */
  #admitKey (node: number): void {
    const a = this.#a
    const meta = a.meta
    const data = a.data
    const m = node * STRIDE
    const off = meta[m + F_KEY_OFF]
    const len = meta[m + F_KEY_LEN]
    if (this.#prefix < 0) {
      this.#prefix = len
      this.#prefixNode = node
    } else {
      const c = sharedPrefixLength(data, off, data, meta[this.#prefixNode * STRIDE + F_KEY_OFF], Math.min(this.#prefix, len))
      if (c < this.#prefix) {
        // Every node's words move (this one's included).
        this.#prefix = c
        for (let i = 1; i < this.#nodes; i++) this.#setWords(i)
        return
      }
    }
    this.#setWords(node)
  }

  /** A node's two words: the 8 key bytes after the shared prefix, zeros past the key's end. */
  #setWords (node: number): void {
    const a = this.#a
    const meta = a.meta
    const data = a.data
    const m = node * STRIDE
    const start = meta[m + F_KEY_OFF] + this.#prefix
    const end = meta[m + F_KEY_OFF] + meta[m + F_KEY_LEN]
    meta[m + F_FP0] = bigEndianWord(data, start, end)
    meta[m + F_FP1] = bigEndianWord(data, start + 4, end)
  }

  /**
   * The last node before `node` at every level, into update. Like #search, but most steps compare the nodes'
   * words (unsigned) and only equal words compare key bytes, from the shared prefix on.
   */
  #descendForNode (node: number, update: Int32Array): void {
    const a = this.#a
    const meta = a.meta
    const links = a.links
    const data = a.data
    const seqs = a.seqs
    const tm = node * STRIDE
    const kOff = meta[tm + F_KEY_OFF]
    const kLen = meta[tm + F_KEY_LEN]
    const seq = seqs[node]
    const kind = meta[tm + F_KIND_HEIGHT] & 0xff
    const t0 = meta[tm + F_FP0] >>> 0
    const t1 = meta[tm + F_FP1] >>> 0
    const p = this.#prefix
    let x = NIL
    for (let level = this.#height - 1; level >= 0; level--) {
      let n = links[meta[x * STRIDE + F_LINKS] + level]
      while (n !== NIL) {
        const m = n * STRIDE
        const n0 = meta[m + F_FP0] >>> 0
        let c: number
        if (n0 !== t0) c = n0 < t0 ? -1 : 1
        else {
          const n1 = meta[m + F_FP1] >>> 0
          if (n1 !== t1) c = n1 < t1 ? -1 : 1
          else {
            c = compareBytesFrom(data, meta[m + F_KEY_OFF], meta[m + F_KEY_LEN], data, kOff, kLen, p)
            if (c === 0) c = seqs[n] !== seq ? (seqs[n] > seq ? -1 : 1) : kind - (meta[m + F_KIND_HEIGHT] & 0xff)
          }
        }
        if (c >= 0) break
        x = n
        n = links[meta[x * STRIDE + F_LINKS] + level]
      }
      update[level] = x
    }
  }

  /** Internal-key order of nodes a and b, by their words first (see #admitKey): negative when a sorts first. */
  #order (a: number, b: number): number {
    const ar = this.#a
    const meta = ar.meta
    const am = a * STRIDE
    const bm = b * STRIDE
    const a0 = meta[am + F_FP0] >>> 0
    const b0 = meta[bm + F_FP0] >>> 0
    if (a0 !== b0) return a0 < b0 ? -1 : 1
    const a1 = meta[am + F_FP1] >>> 0
    const b1 = meta[bm + F_FP1] >>> 0
    if (a1 !== b1) return a1 < b1 ? -1 : 1
    const c = compareBytesFrom(ar.data, meta[am + F_KEY_OFF], meta[am + F_KEY_LEN], ar.data, meta[bm + F_KEY_OFF], meta[bm + F_KEY_LEN], this.#prefix)
    if (c !== 0) return c
    const sa = ar.seqs[a]
    const sb = ar.seqs[b]
    if (sa !== sb) return sa > sb ? -1 : 1
    return (meta[bm + F_KIND_HEIGHT] & 0xff) - (meta[am + F_KIND_HEIGHT] & 0xff)
  }

  /**
   * The last node before `node` at every level, into finger, which holds on entry the last node of each level
   * at or before an entry that sorts before node (RocksDB's splice): it climbs from the bottom level while
   * the finger's successor is still before node, then walks down as a descent does from there. A node k
   * entries past the finger costs about log(k) steps, whatever the table's size.
   */
  #descendFromFinger (node: number, finger: Int32Array): void {
    const a = this.#a
    const meta = a.meta
    const links = a.links
    const top = this.#height - 1
    let level = 0
    /** The successor of x at the level above the one being walked: where that walk may stop unasked. */
    let stop = NIL
    let x = NIL
    let moved = false
    for (;;) {
      const n = links[meta[finger[level] * STRIDE + F_LINKS] + level]
      // No node between this level's finger and node: none on a higher level either (a node of a higher
      // level is on this one too), so finger is right from here up.
      if (n === NIL || this.#order(n, node) > 0) { stop = n; break }
      if (level === top) {
        x = n
        moved = true
        let m = links[meta[x * STRIDE + F_LINKS] + level]
        while (m !== NIL && this.#order(m, node) < 0) {
          x = m
          m = links[meta[x * STRIDE + F_LINKS] + level]
        }
        finger[level] = x
        stop = m
        break
      }
      level++
    }
    // Below: the climb saw each level's finger followed by a node before `node`, so the walk starts there
    // until a walk above has moved past the fingers (then from where it stopped, as a descent does).
    for (level--; level >= 0; level--) {
      if (!moved) {
        x = links[meta[finger[level] * STRIDE + F_LINKS] + level]
        moved = true
      }
      let n = links[meta[x * STRIDE + F_LINKS] + level]
      while (n !== stop && this.#order(n, node) < 0) {
        x = n
        n = links[meta[x * STRIDE + F_LINKS] + level]
      }
      finger[level] = x
      stop = n
    }
  }

  /**
   * The last node before the internal key (user key key[kOff, kOff + kLen), seq, kind) at the bottom level;
   * with `update`, also the last node before it at every level (where an insert links in).
   */
  #search (key: Uint8Array, kOff: number, kLen: number, seq: number, kind: number, update: Int32Array | null): number {
    const a = this.#a
    const meta = a.meta
    const links = a.links
    const data = a.data
    const seqs = a.seqs
    let x = NIL
    // Common prefixes of the key with the nodes bounding the search from below and above (see compareBytesFrom).
    let lo = 0
    let hi = 0
    for (let level = this.#height - 1; level >= 0; level--) {
      let n = links[meta[x * STRIDE + F_LINKS] + level]
      while (n !== NIL) {
        const m = n * STRIDE
        let c = compareBytesFrom(data, meta[m + F_KEY_OFF], meta[m + F_KEY_LEN], key, kOff, kLen, lo < hi ? lo : hi)
        // Equal user keys share all of the key's bytes.
        const prefix = c === 0 ? kLen : prefixOfOrder(c)
        if (c === 0) c = seqs[n] !== seq ? (seqs[n] > seq ? -1 : 1) : kind - (meta[m + F_KIND_HEIGHT] & 0xff)
        if (c >= 0) { hi = prefix; break }
        x = n
        lo = prefix
        n = links[meta[x * STRIDE + F_LINKS] + level]
      }
      if (update !== null) update[level] = x
    }
    return x
  }

  /** A new node number with `height` link slots, growing the arrays as needed. */
  #newNode (height: number): number {
    const a = this.#a
    const node = this.#nodes++
    if ((node + 1) * STRIDE > a.meta.length) {
      const meta = sharedInt32(a.meta.length * 2)
      meta.set(a.meta)
      a.meta = meta
      const seqs = sharedFloat64(a.seqs.length * 2)
      seqs.set(a.seqs)
      a.seqs = seqs
    }
    if (this.#linkEnd + height > a.links.length) {
      const links = sharedInt32(a.links.length * 2)
      links.set(a.links)
      a.links = links
    }
    a.meta[node * STRIDE + F_LINKS] = this.#linkEnd
    this.#linkEnd += height
    return node
  }

  /** Make node the index's entry for its key, unless a newer version of the key is there. */
  #index (node: number, hash: number, seq: number): void {
    let a = this.#a
    if ((this.#entries + 1) * 2 > a.slots.length) {
      this.#rehash(a.slots.length * 2)
      a = this.#a
    }
    const slots = a.slots
    const meta = a.meta
    const data = a.data
    const mask = slots.length - 1
    const m = node * STRIDE
    const kOff = meta[m + F_KEY_OFF]
    const kLen = meta[m + F_KEY_LEN]
    let i = hash & mask
    for (;;) {
      const s = slots[i]
      if (s === NIL) { slots[i] = node; return }
      const sm = s * STRIDE
      if (meta[sm + F_HASH] === (hash | 0) && compareBytes(data, meta[sm + F_KEY_OFF], meta[sm + F_KEY_OFF] + meta[sm + F_KEY_LEN], data, kOff, kOff + kLen) === 0) {
        if (a.seqs[s] < seq) slots[i] = node
        return
      }
      i = (i + 1) & mask
    }
  }

  #rehash (size: number): void {
    const a = this.#a
    const old = a.slots
    const slots = new Int32Array(size)
    const mask = size - 1
    for (let j = 0; j < old.length; j++) {
      const s = old[j]
      if (s === NIL) continue
      let i = a.meta[s * STRIDE + F_HASH] & mask
      while (slots[i] !== NIL) i = (i + 1) & mask
      slots[i] = s
    }
    a.slots = slots
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
}
