import { describe, it, expect } from 'vitest'
import { randomBytes } from 'node:crypto'
import { compareInternalKeys, KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, lookupKey, seqOf, kindOf, userKeyOf } from '../../../engine/src/keys.js'
import { BlockCache } from '../../../engine/src/sstable/block-cache.js'
import { TableBuilder } from '../../../engine/src/sstable/table-builder.js'
import { MemoryFileSystem } from '../../../engine/src/fs/memory.js'
import { Table } from '../../../engine/src/sstable/table.js'
import { buildTable, openTable, ik, sortEntries, collectForward, collectBackward, sameEntries, type Entry } from './sstable-helpers.js'
import { seededRandom } from '../../support/random.mjs'

/** Keys that are prefixes of each other, several versions each, all kinds. */
function versionedEntries (): Entry[] {
  const entries: Entry[] = []
  const users = ['a', 'ab', 'abc', 'abcd', 'b', 'ba', 'c', 'k\x00', 'k', 'zzzz']
  users.forEach((u, ui) => {
    for (let v = 0; v < 6; v++) {
      const seq = 10 * v + ui + 1
      const kind = v === 2 ? KIND_DELETE : v === 4 && ui === 3 ? KIND_RANGE_DELETE : KIND_VALUE
      entries.push({ key: ik(u, seq, kind), value: Buffer.from(kind === KIND_DELETE ? '' : `${u}@${seq}`) })
    }
  })
  return sortEntries(entries)
}

/** The reference answer for get(): the first entry >= lookup key, if its user key matches. */
function refGet (entries: Entry[], user: Buffer, snap: number): Entry | undefined {
  const t = lookupKey(user, snap)
  const e = entries.find((x) => compareInternalKeys(x.key, t) >= 0)
  return e !== undefined && userKeyOf(e.key).equals(user) ? e : undefined
}

