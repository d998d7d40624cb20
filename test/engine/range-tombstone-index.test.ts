import { describe, expect, it } from 'vitest'
import { join } from 'node:path'
import fc from 'fast-check'
import { LsmLevel } from 'lsm-level'
import { anyTombstoneCovers, type RangeTombstone } from '../../engine/src/range-tombstone.js'
import { RangeTombstoneIndex, TombstoneIndexCache, INDEX_FROM } from '../../engine/src/range-tombstone-index.js'
import { tempRoot } from '../support/temp-dir.js'

const root = tempRoot('lsm-range-tombstone-index')

/** Keys of one or two bytes from a small alphabet: starts, ends and probes collide often. */
// Bytes 0-2 and 253-255: byte order must hold across the whole range (latin1 strings compare as bytes).
const key = fc.uint8Array({ minLength: 1, maxLength: 2, max: 5 }).map((b) => Buffer.from(b.map((x) => x < 3 ? x : x + 250)))
const tombstone = fc.record({ seq: fc.integer({ min: 1, max: 40 }), start: key, end: fc.option(key, { nil: null }) })

describe('RangeTombstoneIndex', () => {
  it('answers as the linear check for any tombstones (overlapping, empty, open-ended), keys and sequences', () => {
    fc.assert(fc.property(
      fc.array(tombstone, { maxLength: 30 }),
      fc.array(fc.tuple(key, fc.integer({ min: 0, max: 41 }), fc.integer({ min: 0, max: 41 })), { minLength: 1, maxLength: 40 }),
      (list: RangeTombstone[], probes) => {
        const index = new RangeTombstoneIndex(list)
        for (const [userKey, entrySeq, snapshotSeq] of probes) {
          expect(index.covers(userKey.toString('latin1'), entrySeq, snapshotSeq)).toBe(anyTombstoneCovers(list, userKey, entrySeq, snapshotSeq))
        }
      }), { numRuns: 2_000 })
  })

  it('the cache rebuilds when the list grows or is replaced, and leaves short lists to the linear check', () => {
    const cache = new TombstoneIndexCache()
    const t = (seq: number, start: string, end: string): RangeTombstone => ({ seq, start: Buffer.from(start), end: Buffer.from(end) })
    const list = Array.from({ length: INDEX_FROM - 1 }, (_, i) => t(i + 1, `a${i}`, `a${i}~`))
    expect(cache.of(list)).toBeUndefined()
    list.push(t(100, 'm', 'n'))
    const first = cache.of(list)!
    expect(first.covers('m1', 5, 200)).toBe(true)
    expect(cache.of(list)).toBe(first)
    list.push(t(101, 'x', 'y'))
    expect(cache.of(list)!.covers('x1', 5, 200)).toBe(true)
    const retired = list.filter((x) => x.seq !== 100)
    expect(cache.of(retired)!.covers('m1', 5, 200)).toBe(false)
  })
})

describe('reads with many live range tombstones', () => {
  it('get, getSync and iterators both ways hide exactly the cleared keys, also under a snapshot taken between clears', async () => {
    const db = new LsmLevel<string, string>(join(root, 'many'), { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    await db.open()
    try {
      const keys = Array.from({ length: 2_000 }, (_, i) => `k${String(i).padStart(5, '0')}`)
      await db.batch(keys.map((k) => ({ type: 'put' as const, key: k, value: `v-${k}` })))
      await db.close()
      await db.open() // the values in a table, the tombstones in the memtable: reads check each value found
      const cleared = new Set<string>()
      let snapshot: ReturnType<typeof db.snapshot> | undefined
      let beforeSecondHalf = new Set<string>()
      for (let r = 0; r < 100; r++) {
        // Every 20th key starts a run of 5 cleared keys, and every 10th run also clears an overlapping wider range.
        const first = r * 20
        const last = r % 10 === 0 ? first + 12 : first + 5
        await db.clear({ gte: keys[first]!, lt: keys[last]! })
        for (let i = first; i < last; i++) cleared.add(keys[i]!)
        if (r === 49) { snapshot = db.snapshot(); beforeSecondHalf = new Set(cleared) }
      }
      // A key written after the clears is visible even inside a cleared range.
      await db.put(keys[1]!, 'again')
      cleared.delete(keys[1]!)
      const expected = keys.filter((k) => !cleared.has(k))
      expect(db.getSync(keys[2]!)).toBeUndefined()
      expect(db.getSync(keys[1]!)).toBe('again')
      for (const k of keys) expect(await db.get(k)).toBe(cleared.has(k) ? undefined : k === keys[1] ? 'again' : `v-${k}`)
      expect(await db.keys().all()).toEqual(expected)
      expect(await db.keys({ reverse: true }).all()).toEqual([...expected].reverse())
      const seen = await db.keys({ snapshot }).all()
      expect(seen).toEqual(keys.filter((k) => !beforeSecondHalf.has(k)))
      await snapshot!.close()
    } finally {
      await db.close()
    }
  })
})
