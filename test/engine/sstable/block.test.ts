import { describe, it, expect } from 'vitest'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { Block, BlockEntry } from '../../../engine/src/sstable/block.js'
import { compareInternalKeys, lookupKey, seqOf, KIND_DELETE } from '../../../engine/src/keys.js'
import { ik, sortEntries, collectForward, collectBackward, sameEntries, type Entry } from './sstable-helpers.js'
import { seededRandom } from '../../support/random.mjs'

function build (entries: Entry[], restartInterval: number): Block {
  const b = new BlockBuilder(restartInterval)
  for (const e of entries) b.add(e.key, e.value)
  const est = b.currentSizeEstimate()
  const data = Buffer.from(b.finish())
  expect(data.length).toBe(est)
  return new Block(data, 'test.sst', 1000)
}

function makeEntries (n: number, seed: number): Entry[] {
  const r = seededRandom(seed)
  const entries: Entry[] = []
  const words = ['', 'a', 'ab', 'abc', 'abd', 'b', 'ba', 'zz', 'key-0001', 'key-0002', 'key-00021']
  for (let i = 0; i < n; i++) {
    const base = words[i % words.length] + (i >= words.length ? String(Math.floor(r() * 1000)) : '')
    entries.push({ key: ik(base, Math.floor(r() * 2 ** 40), i % 5 === 0 ? KIND_DELETE : 1), value: Buffer.alloc(Math.floor(r() * 40), i & 0xff) })
  }
  const seen = new Set<string>()
  return sortEntries(entries.filter((e) => !seen.has(e.key.toString('hex')) && seen.add(e.key.toString('hex')) !== undefined))
}

describe('block builder and reader', () => {
  for (const interval of [1, 2, 3, 16, 1000]) {
    it(`iterates forwards and backwards, restart interval ${interval}`, () => {
      const entries = makeEntries(300, interval)
      const block = build(entries, interval)
      expect(sameEntries(collectForward(block.iterator()), entries)).toBe(true)
      expect(sameEntries(collectBackward(block.iterator()), [...entries].reverse())).toBe(true)
    })

    it(`seeks to every key and between keys, restart interval ${interval}`, () => {
      const entries = makeEntries(200, 100 + interval)
      const it = build(entries, interval).iterator()
      for (let i = 0; i < entries.length; i++) {
        it.seek(entries[i].key)
        expect(it.valid()).toBe(true)
        expect(it.key().equals(entries[i].key)).toBe(true)
        // A lookup key for the same user key at a huge snapshot lands at or before this entry.
        const u = entries[i].key.subarray(0, entries[i].key.length - 8)
        it.seek(lookupKey(u, 2 ** 50))
        const first = entries.findIndex((e) => compareInternalKeys(e.key, lookupKey(u, 2 ** 50)) >= 0)
        expect(it.key().equals(entries[first].key)).toBe(true)
        // prev/next alternate correctly from a seek.
        it.seek(entries[i].key)
        if (i > 0) {
          it.prev()
          expect(it.key().equals(entries[i - 1].key)).toBe(true)
          it.next()
        }
        expect(it.key().equals(entries[i].key)).toBe(true)
      }
      it.seek(ik('\xff\xff\xff\xff', 0))
      expect(it.valid()).toBe(false)
      it.seek(ik('', 2 ** 53 - 1, 0xff))
      expect(it.key().equals(entries[0].key)).toBe(true)
      it.prev()
      expect(it.valid()).toBe(false)
      it.seekToLast()
      it.next()
      expect(it.valid()).toBe(false)
    })
  }

  it('an empty block is empty', () => {
    const block = build([], 16)
    const it = block.iterator()
    it.seekToFirst(); expect(it.valid()).toBe(false)
    it.seekToLast(); expect(it.valid()).toBe(false)
    it.seek(ik('a', 1)); expect(it.valid()).toBe(false)
  })

  it('keys survive the cursor moving on (key() is a stable copy or an immutable view)', () => {
    const entries = makeEntries(50, 7)
    const it = build(entries, 4).iterator()
    const keys: Buffer[] = []
    for (it.seekToFirst(); it.valid(); it.next()) keys.push(it.key())
    expect(keys.every((k, i) => k.equals(entries[i].key))).toBe(true)
  })

  it('rejects damaged blocks with LEVEL_CORRUPTION naming file and offset', () => {
    const entries = makeEntries(40, 3)
    const good = Buffer.from(build(entries, 4).data)
    // Restart count beyond the block.
    const a = Buffer.from(good); a.writeUInt32LE(1e6, a.length - 4)
    expect(() => new Block(a, 'x.sst', 0)).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION', file: 'x.sst' }))
    expect(() => new Block(Buffer.alloc(3), 'x.sst', 0)).toThrow(/too short/)
    // A restart offset pointing outside the entries.
    const b = Buffer.from(good); b.writeUInt32LE(0xffff, b.length - 8)
    expect(() => { const it = new Block(b, 'x.sst', 0).iterator(); it.seekToLast() }).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION' }))
    // An entry whose lengths run past the entries.
    const c = Buffer.from(good); c[1] = 0xff; c[2] = 0xff; c[3] = 0x7f
    expect(() => collectForward(new Block(c, 'x.sst', 0).iterator())).toThrow(/bad block entry/)
    // An entry sharing more bytes than the previous key has.
    const d = Buffer.from(good); d[0] = 5
    expect(() => collectForward(new Block(d, 'x.sst', 0).iterator())).toThrow(/shares 5 bytes/)
  })
})

