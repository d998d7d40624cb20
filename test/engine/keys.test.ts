import { describe, it, expect } from 'vitest'
import {
  compareInternalKeys, compareUserKeys, kindOf, KIND_DELETE, KIND_RANGE_DELETE, KIND_SEEK, KIND_VALUE,
  lookupKey, makeInternalKey, MAX_SEQUENCE, seqOf, shortestSeparator, shortSuccessor, userKeyOf
} from '../../engine/src/keys.js'

const ik = (k: string, seq: number, kind: number = KIND_VALUE): Buffer => makeInternalKey(Buffer.from(k), seq, kind)

describe('internal keys', () => {
  it('pack seq and kind into a little-endian trailer and read them back', () => {
    for (const seq of [0, 1, 255, 256, 2 ** 24 - 1, 2 ** 24, 2 ** 32 + 3, MAX_SEQUENCE]) {
      for (const kind of [KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE, KIND_SEEK]) {
        const k = ik('user', seq, kind)
        expect(userKeyOf(k).toString()).toBe('user')
        expect(seqOf(k)).toBe(seq)
        expect(kindOf(k)).toBe(kind)
        expect(k.readBigUInt64LE(4)).toBe(BigInt(seq) * 256n + BigInt(kind))
      }
    }
  })
  it('userKeyOf is a view, not a copy', () => {
    const k = ik('abc', 5)
    const u = userKeyOf(k)
    expect(u.buffer).toBe(k.buffer)
    expect(u.byteOffset).toBe(k.byteOffset)
  })
  it('orders user keys bytewise, prefixes first ("a" < "ab"), whatever the seq', () => {
    expect(compareInternalKeys(ik('a', 1), ik('ab', 100))).toBeLessThan(0)
    expect(compareInternalKeys(ik('ab', 100), ik('a', 1))).toBeGreaterThan(0)
    // The trailer must not leak into the user-key comparison: 'a'+trailer vs 'a\x00'.
    expect(compareInternalKeys(ik('a', MAX_SEQUENCE), makeInternalKey(Buffer.from([0x61, 0]), 0, 0))).toBeLessThan(0)
    expect(compareInternalKeys(ik('b', 1), ik('ab', 1))).toBeGreaterThan(0)
    expect(compareInternalKeys(makeInternalKey(Buffer.from([0xff]), 1, 1), ik('zzz', 1))).toBeGreaterThan(0)
    expect(compareUserKeys(Buffer.from('a'), Buffer.from('ab'))).toBeLessThan(0)
  })
  it('orders equal user keys by seq descending, then kind descending', () => {
    expect(compareInternalKeys(ik('k', 10), ik('k', 9))).toBeLessThan(0)
    expect(compareInternalKeys(ik('k', 2 ** 40), ik('k', 2 ** 24))).toBeLessThan(0)
    expect(compareInternalKeys(ik('k', 256), ik('k', 255))).toBeLessThan(0)
    expect(compareInternalKeys(ik('k', 5, KIND_VALUE), ik('k', 5, KIND_DELETE))).toBeLessThan(0)
    expect(compareInternalKeys(ik('k', 5, KIND_SEEK), ik('k', 5, KIND_RANGE_DELETE))).toBeLessThan(0)
    expect(compareInternalKeys(ik('k', 5), ik('k', 5))).toBe(0)
  })
  it('a lookup key lands on the newest entry at or below the snapshot', () => {
    const entries = [ik('a', 9), ik('k', 12), ik('k', 7, KIND_DELETE), ik('k', 3), ik('ka', 20)].sort(compareInternalKeys)
    const seekFirst = (t: Buffer): Buffer | undefined => entries.find((e) => compareInternalKeys(e, t) >= 0)
    expect(seqOf(seekFirst(lookupKey(Buffer.from('k'), 100))!)).toBe(12)
    expect(seqOf(seekFirst(lookupKey(Buffer.from('k'), 12))!)).toBe(12)
    expect(seqOf(seekFirst(lookupKey(Buffer.from('k'), 11))!)).toBe(7)
    expect(seqOf(seekFirst(lookupKey(Buffer.from('k'), 3))!)).toBe(3)
    expect(userKeyOf(seekFirst(lookupKey(Buffer.from('k'), 2))!).toString()).toBe('ka')
  })
  it('shortest separator and short successor stay between their bounds', () => {
    const cases: Array<[Buffer, Buffer]> = [
      [ik('abcdef', 5), ik('abzzz', 9)],
      [ik('abc', 5), ik('abd', 9)],
      [ik('abc', 5), ik('abc', 4)],
      [ik('a', 5), ik('ab', 9)],
      [ik('a\xff', 5), ik('b', 9)],
      [makeInternalKey(Buffer.from([1, 0xff, 3]), 1, 1), makeInternalKey(Buffer.from([1, 0xff, 9]), 1, 1)]
    ]
    for (const [a, b] of cases) {
      const s = shortestSeparator(a, b)
      expect(compareInternalKeys(a, s)).toBeLessThanOrEqual(0)
      expect(compareInternalKeys(s, b)).toBeLessThan(0)
      expect(s.length).toBeLessThanOrEqual(a.length)
    }
    expect(userKeyOf(shortestSeparator(ik('abcdef', 5), ik('abzzz', 9))).toString()).toBe('abd')
    for (const k of [ik('abc', 1), ik('\xff\xff', 3), makeInternalKey(Buffer.from([0xff, 0xff]), 3, 1), ik('', 0)]) {
      expect(compareInternalKeys(k, shortSuccessor(k))).toBeLessThanOrEqual(0)
    }
    expect(userKeyOf(shortSuccessor(ik('abc', 1))).toString()).toBe('b')
  })
})
