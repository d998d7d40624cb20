/**
 * Reads a block written by BlockBuilder (format in block-builder.ts) and iterates it in internal-key
 * order, forwards and backwards (prev() rescans from the preceding restart point, as LevelDB does).
 */
import { readFixed32 } from '../coding.js'
import { corruption } from '../errors.js'
import { compareBytes, compareInternalKeySlices } from '../keys.js'
import type { InternalIterator } from '../internal-iterator.js'

/** Key deltas up to this many bytes are copied by a plain loop (faster than a native call for short runs). */
const SMALL_COPY = 32

/** The decoded shape of a block's contents (verified bytes, trailer already removed). */
export class Block {
  readonly data: Buffer
  /** Offset in data of the restart array (= end of the entries). */
  readonly restartsOffset: number
  readonly numRestarts: number
  /** For errors: the file and the block's offset in it. */
  readonly fileName: string
  readonly fileOffset: number

  /** Throws LEVEL_CORRUPTION if the restart array does not fit. */
  constructor (data: Buffer, fileName: string, fileOffset: number) {
    this.data = data
    this.fileName = fileName
    this.fileOffset = fileOffset
    if (data.length < 4) throw corruption(`block too short (${data.length} bytes)`, { file: fileName, offset: fileOffset })
    const n = readFixed32(data, data.length - 4)
    const max = (data.length - 4) / 4
    if (n === 0 || n > max) {
      throw corruption(`bad block: ${n} restart points in ${data.length} bytes`, { file: fileName, offset: fileOffset + data.length - 4 })
    }
    this.numRestarts = n
    this.restartsOffset = data.length - 4 - 4 * n
  }

  /** Bytes held (what a cache charges for it). */
  get size (): number { return this.data.length }

  /** A new cursor over the block in internal-key order. */
  iterator (): BlockIterator {
    return new BlockIterator(this)
  }
}

/**
 * Cursor over one block. The current key is rebuilt in a scratch buffer reused across positions; key()
 * hands out one copy per position (or a view when the key is stored whole), value() a view into the block.
 */
export class BlockIterator implements InternalIterator {
  #block: Block
  #data: Buffer
  #restarts: number
  #numRestarts: number
  /** Offset of the current entry; == #restarts when not valid. */
  #current: number
  /** Offset just past the current entry. */
  #next = 0
  #restartIndex: number
  #key: Buffer = Buffer.allocUnsafe(64)
  #keyLen = 0
  /** Where the whole key sits in the block when it was stored with shared = 0, else -1. */
  #keyInPlace = -1
  #valOff = 0
  #valLen = 0
  #keyOut: Buffer | undefined
  #valOut: Buffer | undefined

  constructor (block: Block) {
    this.#block = block
    this.#data = block.data
    this.#restarts = block.restartsOffset
    this.#numRestarts = block.numRestarts
    this.#current = this.#restarts
    this.#restartIndex = this.#numRestarts
  }

  /** Rebinds this cursor to another block (reuse instead of allocating one per block); not valid after. */
  reset (block: Block): void {
    this.#block = block
    this.#data = block.data
    this.#restarts = block.restartsOffset
    this.#numRestarts = block.numRestarts
    this.#keyLen = 0
    this.#invalidate()
  }

