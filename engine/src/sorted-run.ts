import { copyBytes, encodeFixed32 } from './coding.js'
import { type InternalIterator, type ValueSlice, wholeValueSlice } from './internal-iterator.js'
import { encodeTrailer, TRAILER_SIZE } from './keys.js'

/**
 * A sorted run of entries packed into one buffer, to hand a frozen memtable to the background worker in a
 * single transfer: per entry, uint32 key length, the internal key, uint32 value length, the value (little
 * endian). The iterator over it goes forward only: a flush reads it once, in order.
 */
export class SortedRunIterator implements InternalIterator {
  readonly #buf: Buffer
  #pos = 0
  #next = 0
  #key: Buffer | null = null
  #value: Buffer | null = null

  constructor (buf: Buffer) { this.#buf = buf }

  valid (): boolean { return this.#key !== null }
  seekToFirst (): void { this.#next = 0; this.#read() }
  seekToLast (): void { throw new Error('SortedRunIterator goes forward only') }
  seek (_target: Buffer): void { throw new Error('SortedRunIterator goes forward only') }
  next (): void { this.#read() }
  prev (): void { throw new Error('SortedRunIterator goes forward only') }
  key (): Buffer { return this.#key! }
  value (): Buffer { return this.#value! }
  valueSlice (): ValueSlice { return wholeValueSlice(this.#value!, this.#slice) }
  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }
  close (): void { this.#key = null }

  #read (): void {
    const b = this.#buf
    this.#pos = this.#next
    if (this.#pos >= b.length) { this.#key = null; return }
    let p = this.#pos
    const kl = b.readUInt32LE(p); p += 4
    this.#key = b.subarray(p, p + kl); p += kl
    const vl = b.readUInt32LE(p); p += 4
    this.#value = b.subarray(p, p + vl); p += vl
    this.#next = p
  }
}

/**
 * Packs entries, given in order, into a run buffer. Buffers come from `alloc` (Buffer.allocUnsafe by default),
 * which is always asked for more than the buffer in hand; sizeHint is the expected number of bytes.
 */
export class SortedRunWriter {
  #buf: Buffer
  #p = 0
  readonly #alloc: (bytes: number) => Buffer

  constructor (sizeHint = 64 * 1024, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe) {
    this.#alloc = alloc
    this.#buf = alloc(Math.max(1024, sizeHint))
  }

  /** One entry: the user key src[koff, koff + klen) with its trailer (seq, kind), the value vsrc[voff, voff + vlen). */
  add (src: Uint8Array, koff: number, klen: number, seq: number, kind: number, vsrc: Uint8Array, voff: number, vlen: number): void {
    let p = this.#p
    const need = 8 + klen + TRAILER_SIZE + vlen
    if (p + need > this.#buf.length) {
      const bigger = this.#alloc(Math.max(this.#buf.length * 2, p + need))
      this.#buf.copy(bigger, 0, 0, p)
      this.#buf = bigger
    }
    const buf = this.#buf
    p = encodeFixed32(buf, p, klen + TRAILER_SIZE)
    copyBytes(src, koff, buf, p, klen); p += klen
    encodeTrailer(buf, p, seq, kind); p += TRAILER_SIZE
    p = encodeFixed32(buf, p, vlen)
    copyBytes(vsrc, voff, buf, p, vlen)
    this.#p = p + vlen
  }

  /** The run: a view of the bytes written. */
  finish (): Buffer { return this.#buf.subarray(0, this.#p) }
}
