/**
 * Integer encodings shared by every on-disk format (LevelDB's coding.h):
 * varint32 / varint64 (little-endian base-128, 7 bits a byte, high bit = more follows) and fixed-width
 * little-endian 32/64-bit integers. 64-bit values are JS numbers, exact up to 2^53 - 1 (sequence numbers,
 * file sizes and offsets never come near it).
 */
import { corruption } from './errors.js'

/** Largest value a varint64/fixed64 may carry here: beyond it a JS number loses integer precision. */
export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER

/** A varint32 never needs more than 5 bytes (5 x 7 = 35 bits >= 32). */
export const MAX_VARINT32_BYTES = 5
/** A varint64 carrying at most 2^53 - 1 needs at most 8 bytes (8 x 7 = 56 bits >= 53); a full uint64 would need 10. */
export const MAX_VARINT64_BYTES = 10

const TWO_32 = 2 ** 32

/** Number of bytes the varint encoding of v takes (v a non-negative safe integer). */
export function varintLength (v: number): number {
  let n = 1
  while (v >= 128) { v = Math.floor(v / 128); n++ }
  return n
}

/** Writes v (< 2^32) as a varint32 at buf[offset]; returns the offset just past it. */
export function encodeVarint32 (buf: Uint8Array, offset: number, v: number): number {
  v = v >>> 0
  while (v >= 128) {
    buf[offset++] = (v & 127) | 128
    v >>>= 7
  }
  buf[offset++] = v
  return offset
}

