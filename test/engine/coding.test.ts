import { describe, it, expect } from 'vitest'
import {
  ByteReader, ByteWriter, copyBytes, decodeFixed32, decodeFixed64, decodeVarint32, decodeVarint64,
  encodeFixed32, encodeFixed64, encodeVarint32, encodeVarint64, varintLength
} from '../../engine/src/coding.js'
import { crc32c, maskCrc, NATIVE_CRC_FROM, unmaskCrc } from '../../engine/src/crc.js'
import { randomBytes, seededRandom } from '../support/random.mjs'

describe('crc32c', () => {
  it('matches the standard check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283)
  })
  it('extends a running crc', () => {
    const a = Buffer.from('hello, ')
    const b = Buffer.from('world')
    expect(crc32c(b, crc32c(a))).toBe(crc32c(Buffer.concat([a, b])))
  })
  it('gives the same crc below and above the native threshold, and across it when extending', () => {
    // Short inputs take the JavaScript tables, long ones the native library: a record's crc extended from
    // its type byte (short) over a long payload mixes them. Checked against a plain bitwise CRC-32C.
    const bitwise = (buf: Uint8Array, initial = 0): number => {
      let c = ~initial >>> 0
      for (const byte of buf) {
        c ^= byte
        for (let k = 0; k < 8; k++) c = (c & 1) !== 0 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
      }
      return ~c >>> 0
    }
    const random = seededRandom(12345)
    const bytes = (n: number): Buffer => randomBytes(random, n)
    for (const n of [0, 1, 100, NATIVE_CRC_FROM - 1, NATIVE_CRC_FROM, NATIVE_CRC_FROM + 1, 4096, 70_000]) {
      const b = bytes(n)
      expect(crc32c(b)).toBe(bitwise(b))
      for (const cut of [0, 1, Math.floor(n / 2), NATIVE_CRC_FROM, n]) {
        if (cut > n) continue
        expect(crc32c(b.subarray(cut), crc32c(b.subarray(0, cut)))).toBe(bitwise(b))
      }
    }
    // Running crcs of 2^31 and above (negative as int32) extend the same way on both paths.
    for (const initial of [0x80000000, 0xe3069283, 0xffffffff]) {
      for (const n of [10, 5000]) {
        const b = bytes(n)
        expect(crc32c(b, initial)).toBe(bitwise(b, initial))
      }
    }
  })

  it('masks and unmasks (LevelDB masking)', () => {
    for (const c of [0, 1, 0xe3069283, 0xffffffff, 0x12345678]) {
      const m = maskCrc(c)
      expect(m).not.toBe(c)
      expect(m).toBeGreaterThanOrEqual(0)
      expect(m).toBeLessThanOrEqual(0xffffffff)
      expect(unmaskCrc(m)).toBe(c)
      expect(maskCrc(maskCrc(c))).not.toBe(c)
    }
    // rot right 15 then + 0xa282ead8, uint32
    expect(maskCrc(1)).toBe(((1 << 17) + 0xa282ead8) >>> 0)
  })
})

