import { type ByteSlice, type InternalIterator, type ValueSlice, wholeSlice } from '../iterator/internal-iterator.js'
import { copyBytes } from '../coding.js'
import { encodeTrailer, TRAILER_SIZE } from '../keys.js'
import { F_KEY_LEN, F_KEY_OFF, F_KIND_HEIGHT, F_NEXT, F_VAL_LEN, F_VAL_OFF, NIL, STRIDE, nodeValue, type NodeSource } from './arena.js'

/** A frozen memtable's entries as the background thread gets them (Memtable.run()). */
export interface MemtableRun {
  data: Uint8Array
  meta: Int32Array
  seqs: Float64Array
}

/**
 * Every entry of a MemtableRun in order, forward only (a flush reads it once): the skip list's bottom level
 * (each node's F_NEXT), read where the main thread wrote it, with the main thread's own value reader. key()
 * is built into one buffer reused while keys keep their length (a table builder copies what it keeps), so a
 * flush allocates nothing per entry.
 *
 * Entries were written in arrival order, so in key order their bytes lie at random places in the arena: read
 * one by one, each entry waits for its own cache (and TLB) misses. The iterator walks the list AHEAD nodes at
 * a time and first touches every one's bytes and sequence number in a tight loop, whose loads do not depend
 * on each other, so the processor waits for those misses together rather than one after another.
 */
/** Nodes read ahead at a time: enough misses in flight to fill the memory pipeline, few enough to stay in L1. */
const AHEAD = 64

/** Cache line size assumed by the touch pass: one touch per line an entry's bytes start in (up to three). */
const LINE = 64

export class MemtableRunIterator implements InternalIterator {
  readonly #src: NodeSource
  #node = NIL
  /** The nodes read ahead (see AHEAD): #ahead[#at] is #node; NIL past the list's end. */
  readonly #ahead = new Int32Array(AHEAD)
  #at = 0
  #count = 0
  /** Where the touch pass's sum goes, so that its loads are not optimized away. */
  touched = 0
  /** The current entry's internal key, or null until key() builds it. */
  #key: Buffer | null = null
  /** The buffer key() builds into: the last key's, reused while lengths match. */
  #keyBuf: Buffer = Buffer.alloc(0)
  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }

  constructor (run: MemtableRun) {
    // Posting a Buffer delivers a plain Uint8Array: view the same memory as a Buffer again.
    this.#src = { data: Buffer.from(run.data.buffer, run.data.byteOffset, run.data.byteLength), meta: run.meta, seqs: run.seqs }
  }

  valid (): boolean { return this.#node !== NIL }
  seekToFirst (): void { this.#readAhead(this.#src.meta[F_NEXT]) }
  seekToLast (): void { throw new Error('MemtableRunIterator goes forward only') }
  seek (_target: Buffer): void { throw new Error('MemtableRunIterator goes forward only') }
  next (): void {
    if (++this.#at < this.#count) this.#set(this.#ahead[this.#at])
    else this.#readAhead(this.#src.meta[this.#node * STRIDE + F_NEXT])
  }
  prev (): void { throw new Error('MemtableRunIterator goes forward only') }
  key (): Buffer { return (this.#key ??= this.#buildKey()) }

  keySlice (): ByteSlice { return wholeSlice(this.key(), this.#keySlice) }

  readonly #keySlice: ByteSlice = { data: Buffer.alloc(0), start: 0, end: 0 }
  valueSlice (): ValueSlice { return nodeValue(this.#src, this.#node, this.#slice) }

  value (): Buffer {
    const s = this.valueSlice()
    return s.data.subarray(s.start, s.end)
  }

  close (): void { this.#node = NIL }

  #buildKey (): Buffer {
    const src = this.#src
    const m = this.#node * STRIDE
    const len = src.meta[m + F_KEY_LEN]
    let ik = this.#keyBuf
    if (ik.length !== len + TRAILER_SIZE) ik = this.#keyBuf = Buffer.allocUnsafe(len + TRAILER_SIZE)
    copyBytes(src.data, src.meta[m + F_KEY_OFF], ik, 0, len)
    encodeTrailer(ik, len, src.seqs[this.#node], src.meta[m + F_KIND_HEIGHT] & 0xff)
    return ik
  }

  /** Reads up to AHEAD nodes from n on into #ahead, touching their bytes, and moves to n. */
  #readAhead (n: number): void {
    const meta = this.#src.meta
    const ahead = this.#ahead
    let count = 0
    for (let x = n; x !== NIL && count < AHEAD; x = meta[x * STRIDE + F_NEXT]) ahead[count++] = x
    const data = this.#src.data
    const seqs = this.#src.seqs
    let sum = 0
    for (let i = 0; i < count; i++) {
      const x = ahead[i]
      const m = x * STRIDE
      sum ^= seqs[x]
      const start = meta[m + F_KEY_OFF]
      const end = meta[m + F_VAL_OFF] + meta[m + F_VAL_LEN]
      sum ^= data[start]
      if (end - start > LINE) sum ^= data[start + LINE]
      if (end > start) sum ^= data[end - 1]
    }
    this.touched = sum
    this.#count = count
    this.#at = 0
    this.#set(count > 0 ? ahead[0] : NIL)
  }

  #set (n: number): void {
    this.#node = n
    this.#key = null
  }
}
