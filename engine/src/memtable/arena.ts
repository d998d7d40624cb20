import { encodeTrailer, TRAILER_SIZE } from '../keys.js'
import { copyBytes } from '../coding.js'
import type { ValueSlice } from '../iterator/internal-iterator.js'

/** Skip list height cap: at p = 1/4, 12 levels cover ~16M entries, far past any memtable. */
export const MAX_HEIGHT = 12

/** Int32 fields per node in Arena.meta. */
export const STRIDE = 11
export const F_KEY_OFF = 0
export const F_KEY_LEN = 1
export const F_VAL_OFF = 2
export const F_VAL_LEN = 3
/** kind | height << 8 */
export const F_KIND_HEIGHT = 4
export const F_PREV = 5
/** Where the node's links (one per level) start in Arena.links. */
export const F_LINKS = 6
export const F_HASH = 7
/** The 8 bytes of the key after the memtable's shared prefix (zeros past its end), as two big-endian words. */
export const F_FP0 = 8
export const F_FP1 = 9
/**
 * The next node at the bottom level: the same as the node's first link, kept beside its fields as well, so
 * that a walk in key order (a flush, an iterator's next) reads one record per step instead of the node's
 * record and then its link slot elsewhere.
 */
export const F_NEXT = 10

/** Node 0 is the list head: no link ever points to it, so 0 also means "none". */
export const NIL = 0

/** Memory per entry on top of its bytes in the data arena: node fields, sequence, links, index slots. */
export const ENTRY_OVERHEAD = STRIDE * 4 + 8 + 8 + 8

/** Zeroed bytes in shared memory. */
export function sharedBytes (n: number): Buffer { return Buffer.from(new SharedArrayBuffer(n)) }
export function sharedInt32 (n: number): Int32Array { return new Int32Array(new SharedArrayBuffer(n * 4)) }
export function sharedFloat64 (n: number): Float64Array { return new Float64Array(new SharedArrayBuffer(n * 8)) }

/**
 * The memory of one memtable: every entry's bytes in one buffer, and the skip list and hash index as typed
 * arrays of node numbers. No JavaScript object per entry: the garbage collector never walks the entries,
 * and a flushed memtable's arena is reused by a later one (see ArenaPool) instead of becoming tens of MiB of
 * garbage per flush. Each part grows by doubling. The bytes, nodes and links are in shared memory: a flush
 * on the background thread reads a frozen memtable where it lies (see MemtableRun), with no copy.
 */
export class Arena {
  data: Buffer
  meta: Int32Array
  seqs: Float64Array
  links: Int32Array
  /** Open-addressing hash index: node numbers (NIL = free), a power-of-two length. */
  slots: Int32Array

  constructor (dataBytes: number) {
    const nodes = Math.max(64, Math.ceil(dataBytes / 128))
    this.data = sharedBytes(Math.max(4096, dataBytes))
    this.meta = sharedInt32(nodes * STRIDE)
    this.seqs = sharedFloat64(nodes)
    this.links = sharedInt32(nodes * 2)
    this.slots = new Int32Array(pow2AtLeast(nodes * 2))
  }
}

function pow2AtLeast (n: number): number {
  let p = 64
  while (p < n) p *= 2
  return p
}

/** The arena parts a node's key and value are read from: an Arena, or a MemtableRun on the worker. */
export interface NodeSource { data: Buffer, meta: Int32Array, seqs: Float64Array }

/** The internal key of node n (its user key and trailer), into a new buffer. */
export function nodeInternalKey (src: NodeSource, n: number): Buffer {
  const m = n * STRIDE
  const off = src.meta[m + F_KEY_OFF]
  const len = src.meta[m + F_KEY_LEN]
  const ik = Buffer.allocUnsafe(len + TRAILER_SIZE)
  copyBytes(src.data, off, ik, 0, len)
  encodeTrailer(ik, len, src.seqs[n], src.meta[m + F_KIND_HEIGHT] & 0xff)
  return ik
}

/** Node n's value into slice s. */
export function nodeValue (src: NodeSource, n: number, s: ValueSlice): ValueSlice {
  const m = n * STRIDE
  s.data = src.data
  s.start = src.meta[m + F_VAL_OFF]
  s.end = s.start + src.meta[m + F_VAL_LEN]
  return s
}
