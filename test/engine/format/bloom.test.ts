import { describe, it, expect } from 'vitest'
import { BloomFilterBuilder, bloomHash, bloomHashOf, bloomMayContain, memoizeBloomHash, probesFor } from '../../../engine/src/sstable/bloom.js'
import { prng } from './sstable-helpers.js'

function key (i: number): Buffer {
  return Buffer.from(`user:${String(i).padStart(8, '0')}`)
}

describe('bloom filter', () => {
  it('has no false negatives and a false-positive rate near 1% at 10 bits/key (100k keys)', () => {
    const n = 100_000
    const b = new BloomFilterBuilder(10)
    for (let i = 0; i < n; i++) b.addKey(key(i))
    const filter = b.finish()
    expect(filter.length).toBe(Math.ceil(n * 10 / 8) + 1)
    expect(filter[filter.length - 1]).toBe(7)
    for (let i = 0; i < n; i++) if (!bloomMayContain(filter, key(i))) expect.unreachable(`false negative for ${key(i).toString()}`)
    let fp = 0
    for (let i = n; i < 2 * n; i++) if (bloomMayContain(filter, key(i))) fp++
    const rate = fp / n
    console.log(`bloom false-positive rate, 10 bits/key, ${n} sequential keys: ${(rate * 100).toFixed(3)}%`)
    expect(rate).toBeGreaterThan(0.003)
    expect(rate).toBeLessThan(0.02)
  })

  it('keeps the rate for random binary keys too', () => {
    const r = prng(5)
    const rnd = (): Buffer => {
      const b = Buffer.allocUnsafe(4 + Math.floor(r() * 20))
      for (let i = 0; i < b.length; i++) b[i] = r() * 256
      return b
    }
    const b = new BloomFilterBuilder(10)
    const added: Buffer[] = []
    for (let i = 0; i < 20_000; i++) { const k = rnd(); added.push(k); b.addKey(k) }
    const filter = b.finish()
    for (const k of added) expect(bloomMayContain(filter, k)).toBe(true)
    let fp = 0
    for (let i = 0; i < 20_000; i++) if (bloomMayContain(filter, rnd())) fp++
    const rate = fp / 20_000
    console.log(`bloom false-positive rate, 10 bits/key, random binary keys: ${(rate * 100).toFixed(3)}%`)
    expect(rate).toBeGreaterThan(0.003)
    expect(rate).toBeLessThan(0.02)
  })

  it('chooses k = round(bits * ln2) clamped to 1..30; fewer bits, more false positives', () => {
    expect(probesFor(10)).toBe(7)
    expect(probesFor(1)).toBe(1)
    expect(probesFor(0.5)).toBe(1)
    expect(probesFor(100)).toBe(30)
    const rate = (bits: number): number => {
      const b = new BloomFilterBuilder(bits)
      for (let i = 0; i < 10_000; i++) b.addKey(key(i))
      const f = b.finish()
      let fp = 0
      for (let i = 10_000; i < 20_000; i++) if (bloomMayContain(f, key(i))) fp++
      return fp / 10_000
    }
    expect(rate(4)).toBeGreaterThan(rate(10))
    expect(rate(20)).toBeLessThan(rate(10))
  })

  it('an empty filter excludes everything; an unknown filter kind (k > 30) excludes nothing', () => {
    const empty = new BloomFilterBuilder(10).finish()
    expect(empty.length).toBe(9) // 64 bits minimum + k
    expect(bloomMayContain(empty, key(1))).toBe(false)
    const future = Buffer.from(empty)
    future[future.length - 1] = 31
    expect(bloomMayContain(future, key(1))).toBe(true)
  })

  it('hashes ranges without copying and matches the whole-buffer hash', () => {
    const k = Buffer.from('xxhello worldyy')
    expect(bloomHash(k, 2, 13)).toBe(bloomHash(Buffer.from('hello world')))
    // every tail length 0..3 contributes
    const seen = new Set<number>()
    for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'abcde']) seen.add(bloomHash(Buffer.from(s)))
    expect(seen.size).toBe(6)
  })
})

describe('bloom hash memo (one hash per point read)', () => {
  it('answers from the memo only for the memoized key object, and only until the read ends', () => {
    const k = Buffer.from('some-key')
    const other = Buffer.from('some-key')
    memoizeBloomHash(k)
    try {
      expect(bloomHashOf(k)).toBe(bloomHash(k))
      expect(bloomHashOf(other)).toBe(bloomHash(other))
    } finally {
      memoizeBloomHash(null)
    }
    // The caller reuses its buffer for another key after the read: hashed afresh.
    k.write('other-ke')
    expect(bloomHashOf(k)).toBe(bloomHash(Buffer.from('other-ke')))
  })
})
