/**
 * Growable byte writer and bounds-checked reader for the gateway's binary formats (stored objects,
 * causal contexts, and later the internode RPC bodies). Integers are unsigned LEB128 varints up to
 * Number.MAX_SAFE_INTEGER, so counters and millisecond timestamps (both above 2^32) fit; arithmetic
 * instead of bitwise operators keeps them exact above 32 bits.
 */

import { GatewayError, hasCode } from '../error/gateway-error.js'

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** What ByteReader throws when the bytes end early or hold an impossible value: LEVELRING_MALFORMED_BYTES at `offset`. */
export function malformedBytes (message: string, offset: number): GatewayError {
  return new GatewayError('LEVELRING_MALFORMED_BYTES', `${message} at byte ${offset}`, { offset })
}

/** Appends bytes; `finish()` returns exactly what was written. */
export class ByteWriter {
  #buf: Buffer
  #len = 0

  constructor (initialSize = 256) {
    this.#buf = Buffer.allocUnsafe(initialSize)
  }

  /** Append one byte (0..255). */
  u8 (value: number): this {
    this.#reserve(1)
    this.#buf[this.#len++] = value
    return this
  }

  /** Append an unsigned integer (0..MAX_SAFE_INTEGER) as a LEB128 varint. */
  varint (value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`varint out of range: ${value}`)
    this.#reserve(8)
    while (value >= 0x80) {
      this.#buf[this.#len++] = (value % 0x80) + 0x80
      value = Math.floor(value / 0x80)
    }
    this.#buf[this.#len++] = value
    return this
  }

  /** Append raw bytes as they are. */
  raw (bytes: Uint8Array): this {
    this.#reserve(bytes.length)
    this.#buf.set(bytes, this.#len)
    this.#len += bytes.length
    return this
  }

  /** Append a varint length, then the bytes. */
  bytes (bytes: Uint8Array): this {
    return this.varint(bytes.length).raw(bytes)
  }

  /** Append a UTF-8 string with a varint byte-length prefix. */
  string (value: string): this {
    return this.bytes(Buffer.from(value, 'utf8'))
  }

  /** How many bytes were written so far. */
  get length (): number {
    return this.#len
  }

  /** The bytes written so far (a copy-free view of the internal buffer). */
  finish (): Buffer {
    return this.#buf.subarray(0, this.#len)
  }

  #reserve (n: number): void {
    if (this.#len + n <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n))
    this.#buf.copy(next, 0, 0, this.#len)
    this.#buf = next
  }
}

/** Reads what ByteWriter wrote; every read checks bounds and throws LEVELRING_MALFORMED_BYTES. */
export class ByteReader {
  readonly #buf: Uint8Array
  #pos = 0

  constructor (buf: Uint8Array) {
    this.#buf = buf
  }

  /** Current offset, for error messages. */
  get offset (): number { return this.#pos }

  /** True when every byte was consumed. */
  get done (): boolean { return this.#pos === this.#buf.length }

  u8 (): number {
    if (this.#pos >= this.#buf.length) throw malformedBytes('unexpected end reading a byte', this.#pos)
    return this.#buf[this.#pos++]!
  }

  varint (): number {
    const start = this.#pos
    let value = 0
    let scale = 1
    for (let i = 0; i < 8; i++) {
      const b = this.u8()
      value += (b & 0x7f) * scale
      if (b < 0x80) {
        if (!Number.isSafeInteger(value)) throw malformedBytes('varint above 2^53', start)
        return value
      }
      scale *= 0x80
    }
    throw malformedBytes('varint longer than 8 bytes', start)
  }

  raw (length: number): Uint8Array {
    if (length > this.#buf.length - this.#pos) {
      throw malformedBytes(`unexpected end: ${length} bytes wanted, ${this.#buf.length - this.#pos} left`, this.#pos)
    }
    const out = this.#buf.subarray(this.#pos, this.#pos + length)
    this.#pos += length
    return out
  }

  bytes (): Uint8Array {
    return this.raw(this.varint())
  }

  string (): string {
    const start = this.#pos
    try {
      return strictUtf8.decode(this.bytes())
    } catch (err) {
      if (hasCode(err, 'LEVELRING_MALFORMED_BYTES')) throw err
      throw malformedBytes('invalid UTF-8 in a string', start)
    }
  }
}
