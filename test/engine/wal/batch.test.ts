import { describe, it, expect } from 'vitest'
import { decodeBatch, encodeBatch, batchCount, BATCH_HEADER_SIZE } from '../../../engine/src/wal/batch.js'
import { KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, MAX_SEQUENCE } from '../../../engine/src/keys.js'

const b = (s: string): Buffer => Buffer.from(s)

describe('write batch', () => {
  it('round-trips puts, deletes and range deletes, with empty keys and values', () => {
    const ops = [
      { kind: KIND_VALUE, key: b('a'), value: b('1') },
      { kind: KIND_DELETE, key: b('b') },
      { kind: KIND_RANGE_DELETE, key: b('c'), value: b('f') },
      { kind: KIND_VALUE, key: b(''), value: b('') },
      { kind: KIND_VALUE, key: Buffer.alloc(200, 7), value: Buffer.alloc(70000, 9) }
    ] as const
    const enc = encodeBatch(2 ** 40, ops)
    expect(enc.readBigUInt64LE(0)).toBe(2n ** 40n)
    expect(enc.readUInt32LE(8)).toBe(ops.length)
    expect(batchCount(enc)).toBe(5)
    const dec = decodeBatch(enc)
    expect(dec.seq).toBe(2 ** 40)
    expect(dec.ops).toHaveLength(5)
    dec.ops.forEach((op, i) => {
      expect(op.kind).toBe(ops[i].kind)
      expect(op.key.equals(ops[i].key)).toBe(true)
      if ('value' in ops[i]) expect(op.value!.equals((ops[i] as any).value)).toBe(true)
      else expect(op.value).toBeUndefined()
    })
  })
  it('encodes an empty batch as the bare header', () => {
    const enc = encodeBatch(5, [])
    expect(enc.length).toBe(BATCH_HEADER_SIZE)
    expect(decodeBatch(enc)).toEqual({ seq: 5, ops: [] })
  })
  it('rejects bad input when encoding', () => {
    expect(() => encodeBatch(1, [{ kind: KIND_VALUE, key: b('k') }])).toThrow(expect.objectContaining({ code: 'LEVEL_INVALID_VALUE' }))
    expect(() => encodeBatch(1, [{ kind: 9, key: b('k') }])).toThrow(/unknown batch op kind/)
    expect(() => encodeBatch(MAX_SEQUENCE, [{ kind: KIND_DELETE, key: b('a') }, { kind: KIND_DELETE, key: b('b') }])).toThrow(/out of range/)
  })
  it('throws LEVEL_CORRUPTION with file and offset for every kind of malformed batch', () => {
    const good = encodeBatch(10, [{ kind: KIND_VALUE, key: b('key'), value: b('value') }, { kind: KIND_DELETE, key: b('gone') }])
    const cases: Array<[string, Buffer, RegExp]> = [
      ['too short', good.subarray(0, 11), /too short/],
      ['truncated entry', good.subarray(0, good.length - 2), /truncated/],
      ['trailing bytes', Buffer.concat([good, Buffer.from([0])]), /bytes after/],
      ['huge count', (() => { const x = Buffer.from(good); x.writeUInt32LE(0xffffffff, 8); return x })(), /count/],
      ['count too high', (() => { const x = Buffer.from(good); x.writeUInt32LE(3, 8); return x })(), /truncated|unknown kind/],
      ['count too low', (() => { const x = Buffer.from(good); x.writeUInt32LE(1, 8); return x })(), /bytes after/],
      ['unknown kind', (() => { const x = Buffer.from(good); x[12] = 7; return x })(), /unknown kind 7/],
      ['key length past end', (() => { const x = Buffer.from(good); x[13] = 0x7f; return x })(), /truncated/],
      ['seq overflow', (() => { const x = Buffer.from(good); x.writeUInt32LE(0x1fffff, 12 - 8); x.writeUInt32LE(0xffffffff, 0); return x })(), /overflow|2\^53/]
    ]
    for (const [name, buf, re] of cases) {
      try {
        decodeBatch(buf, '000003.log', 1000)
        expect.unreachable(name)
      } catch (err: any) {
        expect(err.code, name).toBe('LEVEL_CORRUPTION')
        expect(err.message, name).toMatch(re)
        expect(err.file).toBe('000003.log')
        expect(err.offset).toBeGreaterThanOrEqual(1000)
      }
    }
  })
})