/** Writes v (a non-negative safe integer) as a varint64 at buf[offset]; returns the offset just past it. */
export function encodeVarint64 (buf: Uint8Array, offset: number, v: number): number {
  if (v >= 0 && v < TWO_32) return encodeVarint32(buf, offset, v)
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint64 value out of range: ${v}`)
  while (v >= 128) {
    buf[offset++] = (v % 128) | 128
    v = Math.floor(v / 128)
  }
  buf[offset++] = v
  return offset
}

/** Bytes up to this many are copied by a plain loop (faster than a native call for short runs). */
const SMALL_COPY = 32

/** Copies n bytes from src[s] to dst[d]: by hand when short (a native call costs more for a few bytes). */
export function copyBytes (src: Uint8Array, s: number, dst: Uint8Array, d: number, n: number): void {
  if (n <= SMALL_COPY) {
    for (let j = 0; j < n; j++) dst[d + j] = src[s + j]
  } else {
    dst.set(src.subarray(s, s + n), d)
  }
}

/** Writes v as a little-endian uint32 at buf[offset]; returns offset + 4. */
export function encodeFixed32 (buf: Uint8Array, offset: number, v: number): number {
  buf[offset] = v
  buf[offset + 1] = v >>> 8
  buf[offset + 2] = v >>> 16
  buf[offset + 3] = v >>> 24
  return offset + 4
}

/** Writes v (a non-negative safe integer) as a little-endian uint64 at buf[offset]; returns offset + 8. */
export function encodeFixed64 (buf: Uint8Array, offset: number, v: number): number {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`fixed64 value out of range: ${v}`)
  encodeFixed32(buf, offset, v % TWO_32)
  return encodeFixed32(buf, offset + 4, Math.floor(v / TWO_32))
}

/** A decoded integer and the offset just past its encoding. */
export interface Decoded { value: number, offset: number }

function truncated (what: string, offset: number, file?: string): Error {
  return corruption(`truncated ${what}`, { file: file ?? '(buffer)', offset })
}

/** Reads a varint32 at buf[offset] (not past limit); throws LEVEL_CORRUPTION if truncated or too long. */
export function decodeVarint32 (buf: Uint8Array, offset: number, limit = buf.length, file?: string): Decoded {
  let result = 0
  for (let shift = 0, p = offset; shift <= 28; shift += 7) {
    if (p >= limit) throw truncated('varint32', offset, file)
    const b = buf[p++]
    if (b < 128) {
      result = (result | (b << shift)) >>> 0
      return { value: result, offset: p }
    }
    result |= (b & 127) << shift
  }
  throw corruption('varint32 longer than 5 bytes', { file: file ?? '(buffer)', offset })
}

/** Reads a varint64 at buf[offset] (not past limit); throws LEVEL_CORRUPTION if truncated or beyond 2^53 - 1. */
export function decodeVarint64 (buf: Uint8Array, offset: number, limit = buf.length, file?: string): Decoded {
  let result = 0
  let mul = 1
  for (let p = offset; p < offset + MAX_VARINT64_BYTES; ) {
    if (p >= limit) throw truncated('varint64', offset, file)
    const b = buf[p++]
    result += (b & 127) * mul
    if (b < 128) {
      if (result > MAX_SAFE_U64) break
      return { value: result, offset: p }
    }
    mul *= 128
  }
  throw corruption('varint64 too long or beyond 2^53 - 1', { file: file ?? '(buffer)', offset })
}

/** Reads a little-endian uint32 at buf[offset]; throws LEVEL_CORRUPTION if fewer than 4 bytes remain. */
export function decodeFixed32 (buf: Uint8Array, offset: number, limit = buf.length, file?: string): Decoded {
  if (offset + 4 > limit) throw truncated('fixed32', offset, file)
  return { value: readFixed32(buf, offset), offset: offset + 4 }
}

/** Reads a little-endian uint64 at buf[offset]; throws LEVEL_CORRUPTION if truncated or beyond 2^53 - 1. */
export function decodeFixed64 (buf: Uint8Array, offset: number, limit = buf.length, file?: string): Decoded {
  if (offset + 8 > limit) throw truncated('fixed64', offset, file)
  const hi = readFixed32(buf, offset + 4)
  if (hi >= 2 ** 21) throw corruption('fixed64 beyond 2^53 - 1', { file: file ?? '(buffer)', offset })
  return { value: hi * TWO_32 + readFixed32(buf, offset), offset: offset + 8 }
}

/** Unchecked little-endian uint32 read (caller guarantees 4 bytes exist). */
export function readFixed32 (buf: Uint8Array, offset: number): number {
  return (buf[offset] | (buf[offset + 1] << 8) | (buf[offset + 2] << 16)) + buf[offset + 3] * 0x1000000
}

/**
 * A cursor over encoded bytes that decodes without allocating; every read is bounds-checked against
 * `limit` and throws LEVEL_CORRUPTION naming the file and the absolute offset (baseOffset + pos).
 */
export class ByteReader {
  buf: Buffer
  pos: number
  limit: number
  /** Name reported in corruption errors. */
  fileName: string
  /** File offset of buf[0], so errors report positions in the file. */
  baseOffset: number

  constructor (buf: Buffer, fileName = '(buffer)', baseOffset = 0, pos = 0, limit = buf.length) {
    this.buf = buf
    this.pos = pos
    this.limit = limit
    this.fileName = fileName
    this.baseOffset = baseOffset
  }

  /** Repoints the cursor at a new range (reuse instead of allocating a reader per record). */
  reset (buf: Buffer, pos: number, limit: number, baseOffset = this.baseOffset): void {
    this.buf = buf
    this.pos = pos
    this.limit = limit
    this.baseOffset = baseOffset
  }

  get remaining (): number { return this.limit - this.pos }

  /** Throws LEVEL_CORRUPTION ("<what> at ...") at the current position. */
  fail (what: string, at = this.pos): Error {
    return corruption(what, { file: this.fileName, offset: this.baseOffset + at })
  }

  byte (): number {
    if (this.pos >= this.limit) throw this.fail('truncated: expected 1 more byte')
    return this.buf[this.pos++]
  }

  varint32 (): number {
    const buf = this.buf
    let p = this.pos
    const start = p
    let result = 0
    for (let shift = 0; shift <= 28; shift += 7) {
      if (p >= this.limit) throw this.fail('truncated varint32', start)
      const b = buf[p++]
      if (b < 128) {
        this.pos = p
        return (result | (b << shift)) >>> 0
      }
      result |= (b & 127) << shift
    }
    throw this.fail('varint32 longer than 5 bytes', start)
  }

  varint64 (): number {
    const d = decodeVarint64(this.buf, this.pos, this.limit, this.fileName)
    this.pos = d.offset
    return d.value
  }

  fixed32 (): number {
    if (this.pos + 4 > this.limit) throw this.fail('truncated fixed32')
    const v = readFixed32(this.buf, this.pos)
    this.pos += 4
    return v
  }

  fixed64 (): number {
    if (this.pos + 8 > this.limit) throw this.fail('truncated fixed64')
    const hi = readFixed32(this.buf, this.pos + 4)
    if (hi >= 2 ** 21) throw this.fail('fixed64 beyond 2^53 - 1')
    const v = hi * TWO_32 + readFixed32(this.buf, this.pos)
    this.pos += 8
    return v
  }

  /** The next n bytes as a view (no copy). */
  bytes (n: number): Buffer {
    if (n > this.limit - this.pos) throw this.fail(`truncated: expected ${n} bytes, ${this.limit - this.pos} remain`)
    const v = this.buf.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }

  /** A varint32 length followed by that many bytes, as a view. */
  lengthPrefixed (): Buffer {
    return this.bytes(this.varint32())
  }
}

/** A growable byte buffer for building encoded records; amortised doubling, no per-field allocation. */
export class ByteWriter {
  #buf: Buffer
  #len = 0

  constructor (initialCapacity = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(16, initialCapacity))
  }

  get length (): number { return this.#len }

  /** Makes room for n more bytes. */
  reserve (n: number): void {
    const need = this.#len + n
    if (need <= this.#buf.length) return
    let cap = this.#buf.length * 2
    while (cap < need) cap *= 2
    const next = Buffer.allocUnsafe(cap)
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }

  byte (v: number): void {
    this.reserve(1)
    this.#buf[this.#len++] = v
  }

  bytes (data: Uint8Array): void {
    this.reserve(data.length)
    this.#buf.set(data, this.#len)
    this.#len += data.length
  }

  /** Appends data[start, end). */
  range (data: Uint8Array, start: number, end: number): void {
    const n = end - start
    this.reserve(n)
    if (n > SMALL_COPY && start >= 0 && end <= data.length) {
      // A plain view, not data.subarray(): a Buffer's subarray builds a Buffer through its species constructor,
      // which costs about as much again as copying a 100-byte value (every entry a table builder writes).
      this.#buf.set(new Uint8Array(data.buffer, data.byteOffset + start, n), this.#len)
    } else {
      copyBytes(data, start, this.#buf, this.#len, n)
    }
    this.#len += n
  }

  varint32 (v: number): void {
    this.reserve(MAX_VARINT32_BYTES)
    this.#len = encodeVarint32(this.#buf, this.#len, v)
  }

  varint64 (v: number): void {
    this.reserve(MAX_VARINT64_BYTES)
    this.#len = encodeVarint64(this.#buf, this.#len, v)
  }

  fixed32 (v: number): void {
    this.reserve(4)
    this.#len = encodeFixed32(this.#buf, this.#len, v)
  }

  fixed64 (v: number): void {
    this.reserve(8)
    this.#len = encodeFixed64(this.#buf, this.#len, v)
  }

  /** A varint32 length then the bytes. */
  lengthPrefixed (data: Uint8Array): void {
    this.varint32(data.length)
    this.bytes(data)
  }

  /** Overwrites a fixed32 already written at offset (for back-patching counts). */
  patchFixed32 (offset: number, v: number): void {
    encodeFixed32(this.#buf, offset, v)
  }

  /** The bytes written so far as a view; valid until the next write or reset(). */
  view (): Buffer {
    return this.#buf.subarray(0, this.#len)
  }

  /** The bytes written so far as a fresh copy. */
  toBuffer (): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#len))
  }

  /** Forgets the contents, keeps the capacity. */
  reset (): void {
    this.#len = 0
  }
}
