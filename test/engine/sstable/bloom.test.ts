import { describe, it, expect } from 'vitest'
import { BloomFilterBuilder, BloomProbe, bloomHash, bloomMayContain, describeFilter, localHash, probesFor } from '../../../engine/src/sstable/bloom.js'
import { seededRandom } from '../../support/random.mjs'

function key (i: number): Buffer {
  return Buffer.from(`user:${String(i).padStart(8, '0')}`)
}

/** A source of random binary keys of 4..23 bytes, the same for the same seed. */
function randomKeys (seed: number): () => Buffer {
  const r = seededRandom(seed)
  return () => {
    const b = Buffer.allocUnsafe(4 + Math.floor(r() * 20))
    for (let i = 0; i < b.length; i++) b[i] = r() * 256
    return b
  }
}

describe('bloom filter, classic kind (still read)', () => {
  it('has no false negatives and a false-positive rate near 1% at 10 bits/key (100k keys)', () => {
    const n = 100_000
    const b = new BloomFilterBuilder(10, 'classic')
    for (let i = 0; i < n; i++) b.addKey(key(i))
    const filter = b.finish()
    expect(filter.length).toBe(Math.ceil(n * 10 / 8) + 1)
    expect(filter[filter.length - 1]).toBe(7)
    for (let i = 0; i < n; i++) if (!bloomMayContain(filter, key(i))) expect.unreachable(`false negative for ${key(i).toString()}`)
    let fp = 0
    for (let i = n; i < 2 * n; i++) if (bloomMayContain(filter, key(i))) fp++
    const rate = fp / n
    expect(rate).toBeGreaterThan(0.003)
    expect(rate).toBeLessThan(0.02)
  })

  it('keeps the rate for random binary keys too', () => {
    const rnd = randomKeys(5)
    const b = new BloomFilterBuilder(10, 'classic')
    const added: Buffer[] = []
    for (let i = 0; i < 20_000; i++) { const k = rnd(); added.push(k); b.addKey(k) }
    const filter = b.finish()
    for (const k of added) expect(bloomMayContain(filter, k)).toBe(true)
    let fp = 0
    for (let i = 0; i < 20_000; i++) if (bloomMayContain(filter, rnd())) fp++
    const rate = fp / 20_000
    expect(rate).toBeGreaterThan(0.003)
    expect(rate).toBeLessThan(0.02)
  })

  it('chooses k = round(bits * ln2) clamped to 1..30; fewer bits, more false positives', () => {
    expect(probesFor(10)).toBe(7)
    expect(probesFor(1)).toBe(1)
    expect(probesFor(0.5)).toBe(1)
    expect(probesFor(100)).toBe(30)
    const rate = (bits: number): number => {
      const b = new BloomFilterBuilder(bits, 'classic')
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
    const empty = new BloomFilterBuilder(10, 'classic').finish()
    expect(empty.length).toBe(9) // 64 bits minimum + k
    expect(bloomMayContain(empty, key(1))).toBe(false)
    const future = Buffer.from(empty)
    future[future.length - 1] = 31
    expect(bloomMayContain(future, key(1))).toBe(true)
  })

  it('hashes ranges without copying and matches the whole-buffer hash (both kinds\' hashes)', () => {
    for (const hash of [bloomHash, localHash]) {
      const k = Buffer.from('xxhello worldyy')
      expect(hash(k, 2, 13)).toBe(hash(Buffer.from('hello world')))
      // every tail length 0..3 contributes
      const seen = new Set<number>()
      for (const s of ['', 'a', 'ab', 'abc', 'abcd', 'abcde']) seen.add(hash(Buffer.from(s)))
      expect(seen.size).toBe(6)
    }
  })
})

describe('bloom filter, cache-local kind (written by default)', () => {
  const build = (keys: Buffer[]): Buffer => {
    const b = new BloomFilterBuilder(10)
    for (const k of keys) b.addKey(k)
    return b.finish()
  }
  const range = (from: number, to: number, f: (i: number) => Buffer): Buffer[] => Array.from({ length: to - from }, (_, i) => f(from + i))

  it('lays out 64-byte lines, then k and the kind byte 0xff', () => {
    const f = build(range(0, 100_000, key))
    expect(f.length).toBe(Math.ceil(100_000 * 10 / 512) * 64 + 2)
    expect([f[f.length - 2], f[f.length - 1]]).toEqual([7, 0xff])
    expect(describeFilter(f)).toEqual({ kind: 'cache-local', probes: 7 })
    expect(describeFilter(new BloomFilterBuilder(10, 'classic').finish())).toEqual({ kind: 'classic', probes: 7 })
  })

  it('builders that reuse an earlier builder\'s hash array lay out the same filter as before, and a builder is done after finish()', () => {
    const small = range(0, 500, key)
    const first = build(small)
    // A large table's builder grows its array; the next builders take it back with stale hashes beyond their own.
    build(range(1000, 70_000, key))
    expect(build(small).equals(first)).toBe(true)
    for (const kind of ['cache-local', 'classic'] as const) {
      const b = new BloomFilterBuilder(10, kind)
      b.addKey(key(1))
      b.finish()
      expect(() => b.finish()).toThrow(/finish\(\) called twice/)
      expect(() => b.addKey(key(2))).toThrow(/after finish\(\)/)
    }
  })

  it('has no false negatives and about 1% false positives, also for keys that differ only in their last digit', () => {
    // Decimal counters, present keys even and probes odd: LevelDB's hash (the classic kind's) collides on
    // such neighbours, which put the classic kind at about 6% here.
    const even = (i: number): Buffer => Buffer.from(String(2 * i).padStart(16, '0'))
    const odd = (i: number): Buffer => Buffer.from(String(2 * i + 1).padStart(16, '0'))
    const n = 100_000
    const f = build(range(0, n, even))
    for (let i = 0; i < n; i++) if (!bloomMayContain(f, even(i))) expect.unreachable(`false negative for ${even(i).toString()}`)
    let fp = 0
    for (let i = 0; i < n; i++) if (bloomMayContain(f, odd(i))) fp++
    const rate = fp / n
    expect(rate).toBeGreaterThan(0.003)
    expect(rate).toBeLessThan(0.015)
    const classic = new BloomFilterBuilder(10, 'classic')
    for (let i = 0; i < n; i++) classic.addKey(even(i))
    const cf = classic.finish()
    let cfp = 0
    for (let i = 0; i < n; i++) if (bloomMayContain(cf, odd(i))) cfp++
    expect(cfp).toBeGreaterThan(fp * 2)
  })

  it('keeps the rate for random binary keys, and for few keys (one line)', () => {
    const rnd = randomKeys(9)
    const added = range(0, 20_000, rnd)
    const f = build(added)
    for (const k of added) expect(bloomMayContain(f, k)).toBe(true)
    let fp = 0
    for (let i = 0; i < 20_000; i++) if (bloomMayContain(f, rnd())) fp++
    expect(fp / 20_000).toBeLessThan(0.02)
    const small = build(range(0, 20, key))
    expect(small.length).toBe(64 + 2)
    for (let i = 0; i < 20; i++) expect(bloomMayContain(small, key(i))).toBe(true)
  })

  it('an empty filter excludes everything; unknown kinds and cut lines exclude nothing', () => {
    const empty = build([])
    expect(empty.length).toBe(66)
    expect(bloomMayContain(empty, key(1))).toBe(false)
    for (const last of [31, 0x80, 0xfe]) {
      const future = Buffer.from(empty)
      future[future.length - 1] = last
      expect(bloomMayContain(future, key(1))).toBe(true)
      expect(describeFilter(future).kind).toBe('unknown')
    }
    const cut = Buffer.from([0, 0, 0, 7, 0xff])
    expect(bloomMayContain(cut, key(1))).toBe(true)
  })

  it('hashes with murmur3 (x86, 32-bit)', () => {
    // Published murmur3_x86_32 values (seed 0): a wrong rotation, constant or tail order changes them.
    expect(localHash(Buffer.alloc(0), 0, 0, 0)).toBe(0)
    expect(localHash(Buffer.from('hello'), 0, 5, 0)).toBe(0x248bfa47)
    expect(localHash(Buffer.from('hello world'), 0, 11, 0)).toBe(0x5e928f0f)
    const fox = Buffer.from('The quick brown fox jumps over the lazy dog')
    expect(localHash(fox, 0, fox.length, 0)).toBe(0x2e4ff723)
  })
})

describe('bloom probe (each hash once per point read)', () => {
  it('answers as the filter does without it, for both kinds, and hashes afresh once reset for a rewritten key', () => {
    const keys = range2(0, 500)
    const local = new BloomFilterBuilder(10)
    const classic = new BloomFilterBuilder(10, 'classic')
    for (const k of keys) { local.addKey(k); classic.addKey(k) }
    const filters = [local.finish(), classic.finish()]
    const probe = new BloomProbe()
    for (let i = 0; i < 1000; i++) {
      const k = key(i)
      probe.reset(k)
      for (const f of filters) {
        expect(probe.mayMatch(f)).toBe(bloomMayContain(f, k))
        expect(probe.mayMatch(f)).toBe(bloomMayContain(f, k))
      }
    }
    // The caller reuses its buffer for another key after the read: hashed afresh.
    const k = Buffer.from(key(3))
    probe.reset(k)
    expect(probe.mayMatch(filters[0])).toBe(true)
    k.write(key(100_000).toString())
    probe.reset(k)
    expect(probe.mayMatch(filters[0])).toBe(bloomMayContain(filters[0], key(100_000)))
    expect(bloomHash(k)).toBe(bloomHash(key(100_000)))
  })
})

function range2 (from: number, to: number): Buffer[] {
  return Array.from({ length: to - from }, (_, i) => key(from + i))
}