/**
 * Entries built to stress point lookups that compare without rebuilding keys: user keys that are prefixes
 * of one another, bytes equal to trailer bytes (0x00, 0x01, 0xff), many versions of one user key whose
 * trailers share leading bytes, and long shared prefixes.
 */
function trickyEntries (n: number, seed: number): Entry[] {
  const r = seededRandom(seed)
  const alphabet = [0x00, 0x01, 0x02, 0x61, 0x62, 0xfe, 0xff]
  const seen = new Set<string>()
  const entries: Entry[] = []
  while (entries.length < n) {
    const len = Math.floor(r() * 5)
    const u = Buffer.alloc(len)
    for (let i = 0; i < len; i++) u[i] = alphabet[Math.floor(r() * alphabet.length)]
    const versions = 1 + Math.floor(r() * 4)
    for (let v = 0; v < versions; v++) {
      // Sequences close together share trailer bytes; a few are far apart.
      const seq = r() < 0.8 ? 1000 + Math.floor(r() * 8) : Math.floor(r() * 2 ** 40)
      const key = ik(u, seq, r() < 0.3 ? KIND_DELETE : 1)
      const h = key.toString('hex')
      if (seen.has(h)) continue
      seen.add(h)
      entries.push({ key, value: Buffer.from(String(entries.length)) })
    }
  }
  return sortEntries(entries)
}

/** What find() must answer: the first entry >= target, by brute force. */
function expectFindAgrees (block: Block, entries: Entry[], target: Buffer): void {
  const e = new BlockEntry()
  const want = entries.findIndex((x) => compareInternalKeys(x.key, target) >= 0)
  const got = block.find(target, target.length, e)
  expect(got).toBe(want >= 0)
  if (want < 0) return
  const wantKey = entries[want].key
  const u = target.subarray(0, target.length - 8)
  const matches = wantKey.length === target.length && wantKey.subarray(0, u.length).equals(u)
  expect(e.matches).toBe(matches)
  expect(block.data.subarray(e.valueOffset, e.valueOffset + e.valueLength).equals(entries[want].value)).toBe(true)
  if (matches) expect(e.internalKey(u).equals(wantKey)).toBe(true)
}

describe('block point lookups (find)', () => {
  for (const interval of [1, 2, 5, 16]) {
    it(`agrees with a brute-force search on tricky keys, restart interval ${interval}`, () => {
      for (let round = 0; round < 4; round++) {
        const entries = trickyEntries(150, 31 * interval + round)
        expectLookupsAgree(build(entries, interval), entries, 7 + round)
      }
    })

    it(`agrees with a brute-force search on tricky keys through a search index, restart interval ${interval}`, () => {
      for (let round = 0; round < 4; round++) {
        const entries = trickyEntries(150, 31 * interval + round)
        const indexed = build(entries, interval).withSearchIndex()
        expect(indexed).not.toBeNull()
        expect(indexed!.searchIndexAt).toBeGreaterThan(0)
        expectLookupsAgree(indexed!, entries, 7 + round)
      }
    })
  }

  it('answers like the restart search through a search index: numbered keys, long shared prefixes, long values', () => {
    const r = seededRandom(99)
    const shapes: Array<(i: number) => string> = [
      (i) => String(2 * i).padStart(16, '0'),
      (i) => 'user:' + 'x'.repeat(300) + ':' + String(i * 7).padStart(9, '0') + ':profile',
      (i) => 'p' + String(i * 13).padStart(5, '0') + 'suffix-after-the-window'
    ]
    for (const shape of shapes) {
      for (const valueSize of [10, 100, 300]) {
        const entries: Entry[] = []
        for (let i = 0; i < 40; i++) {
          // Most keys once, some in several versions.
          for (let v = 0; v < (i % 5 === 0 ? 3 : 1); v++) {
            entries.push({ key: ik(shape(1000 + i), 100 + 10 * i - v, v === 1 ? KIND_DELETE : 1), value: Buffer.alloc(valueSize, i + v) })
          }
        }
        const sorted = sortEntries(entries)
        for (const interval of [1, 16]) {
          const block = build(sorted, interval)
          const indexed = block.withSearchIndex()!
          expect(indexed.size).toBe(block.size)
          expectLookupsAgree(indexed, sorted, 5 + valueSize)
          for (let i = 0; i < 45; i++) {
            const u = Buffer.from(shape(995 + i))
            for (const seq of [0, 100 + 10 * (i - 5) - 1, 2 ** 50]) expectFindAgrees(indexed, sorted, lookupKey(u, Math.max(0, seq + Math.floor(r() * 2))))
          }
        }
      }
    }
  })

  it('a lookup through the search index lands on its entry without the restart search or a scan', () => {
    const entries: Entry[] = []
    for (let i = 0; i < 64; i++) entries.push({ key: ik(String(2 * i).padStart(16, '0'), 5), value: Buffer.from(`v${i}`) })
    const indexed = build(entries, 16).withSearchIndex()!
    // Damage every restart offset: whatever reads the restart array now fails.
    const d = indexed.data
    for (let i = 0; i < indexed.numRestarts; i++) d.writeUInt32LE(0xfffff, indexed.restartsOffset + 4 * i)
    const e = new BlockEntry()
    for (let i = 0; i < 64; i++) {
      const u = Buffer.from(String(2 * i).padStart(16, '0'))
      expect(indexed.find(lookupKey(u, 10), 24, e)).toBe(true)
      expect(e.matches).toBe(true)
      expect(d.toString('latin1', e.valueOffset, e.valueOffset + e.valueLength)).toBe(`v${i}`)
      // A key between two present ones: the next entry, not a match.
      const between = Buffer.from(String(2 * i + 1).padStart(16, '0'))
      expect(indexed.find(lookupKey(between, 10), 24, e)).toBe(i < 63)
      if (i < 63) expect(e.matches).toBe(false)
    }
    // A snapshot older than the entry needs the versions after it: that takes the scan, which meets the damage.
    expect(() => indexed.find(lookupKey(Buffer.from(String(20).padStart(16, '0')), 4), 24, e)).toThrow(expect.objectContaining({ code: 'LEVEL_CORRUPTION' }))
  })

  it('a block whose offsets do not fit the index, or whose entries do not parse, gets no search index', () => {
    const big = build([{ key: ik('a', 1), value: Buffer.alloc(70000) }, { key: ik('b', 1), value: Buffer.alloc(1) }], 16)
    expect(big.withSearchIndex()).toBeNull()
    const entries = makeEntries(40, 3)
    const good = Buffer.from(build(entries, 4).data)
    // An entry sharing more bytes than the previous key has: no index, and find reports the damage as before.
    const d = Buffer.from(good); d[0] = 5
    const damaged = new Block(d, 'x.sst', 0)
    expect(damaged.withSearchIndex()).toBeNull()
    expect(() => damaged.find(entries[0].key, entries[0].key.length, new BlockEntry())).toThrow(/shares 5 bytes/)
  })
})

