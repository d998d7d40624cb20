import { type InternalIterator, type ValueSlice, wholeValueSlice } from './internal-iterator.js'

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
 * Pack a sorted source into a run buffer; sizeHint is the expected number of bytes (grown if short). Buffers
 * come from `alloc` (Buffer.allocUnsafe by default), which is always asked for more than the buffer in hand.
 */
export function packSortedRun (source: InternalIterator, sizeHint = 64 * 1024, alloc: (bytes: number) => Buffer = Buffer.allocUnsafe): Buffer {
  let buf = alloc(Math.max(1024, sizeHint))
  let p = 0
  for (source.seekToFirst(); source.valid(); source.next()) {
    const k = source.key()
    const v = source.valueSlice()
    const vlen = v.end - v.start
    const need = 8 + k.length + vlen
    if (p + need > buf.length) {
      const bigger = alloc(Math.max(buf.length * 2, p + need))
      buf.copy(bigger, 0, 0, p)
      buf = bigger
    }
    buf.writeUInt32LE(k.length, p); p += 4
    k.copy(buf, p); p += k.length
    buf.writeUInt32LE(vlen, p); p += 4
    v.data.copy(buf, p, v.start, v.end); p += vlen
  }
  source.close()
  return buf.subarray(0, p)
}
