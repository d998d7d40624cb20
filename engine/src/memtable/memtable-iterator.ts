import { type ByteSlice, type InternalIterator, type ValueSlice, wholeSlice } from '../iterator/internal-iterator.js'
import { NIL } from './arena.js'
import type { Memtable } from './memtable.js'

/** A cursor over a memtable's skip list, both ways; it reads through the Memtable (its arena may grow). */
export class MemtableIterator implements InternalIterator {
  readonly #table: Memtable
  #node = NIL
  #key: Buffer | null = null
  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }

  constructor (table: Memtable) { this.#table = table }

  valid (): boolean { return this.#node !== NIL }
  seekToFirst (): void { this.#set(this.#table.firstNode()) }
  seekToLast (): void { this.#set(this.#table.lastNode()) }
  seek (target: Buffer): void { this.#set(this.#table.seekNode(target)) }
  next (): void { this.#set(this.#table.nextNode(this.#node)) }
  prev (): void { this.#set(this.#table.prevNode(this.#node)) }

  key (): Buffer {
    if (this.#key === null) this.#key = this.#table.internalKey(this.#node)
    return this.#key
  }

  keySlice (): ByteSlice { return wholeSlice(this.key(), this.#keySlice) }

  readonly #keySlice: ByteSlice = { data: Buffer.alloc(0), start: 0, end: 0 }

  value (): Buffer {
    const s = this.#table.valueOf(this.#node, this.#slice)
    return s.data.subarray(s.start, s.end)
  }

  valueSlice (): ValueSlice { return this.#table.valueOf(this.#node, this.#slice) }

  close (): void { this.#node = NIL }

  #set (n: number): void {
    this.#node = n
    this.#key = null
  }
}
