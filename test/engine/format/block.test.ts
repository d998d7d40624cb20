import { describe, it, expect } from 'vitest'
import { BlockBuilder } from '../../../engine/src/sstable/block-builder.js'
import { Block } from '../../../engine/src/sstable/block.js'
import { compareInternalKeys, lookupKey, KIND_DELETE } from '../../../engine/src/keys.js'
import { ik, sortEntries, collectForward, collectBackward, sameEntries, prng, type Entry } from './sstable-helpers.js'

function build (entries: Entry[], restartInterval: number): Block {
  const b = new BlockBuilder(restartInterval)
  for (const e of entries) b.add(e.key, e.value)
  const est = b.currentSizeEstimate()
  const data = Buffer.from(b.finish())
  expect(data.length).toBe(est)
  return new Block(data, 'test.sst', 1000)
}

function makeEntries (n: number, seed: number): Entry[] {
  const r = prng(seed)
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
    const c = Buffer.from(good); c[1] = 0x7f; c[2] = 0x7f
    expect(() => collectForward(new Block(c, 'x.sst', 0).iterator())).toThrow(/bad block entry/)
    // An entry sharing more bytes than the previous key has.
    const d = Buffer.from(good); d[0] = 5
    expect(() => collectForward(new Block(d, 'x.sst', 0).iterator())).toThrow(/shares 5 bytes/)
  })
})