/** find() on block agrees with brute force for every entry's key and the keys around it. */
function expectLookupsAgree (block: Block, entries: Entry[], seed: number): void {
  const r = seededRandom(seed)
  for (const x of entries) {
    const u = x.key.subarray(0, x.key.length - 8)
    const seq = seqOf(x.key)
    expectFindAgrees(block, entries, x.key)
    for (const s of [seq, seq + 1, seq - 1, 0, 2 ** 50, 1003]) if (s >= 0) expectFindAgrees(block, entries, lookupKey(u, s))
    // A user key next to this one: a byte more, or the last byte bumped.
    expectFindAgrees(block, entries, lookupKey(Buffer.concat([u, Buffer.from([Math.floor(r() * 256)])]), 2 ** 50))
    if (u.length > 0) {
      const v = Buffer.from(u); v[v.length - 1] = (v[v.length - 1] + 1) & 0xff
      expectFindAgrees(block, entries, lookupKey(v, 1000 + Math.floor(r() * 8)))
    }
  }
  expectFindAgrees(block, entries, lookupKey(Buffer.alloc(0), 0))
  expectFindAgrees(block, entries, lookupKey(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff]), 0))
}

describe('block point lookups on ordinary keys', () => {
  it('finds in blocks of ordinary keys and misses past the end', () => {
    const entries = makeEntries(300, 5)
    const block = build(entries, 16)
    for (const x of entries) expectFindAgrees(block, entries, x.key)
    const past = ik(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0)
    expect(block.find(past, past.length, new BlockEntry())).toBe(false)
    expect(build([], 16).find(ik('a', 1), 9, new BlockEntry())).toBe(false)
  })
})

describe('block cursor stepping', () => {
  it('any mix of next, prev and seeks visits the neighbours a sorted array says', () => {
    for (const interval of [1, 3, 16]) {
      const entries = trickyEntries(200, interval)
      const it = build(entries, interval).iterator()
      const r = seededRandom(interval)
      let pos = -1
      for (let step = 0; step < 3000; step++) {
        const c = r()
        if (pos < 0 || c < 0.05) {
          const t = Math.floor(r() * entries.length)
          it.seek(entries[t].key); pos = t
        } else if (c < 0.08) {
          it.seekToLast(); pos = entries.length - 1
        } else if (c < 0.1) {
          it.seekToFirst(); pos = 0
        } else if (c < 0.55) {
          it.next(); pos = pos + 1 < entries.length ? pos + 1 : -1
        } else {
          it.prev(); pos = pos - 1
        }
        expect(it.valid()).toBe(pos >= 0)
        if (pos >= 0) {
          expect(it.key().equals(entries[pos].key)).toBe(true)
          expect(it.value().equals(entries[pos].value)).toBe(true)
        }
      }
    }
  })
})