  /** The block this cursor reads. */
  get block (): Block { return this.#block }

  valid (): boolean { return this.#current < this.#restarts }

  key (): Buffer {
    if (this.#keyOut === undefined) {
      if (this.#keyInPlace >= 0) {
        this.#keyOut = this.#data.subarray(this.#keyInPlace, this.#keyInPlace + this.#keyLen)
      } else {
        const n = this.#keyLen
        const k = Buffer.allocUnsafe(n)
        const src = this.#key
        if (n <= SMALL_COPY) for (let i = 0; i < n; i++) k[i] = src[i]
        else k.set(src.subarray(0, n))
        this.#keyOut = k
      }
    }
    return this.#keyOut
  }

  value (): Buffer {
    return (this.#valOut ??= this.#data.subarray(this.#valOff, this.#valOff + this.#valLen))
  }

  /** For table readers decoding the value in place: its offset in blockData. */
  get valueOffset (): number { return this.#valOff }
  /** For table readers: the value's length. */
  get valueLength (): number { return this.#valLen }
  /** The block's bytes (for in-place decoding of values). */
  get blockData (): Buffer { return this.#data }

  /** Internal-key order of the current key against target[0, target.length), without materializing the key. */
  compareKey (target: Buffer): number {
    return compareInternalKeySlices(this.#key, 0, this.#keyLen, target, 0, target.length)
  }

  /** True iff the current key's first n bytes equal userKey and n = its user-key length (key length - 8). */
  userKeyEquals (userKey: Buffer): boolean {
    const n = this.#keyLen - 8
    return n === userKey.length && compareBytes(this.#key, 0, n, userKey, 0, n) === 0
  }

  next (): void {
    this.#parseNext()
  }

  prev (): void {
    const original = this.#current
    // Back up to the last restart point before the current entry, then scan forward to just before it.
    while (this.#restartPoint(this.#restartIndex) >= original) {
      if (this.#restartIndex === 0) {
        this.#invalidate()
        return
      }
      this.#restartIndex--
    }
    this.#seekToRestartPoint(this.#restartIndex)
    do {
      if (!this.#parseNext()) return
    } while (this.#next < original)
  }

  seekToFirst (): void {
    this.#seekToRestartPoint(0)
    this.#parseNext()
  }

  seekToLast (): void {
    this.#seekToRestartPoint(this.#numRestarts - 1)
    while (this.#parseNext() && this.#next < this.#restarts) { /* scan to the last entry */ }
  }

  seek (target: Buffer): void {
    // Binary search for the last restart point whose key is < target.
    let lo = 0
    let hi = this.#numRestarts - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.#compareRestartKey(mid, target) < 0) lo = mid
      else hi = mid - 1
    }
    this.#seekToRestartPoint(lo)
    // Linear scan for the first key >= target.
    while (this.#parseNext()) {
      if (compareInternalKeySlices(this.#key, 0, this.#keyLen, target, 0, target.length) >= 0) return
    }
  }

  close (): void {}

  #fail (what: string, at: number): Error {
    return corruption(`bad block entry: ${what}`, { file: this.#block.fileName, offset: this.#block.fileOffset + at })
  }

  #restartPoint (i: number): number {
    const off = readFixed32(this.#data, this.#restarts + 4 * i)
    if (off >= this.#restarts && !(off === 0 && this.#restarts === 0)) throw this.#fail(`restart point ${i} at ${off} is outside the entries`, this.#restarts + 4 * i)
    return off
  }

  #compareRestartKey (i: number, target: Buffer): number {
    const p = this.#restartPoint(i)
    const data = this.#data
    // A restart entry stores its key whole: shared must be 0.
    let q = p
    let shared = data[q++]
    if (shared >= 128) { q = p; shared = this.#varint(p); q = this.#varEnd }
    let nonShared = data[q]
    if (nonShared < 128) q++; else { nonShared = this.#varint(q); q = this.#varEnd }
    let valueLen = data[q]
    if (valueLen < 128) q++; else { valueLen = this.#varint(q); q = this.#varEnd }
    if (shared !== 0 || q + nonShared > this.#restarts || nonShared < 8) throw this.#fail(`restart entry ${i} is not a whole internal key`, p)
    return compareInternalKeySlices(data, q, q + nonShared, target, 0, target.length)
  }

  #seekToRestartPoint (i: number): void {
    this.#restartIndex = i
    this.#keyLen = 0
    this.#next = this.#restartPoint(i)
    this.#current = this.#next
  }

  #invalidate (): void {
    this.#current = this.#restarts
    this.#restartIndex = this.#numRestarts
    this.#keyOut = undefined
    this.#valOut = undefined
  }

  /** Where the last #varint() call ended (no allocation for a result object). */
  #varEnd = 0

  #varint (p: number): number {
    const data = this.#data
    const limit = this.#restarts
    let result = 0
    for (let shift = 0; shift <= 28; shift += 7) {
      if (p >= limit) throw this.#fail('truncated varint', p)
      const b = data[p++]
      if (b < 128) {
        this.#varEnd = p
        return (result | (b << shift)) >>> 0
      }
      result |= (b & 127) << shift
    }
    throw this.#fail('varint longer than 5 bytes', p)
  }

  /** Decodes the entry at #next into the current position; false (and invalid) at the end of the entries. */
  #parseNext (): boolean {
    this.#keyOut = undefined
    this.#valOut = undefined
    const p = this.#current = this.#next
    const limit = this.#restarts
    if (p >= limit) {
      this.#invalidate()
      return false
    }
    const data = this.#data
    let shared: number
    let nonShared: number
    let valueLen: number
    let q: number
    if (p + 3 <= limit && (data[p] | data[p + 1] | data[p + 2]) < 128) {
      // Fast path: all three lengths fit in one byte each.
      shared = data[p]
      nonShared = data[p + 1]
      valueLen = data[p + 2]
      q = p + 3
    } else {
      shared = this.#varint(p)
      nonShared = this.#varint(this.#varEnd)
      valueLen = this.#varint(this.#varEnd)
      q = this.#varEnd
    }
    if (shared > this.#keyLen) throw this.#fail(`shares ${shared} bytes with a ${this.#keyLen}-byte previous key`, p)
    if (q + nonShared + valueLen > limit) throw this.#fail(`key/value (${nonShared}+${valueLen} bytes) run past the entries`, p)
    const keyLen = shared + nonShared
    if (keyLen > this.#key.length) {
      const bigger = Buffer.allocUnsafe(Math.max(keyLen, this.#key.length * 2))
      this.#key.copy(bigger, 0, 0, shared)
      this.#key = bigger
    }
    const key = this.#key
    if (nonShared <= SMALL_COPY) {
      // Buffer#copy's argument handling costs more than copying a few bytes by hand.
      for (let i = 0; i < nonShared; i++) key[shared + i] = data[q + i]
    } else {
      key.set(data.subarray(q, q + nonShared), shared)
    }
    this.#keyLen = keyLen
    this.#keyInPlace = shared === 0 ? q : -1
    this.#valOff = q + nonShared
    this.#valLen = valueLen
    this.#next = this.#valOff + valueLen
    while (this.#restartIndex + 1 < this.#numRestarts && this.#restartPoint(this.#restartIndex + 1) <= p) this.#restartIndex++
    return true
  }
}
