import type { InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import { F_LINKS, NIL, STRIDE, nodeInternalKey, nodeValue, type NodeSource } from './arena.js'

/** A frozen memtable's entries as the background thread gets them (Memtable.run()). */
export interface MemtableRun {
  data: Uint8Array
  meta: Int32Array
  seqs: Float64Array
  links: Int32Array
}

/**
 * Every entry of a MemtableRun in order, forward only (a flush reads it once): the skip list's bottom level,
 * read where the main thread wrote it, with the main thread's own key and value readers.
 */
export class MemtableRunIterator implements InternalIterator {
  readonly #src: NodeSource
  readonly #links: Int32Array
  #node = NIL
  #key: Buffer | null = null
  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }

  constructor (run: MemtableRun) {
    // Posting a Buffer delivers a plain Uint8Array: view the same memory as a Buffer again.
    this.#src = { data: Buffer.from(run.data.buffer, run.data.byteOffset, run.data.byteLength), meta: run.meta, seqs: run.seqs }
    this.#links = run.links
  }

  valid (): boolean { return this.#node !== NIL }
  seekToFirst (): void { this.#set(this.#links[0]) }
  seekToLast (): void { throw new Error('MemtableRunIterator goes forward only') }
  seek (_target: Buffer): void { throw new Error('MemtableRunIterator goes forward only') }
  next (): void { this.#set(this.#links[this.#src.meta[this.#node * STRIDE + F_LINKS]]) }
  prev (): void { throw new Error('MemtableRunIterator goes forward only') }
  key (): Buffer { return (this.#key ??= nodeInternalKey(this.#src, this.#node)) }
  valueSlice (): ValueSlice { return nodeValue(this.#src, this.#node, this.#slice) }

  value (): Buffer {
    const s = this.valueSlice()
    return s.data.subarray(s.start, s.end)
  }

  close (): void { this.#node = NIL }

  #set (n: number): void {
    this.#node = n
    this.#key = null
  }
}