describe('table builder and reader', () => {
  for (const blockSize of [1, 64, 200, 4096]) {
    for (const restartInterval of [1, 3, 16]) {
      it(`round-trips (blockSize ${blockSize}, restart ${restartInterval}): iteration, seek, get at every snapshot`, () => {
        const entries = versionedEntries()
        const { fs, path, props } = buildTable(entries, { blockSize, restartInterval })
        const t = openTable(fs, path)
        expect(props.fileSize).toBe(fs.stat(path).size)
        if (blockSize === 1) expect(t.properties.dataBlocks).toBe(entries.length)
        expect(sameEntries(collectForward(t.newIterator()), entries)).toBe(true)
        expect(sameEntries(collectBackward(t.newIterator()), [...entries].reverse())).toBe(true)

        const it = t.newIterator()
        for (let i = 0; i < entries.length; i++) {
          it.seek(entries[i].key)
          expect(it.key().equals(entries[i].key)).toBe(true)
          // next/prev across block boundaries
          it.prev()
          if (i === 0) expect(it.valid()).toBe(false)
          else expect(it.key().equals(entries[i - 1].key)).toBe(true)
          it.seek(entries[i].key)
          it.next()
          if (i === entries.length - 1) expect(it.valid()).toBe(false)
          else {
            expect(it.key().equals(entries[i + 1].key)).toBe(true)
            it.prev()
            expect(it.key().equals(entries[i].key)).toBe(true)
          }
        }
        it.seek(ik('zzzzz', 1))
        expect(it.valid()).toBe(false)
        it.seek(ik('', 0))
        expect(it.key().equals(entries[0].key)).toBe(true)
        it.close()

        for (const u of ['a', 'ab', 'abc', 'abcd', 'abcde', 'b', 'ba', 'c', 'k', 'k\x00', 'zzzz', '', 'aa', 'zzzzz']) {
          for (const snap of [0, 1, 5, 10, 11, 14, 21, 30, 31, 44, 55, 60, 100, 2 ** 53 - 1]) {
            const user = Buffer.from(u)
            const want = refGet(entries, user, snap)
            const got = t.get(user, snap)
            if (want === undefined) expect(got, `${u}@${snap}`).toBeUndefined()
            else {
              expect(got?.key.equals(want.key), `${u}@${snap}`).toBe(true)
              expect(got?.value.equals(want.value)).toBe(true)
            }
          }
        }
        expect(t.checkAllBlocks()).toEqual({ dataBlocks: t.properties.dataBlocks, entries: entries.length })
      })
    }
  }

  it('finds versions of one user key that straddle many blocks', () => {
    const entries: Entry[] = []
    for (let s = 500; s >= 1; s--) entries.push({ key: ik('hot', s), value: Buffer.from(`v${s}`) })
    entries.unshift({ key: ik('cold', 7), value: Buffer.from('c') })
    entries.push({ key: ik('hotter', 3), value: Buffer.from('h') })
    const { fs, path } = buildTable(entries, { blockSize: 100, restartInterval: 2 })
    const t = openTable(fs, path)
    expect(t.properties.dataBlocks).toBeGreaterThan(20)
    for (const snap of [1, 2, 77, 250, 499, 500, 1000]) {
      const got = t.get(Buffer.from('hot'), snap)
      expect(seqOf(got!.key)).toBe(Math.min(snap, 500))
      expect(got!.value.toString()).toBe(`v${Math.min(snap, 500)}`)
    }
    expect(t.get(Buffer.from('hot'), 0)).toBeUndefined()
    expect(t.get(Buffer.from('hotter'), 2)).toBeUndefined()
    expect(t.get(Buffer.from('hotter'), 3)?.value.toString()).toBe('h')
  })

  it('stores 0-byte and 1 MiB values and empty user keys', () => {
    const big = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff
    const entries = sortEntries([
      { key: ik('', 1), value: Buffer.from('empty key') },
      { key: ik('big', 2), value: big },
      { key: ik('big2', 3), value: Buffer.from(big.subarray(1)) },
      { key: ik('zero', 4), value: Buffer.alloc(0) }
    ])
    const { fs, path } = buildTable(entries, { blockSize: 4096 })
    const t = openTable(fs, path)
    expect(t.get(Buffer.alloc(0), 10)?.value.toString()).toBe('empty key')
    expect(t.get(Buffer.from('big'), 10)?.value.equals(big)).toBe(true)
    expect(t.get(Buffer.from('big2'), 10)?.value.length).toBe(big.length - 1)
    const z = t.get(Buffer.from('zero'), 10)
    expect(z?.value.length).toBe(0)
    expect(kindOf(z!.key)).toBe(KIND_VALUE)
    expect(sameEntries(collectBackward(t.newIterator()), [...entries].reverse())).toBe(true)
    expect(t.properties.rawValueBytes).toBe(2 * big.length - 1 + 9)
  })

  it('records properties', () => {
    const entries = versionedEntries()
    const before = Date.now()
    const { fs, path, props } = buildTable(entries, { blockSize: 256, bitsPerKey: 10 })
    const p = openTable(fs, path).properties
    expect(p.entries).toBe(entries.length)
    expect(p.deletions).toBe(entries.filter((e) => kindOf(e.key) === KIND_DELETE).length)
    expect(p.rangeDeletions).toBe(1)
    expect(p.rawKeyBytes).toBe(entries.reduce((s, e) => s + e.key.length, 0))
    expect(p.smallestKey.equals(entries[0].key)).toBe(true)
    expect(p.largestKey.equals(entries[entries.length - 1].key)).toBe(true)
    expect(p.minSequence).toBe(1)
    expect(p.maxSequence).toBe(60)
    expect(p.filterBitsPerKey).toBe(10)
    expect(p.formatVersion).toBe(2)
    expect(p.creationTime).toBeGreaterThanOrEqual(before)
    expect(p.dataBlocks).toBe(props.dataBlocks)
    expect(p.filterBytes).toBeGreaterThan(0)
    expect(p.indexBytes).toBeGreaterThan(0)
    const { smallestKey, largestKey, ...rest } = props
    expect({ ...p, smallestKey: undefined, largestKey: undefined }).toEqual({ ...rest, fileSize: undefined, smallestKey: undefined, largestKey: undefined })
    expect(smallestKey.equals(p.smallestKey) && largestKey.equals(p.largestKey)).toBe(true)
  })

  it('handles an empty table and a table without a filter', () => {
    const { fs, path } = buildTable([])
    const t = openTable(fs, path)
    expect(t.properties.entries).toBe(0)
    expect(t.get(Buffer.from('a'), 100)).toBeUndefined()
    expect(collectForward(t.newIterator())).toEqual([])
    const nf = buildTable(versionedEntries(), { bitsPerKey: 0 })
    const t2 = openTable(nf.fs, nf.path)
    expect(t2.properties.filterBytes).toBe(0)
    expect(t2.mayContain(Buffer.from('nope'))).toBe(true)
    expect(t2.get(Buffer.from('abc'), 100)?.value.toString()).toBe('abc@53')
  })

  it('uses the filter to skip absent keys and approximates offsets monotonically', () => {
    const r = seededRandom(9)
    const entries = sortEntries(Array.from({ length: 3000 }, (_, i) => ({ key: ik(`key${String(i).padStart(6, '0')}`, i + 1), value: Buffer.alloc(Math.floor(r() * 100), 1) })))
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    const { fs, path } = buildTable(entries, { blockSize: 1024 })
    const t = openTable(fs, path, { blockCache: cache })
    let excluded = 0
    for (let i = 0; i < 1000; i++) if (!t.mayContain(Buffer.from(`absent${i}`))) excluded++
    expect(excluded).toBeGreaterThan(950)
    for (const e of entries.slice(0, 100)) expect(t.mayContain(userKeyOf(e.key))).toBe(true)
    expect(cache.misses).toBe(0)
    let last = -1
    for (let i = 0; i < entries.length; i += 97) {
      const off = t.approximateOffsetOf(entries[i].key)
      expect(off).toBeGreaterThanOrEqual(last)
      last = off
    }
    expect(t.approximateOffsetOf(ik('zzz', 1))).toBeGreaterThan(last)
    expect(t.approximateOffsetOf(ik('zzz', 1))).toBeLessThan(t.fileSize)
  })

  it('opened with skipFilter (as compaction inputs are), reads no filter and still finds every key', () => {
    const entries = sortEntries(Array.from({ length: 2000 }, (_, i) => ({ key: ik(`key${String(2 * i).padStart(6, '0')}`, i + 1), value: Buffer.from(`v${i}`) })))
    const { fs, path, props } = buildTable(entries, { blockSize: 1024 })
    const withFilter = openTable(fs, path)
    const t = openTable(fs, path, { skipFilter: true })
    expect(withFilter.memoryBytes - t.memoryBytes).toBe(props.filterBytes)
    expect(t.mayContain(Buffer.from('key000001'))).toBe(true)
    expect(sameEntries(collectForward(t.newIterator()), entries)).toBe(true)
    for (let i = 0; i < 2000; i += 7) expect(t.get(Buffer.from(`key${String(2 * i).padStart(6, '0')}`), 10_000)?.value.toString()).toBe(`v${i}`)
    expect(t.get(Buffer.from('key000001'), 10_000)).toBeUndefined()
  })

  it('reads tables with the classic filter (earlier versions) and the cache-local one alike', () => {
    const entries = sortEntries(Array.from({ length: 2000 }, (_, i) => ({ key: ik(`key${String(2 * i).padStart(6, '0')}`, i + 1), value: Buffer.from(`v${i}`) })))
    for (const filterKind of ['classic', 'cache-local'] as const) {
      const { fs, path, props } = buildTable(entries, { blockSize: 1024, filterKind })
      const t = openTable(fs, path)
      expect(props.filterBytes).toBeGreaterThan(2000 * 10 / 8)
      for (let i = 0; i < 2000; i += 7) expect(t.get(Buffer.from(`key${String(2 * i).padStart(6, '0')}`), 10_000)?.value.toString()).toBe(`v${i}`)
      // Absent keys between present ones: none found, and the filter excludes nearly all of them.
      let found = 0
      let passed = 0
      for (let i = 0; i < 2000; i++) {
        const absent = Buffer.from(`key${String(2 * i + 1).padStart(6, '0')}`)
        if (t.get(absent, 10_000) !== undefined) found++
        if (t.mayContain(absent)) passed++
      }
      expect(found).toBe(0)
      expect(passed).toBeLessThan(60)
    }
  })

  it('LZ4 tables round-trip; a block that would not shrink by 1/8 is stored raw; version-1 tables (raw blocks) still open', () => {
    // Half the values repeat a pattern (compressible), half are random bytes (not): both kinds of block in one table.
    const random = (n: number): Buffer => randomBytes(n)
    const entries = sortEntries(Array.from({ length: 600 }, (_, i) => ({
      key: ik(`key${String(i).padStart(5, '0')}`, i + 1),
      value: i < 300 ? Buffer.from(`value ${i} `.repeat(20)) : random(200 + i)
    })))
    const raw = buildTable(entries, { blockSize: 4096, compression: 'none' })
    const lz4 = buildTable(entries, { blockSize: 4096, compression: 'lz4' })
    const v1 = buildTable(entries, { blockSize: 4096, compression: 'none', formatVersion: 1 })
    expect(lz4.props.fileSize).toBeLessThan(raw.props.fileSize * 0.8)
    // The random half stays raw: the table shrinks by no more than what the compressible half held.
    const compressibleBytes = entries.slice(0, 300).reduce((n, e) => n + e.key.length + e.value.length, 0)
    expect(raw.props.fileSize - lz4.props.fileSize).toBeLessThan(compressibleBytes)
    for (const { fs, path } of [raw, lz4, v1]) {
      const t = openTable(fs, path, { blockCache: new BlockCache({ capacityBytes: 1 << 20 }) })
      expect(sameEntries(collectForward(t.newIterator()), entries)).toBe(true)
      expect(sameEntries(collectBackward(t.newIterator()), [...entries].reverse())).toBe(true)
      expect(sameEntries(collectForward(t.newIterator({ readAhead: true, fillCache: false })), entries)).toBe(true)
      for (const e of entries) expect(t.get(userKeyOf(e.key), 10_000)?.value.equals(e.value)).toBe(true)
      expect(t.checkAllBlocks().entries).toBe(entries.length)
    }
    expect(openTable(v1.fs, v1.path).properties.formatVersion).toBe(1)
    expect(openTable(lz4.fs, lz4.path).properties.formatVersion).toBe(2)
  })

  it('reads through the block cache: hits, misses, fillCache=false, evictFile', () => {
    const entries = versionedEntries()
    const { fs, path } = buildTable(entries, { blockSize: 64 })
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    const t = openTable(fs, path, { blockCache: cache })
    collectForward(t.newIterator({ fillCache: false }))
    expect(cache.stats().entries).toBe(0)
    collectForward(t.newIterator())
    expect(cache.stats().entries).toBe(t.properties.dataBlocks)
    const missesBefore = cache.misses
    expect(t.get(Buffer.from('abc'), 100)?.value.toString()).toBe('abc@53')
    expect(cache.misses).toBe(missesBefore)
    expect(cache.hits).toBeGreaterThan(0)
    cache.evictFile(6)
    expect(cache.stats().entries).toBe(t.properties.dataBlocks)
    cache.evictFile(5)
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 })
    // A tiny cache stays within its budget.
    const small = new BlockCache({ capacityBytes: 500 })
    const t2 = openTable(fs, path, { blockCache: small })
    collectForward(t2.newIterator())
    expect(small.stats().bytes).toBeLessThanOrEqual(500)
    // Disabled cache.
    const none = new BlockCache({ capacityBytes: 0 })
    const t3 = openTable(fs, path, { blockCache: none })
    expect(sameEntries(collectForward(t3.newIterator()), entries)).toBe(true)
    expect(none.stats().entries).toBe(0)
  })

  it('a cached block that point reads come back to is replaced by a copy with a search index; answers and cursors stay the same', () => {
    const entries = versionedEntries()
    const { fs, path } = buildTable(entries, { blockSize: 200, restartInterval: 3 })
    const cache = new BlockCache({ capacityBytes: 1 << 20 })
    const t = openTable(fs, path, { blockCache: cache })
    const blocks = t.properties.dataBlocks
    const indexedBlocks = (table: Table): number => {
      let n = 0
      for (let i = 0; i < blocks; i++) if (table.dataBlockAt(i, true, true, null).searchIndexAt >= 0) n++
      return n
    }
    const lookups = (table: Table): void => {
      for (const u of ['a', 'ab', 'abc', 'abcd', 'abcde', 'b', 'ba', 'c', 'k', 'k\x00', 'zzzz', '', 'aa', 'zzzzz']) {
        for (const snap of [0, 1, 5, 10, 11, 14, 21, 30, 31, 44, 55, 60, 100]) {
          const want = refGet(entries, Buffer.from(u), snap)
          const got = table.get(Buffer.from(u), snap)
          expect(got?.key.toString('hex'), `${u}@${snap}`).toBe(want?.key.toString('hex'))
          expect(got?.value.toString('hex')).toBe(want?.value.toString('hex'))
        }
      }
    }
    // Cursors fill the cache without indexes.
    collectForward(t.newIterator())
    expect(cache.stats().entries).toBe(blocks)
    expect(indexedBlocks(t)).toBe(0)
    const bytes = cache.stats().bytes
    lookups(t)
    // Every block holds a key looked up more than once: each was replaced, none added.
    expect(indexedBlocks(t)).toBe(blocks)
    expect(cache.stats().entries).toBe(blocks)
    expect(cache.stats().bytes).toBeGreaterThan(bytes)
    lookups(t)
    expect(sameEntries(collectForward(t.newIterator()), entries)).toBe(true)
    expect(sameEntries(collectBackward(t.newIterator()), [...entries].reverse())).toBe(true)
    // Without a block cache nothing is indexed (nor copied).
    const uncached = openTable(fs, path)
    lookups(uncached)
    expect(indexedBlocks(uncached)).toBe(0)
  })

  it('rejects keys added out of order, and add after finish', () => {
    const fs = new MemoryFileSystem()
    const f = fs.openWritable('/t.sst')
    const b = new TableBuilder(f, { blockSize: 4096, restartInterval: 16, bitsPerKey: 10, fileName: '/t.sst' })
    b.add(ik('b', 5), Buffer.from('x'))
    expect(() => b.add(ik('a', 9), Buffer.from('y'))).toThrow(expect.objectContaining({ code: 'LEVEL_INVALID_KEY' }))
    expect(() => b.add(ik('b', 5), Buffer.from('y'))).toThrow(/out of order/)
    expect(() => b.add(ik('b', 6), Buffer.from('y'))).toThrow(/out of order/)
    b.add(ik('b', 4), Buffer.from('z'))
    // A user key that extends the previous one comes after it; its prefix, or a smaller key sharing bytes, does not.
    b.add(ik('ba', 9), Buffer.from('z'))
    expect(() => b.add(ik('b', 1), Buffer.from('y'))).toThrow(/out of order/)
    expect(() => b.add(ik('a', 1), Buffer.from('y'))).toThrow(/out of order/)
    b.add(ik('bb', 1), Buffer.from('z'))
    expect(() => b.add(ik('ba', 1), Buffer.from('y'))).toThrow(/out of order/)
    expect(() => b.add(ik('bb', 1), Buffer.from('y'))).toThrow(/out of order/)
    expect(b.estimatedSize).toBeGreaterThan(0)
    b.finish()
    expect(() => b.add(ik('c', 1), Buffer.from('z'))).toThrow()
    f.close()
    expect(Table.open(fs.openReadable('/t.sst'), { fileNumber: 1 }).properties.entries).toBe(4)
  })

  it('random tables match a reference model under seek/next/prev walks', () => {
    const r = seededRandom(42)
    for (let round = 0; round < 5; round++) {
      const seen = new Set<string>()
      const entries: Entry[] = []
      for (let i = 0; i < 800; i++) {
        const len = Math.floor(r() * 6)
        const u = Buffer.from(Array.from({ length: len }, () => 97 + Math.floor(r() * 3)))
        const k = ik(u, Math.floor(r() * 50), r() < 0.2 ? KIND_DELETE : KIND_VALUE)
        if (seen.has(k.toString('hex'))) continue
        seen.add(k.toString('hex'))
        entries.push({ key: k, value: Buffer.alloc(Math.floor(r() * 30), i) })
      }
      sortEntries(entries)
      const { fs, path } = buildTable(entries, { blockSize: 32 + Math.floor(r() * 300), restartInterval: 1 + Math.floor(r() * 8) })
      const t = openTable(fs, path)
      const it = t.newIterator()
      let pos = -1
      for (let step = 0; step < 2000; step++) {
        const op = r()
        if (op < 0.2 || pos < 0 || pos >= entries.length) {
          const target = ik(Buffer.from(Array.from({ length: Math.floor(r() * 6) }, () => 97 + Math.floor(r() * 3))), Math.floor(r() * 50), 1)
          it.seek(target)
          pos = entries.findIndex((e) => compareInternalKeys(e.key, target) >= 0)
          if (pos < 0) pos = entries.length
        } else if (op < 0.6) {
          it.next(); pos++
        } else {
          it.prev(); pos--
        }
        if (pos < 0 || pos >= entries.length) expect(it.valid()).toBe(false)
        else expect(it.key().equals(entries[pos].key)).toBe(true)
      }
    }
  })
})
