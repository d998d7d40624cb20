// A range tombstone (clear) is retired only when no explicit snapshot still reads below it.
import { describe, it, expect } from 'vitest'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'

const key = (i: number): string => `k${String(i).padStart(4, '0')}`

describe('range tombstone retirement and snapshots', () => {
  it('a snapshot taken before clear() keeps its view through flushes and compactions; release lets the tombstone retire', async () => {
    const fs = new MemoryFileSystem()
    const opts = { fs, writeBufferSize: 16 * 1024, maxFileSize: 16 * 1024, maxBytesForLevelBase: 64 * 1024, level0CompactionTrigger: 2 }
    const db = new LsmLevel<string, string>('/db', opts)
    await db.open()
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `old${i}` })))
    await db.flush()
    const snap = db.snapshot()
    await db.clear({ gte: key(500), lt: key(1500) })
    await db.put(key(700), 'new700')
    // More writes over the whole range: flushes and compactions run while the tombstone must stay.
    for (let round = 0; round < 4; round++) {
      await db.batch(Array.from({ length: 200 }, (_, i) => ({ type: 'put' as const, key: key(i * 10 + round), value: `r${round}` })).filter((op) => op.key < key(500) || op.key >= key(1500)))
      await db.flush()
    }
    expect(db.getProperty('lsm.range-tombstones')).toBe(1)
    expect(await db.get(key(600), { snapshot: snap })).toBe('old600')
    expect(await db.get(key(700), { snapshot: snap })).toBe('old700')
    expect((await db.keys({ gte: key(500), lt: key(1500), snapshot: snap }).all()).length).toBe(1000)
    expect(await db.get(key(600))).toBeUndefined()
    expect(await db.get(key(700))).toBe('new700')
    expect(await db.keys({ gte: key(500), lt: key(1500) }).all()).toEqual([key(700)])

    await snap.close()
    await db.flush() // waits for the background: the tombstone retires now
    expect(db.getProperty('lsm.range-tombstones')).toBe(0)
    expect(await db.get(key(600))).toBeUndefined()
    expect(await db.get(key(700))).toBe('new700')
    expect(await db.keys({ gte: key(500), lt: key(1500) }).all()).toEqual([key(700)])
    expect(await db.get(key(1505))).toBe('old1505')
    await db.close()

    const again = new LsmLevel<string, string>('/db', opts)
    await again.open()
    expect(await again.keys({ gte: key(500), lt: key(1500) }).all()).toEqual([key(700)])
    expect(await again.get(key(499))).toBe('old499')
    expect((await again.keys().all()).length).toBe(1001)
    await again.close()
  })
})