describe('varints and fixed ints', () => {
  const values32 = [0, 1, 127, 128, 255, 300, 16383, 16384, 2 ** 21 - 1, 2 ** 21, 2 ** 28, 2 ** 31, 2 ** 32 - 1]
  it('round-trips varint32 at its length boundaries', () => {
    const buf = Buffer.alloc(16)
    for (const v of values32) {
      const end = encodeVarint32(buf, 3, v)
      expect(end - 3).toBe(varintLength(v))
      expect(decodeVarint32(buf, 3)).toEqual({ value: v, offset: end })
    }
  })
  it('round-trips varint64 up to 2^53 - 1', () => {
    const buf = Buffer.alloc(16)
    for (const v of [...values32, 2 ** 32, 2 ** 35 + 7, 2 ** 49, 2 ** 53 - 1]) {
      const end = encodeVarint64(buf, 0, v)
      expect(end).toBe(varintLength(v))
      expect(decodeVarint64(buf, 0)).toEqual({ value: v, offset: end })
    }
    expect(() => encodeVarint64(buf, 0, 2 ** 53)).toThrow(RangeError)
    expect(() => encodeVarint64(buf, 0, -1)).toThrow(RangeError)
  })
  it('round-trips fixed32/fixed64 little-endian', () => {
    const buf = Buffer.alloc(8)
    encodeFixed32(buf, 0, 0x01020304)
    expect([...buf.subarray(0, 4)]).toEqual([4, 3, 2, 1])
    expect(decodeFixed32(buf, 0).value).toBe(0x01020304)
    encodeFixed32(buf, 0, 0xffffffff)
    expect(decodeFixed32(buf, 0).value).toBe(0xffffffff)
    for (const v of [0, 1, 2 ** 32, 2 ** 40 + 5, 2 ** 53 - 1]) {
      encodeFixed64(buf, 0, v)
      expect(buf.readBigUInt64LE(0)).toBe(BigInt(v))
      expect(decodeFixed64(buf, 0)).toEqual({ value: v, offset: 8 })
    }
  })
  it('throws LEVEL_CORRUPTION on truncation and overlong encodings', () => {
    expect(() => decodeVarint32(Buffer.from([0x80, 0x80]), 0)).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION' }))
    expect(() => decodeVarint32(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0)).toThrow(/longer than 5/)
    expect(() => decodeVarint64(Buffer.from([0xff]), 0)).toThrow(/truncated/)
    expect(() => decodeVarint64(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0)).toThrow(/2\^53/)
    expect(() => decodeFixed32(Buffer.alloc(3), 0)).toThrow(/truncated fixed32/)
    expect(() => decodeFixed64(Buffer.alloc(7), 0)).toThrow(/truncated fixed64/)
    expect(() => decodeFixed64(Buffer.alloc(8, 0xff), 0)).toThrow(/2\^53/)
    // The limit is honoured even if the buffer goes on.
    expect(() => decodeVarint32(Buffer.from([0x80, 0x01]), 0, 1)).toThrow(/truncated/)
  })
  it('ByteWriter and ByteReader round-trip a record and report file+offset on truncation', () => {
    const w = new ByteWriter(16)
    w.byte(7); w.varint32(300); w.varint64(2 ** 40); w.fixed32(0xdeadbeef); w.fixed64(2 ** 50); w.lengthPrefixed(Buffer.from('key'))
    w.bytes(Buffer.alloc(1000, 1))
    const buf = w.toBuffer()
    const r = new ByteReader(buf, 'X.log', 100)
    expect(r.byte()).toBe(7)
    expect(r.varint32()).toBe(300)
    expect(r.varint64()).toBe(2 ** 40)
    expect(r.fixed32()).toBe(0xdeadbeef)
    expect(r.fixed64()).toBe(2 ** 50)
    expect(r.lengthPrefixed().toString()).toBe('key')
    expect(r.bytes(1000).every((b) => b === 1)).toBe(true)
    expect(r.remaining).toBe(0)
    try {
      r.fixed32()
      expect.unreachable()
    } catch (err: any) {
      expect(err.code).toBe('LEVEL_CORRUPTION')
      expect(err.file).toBe('X.log')
      expect(err.offset).toBe(100 + buf.length)
      expect(err.message).toContain('X.log')
    }
  })
})

describe('copyBytes and ByteWriter.range', () => {
  it('copy exactly src[s, s + n), short and long, from views at any offset of a larger buffer', () => {
    const random = seededRandom(5)
    const backing = randomBytes(random, 8192)
    for (let t = 0; t < 300; t++) {
      // A view in the middle of its backing memory (as pooled Buffers and arena slices are): bytes outside it
      // must never be read, and dst outside [d, d + n) never written.
      const from = Math.floor(random() * 1000)
      const src = backing.subarray(from, from + 1 + Math.floor(random() * 4000))
      const n = Math.floor(random() * Math.min(src.length, 300))
      const s = Math.floor(random() * (src.length - n + 1))
      const dst = Buffer.alloc(400, 0xee)
      const d = Math.floor(random() * (dst.length - n + 1))
      copyBytes(src, s, dst, d, n)
      const want = Buffer.alloc(400, 0xee)
      src.copy(want, d, s, s + n)
      expect(dst.equals(want)).toBe(true)
      const w = new ByteWriter(16)
      w.byte(7)
      w.range(src, s, s + n)
      expect(w.view().equals(Buffer.concat([Buffer.from([7]), src.subarray(s, s + n)]))).toBe(true)
    }
  })

  it('copy no more than src holds when asked past its end', () => {
    const backing = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')
    const src = backing.subarray(0, 40)
    const dst = Buffer.alloc(64, 0x2e)
    copyBytes(src, 30, dst, 0, 40)
    expect(dst.toString('latin1', 0, 12)).toBe('456789ABCD..')
    const w = new ByteWriter(16)
    w.range(src, 30, 70)
    expect(w.view().subarray(0, 10).toString('latin1')).toBe('456789ABCD')
  })
})
