// Flushed tables pushed below level 0 never put an older version of a key above a newer one.
import { describe, it, expect } from 'vitest'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import { randomInt, seededRandom } from '../../support/random.mjs'

const key = (i: number): string => `k${String(i).padStart(5, '0')}`

describe('flush placement (push-down) beside compactions', () => {
  it('three generations of the same keys land in levels 2, 1, 0 and reads see the newest', async () => {
    const fs = new MemoryFileSystem()
    const opts = { fs, level0CompactionTrigger: 4 }
    const db = new LsmLevel<string, string>('/db', opts)
    await db.open()
    const levels = (): number[] => [0, 1, 2].map((l) => db.getProperty(`lsm.num-files-at-level${l}`) as number)
    await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: key(i), value: 'g0' })))
    await db.flush()
    expect(levels()).toEqual([0, 0, 1])
    await db.batch(Array.from({ length: 100 }, (_, i) => i % 2 === 0 ? { type: 'put' as const, key: key(i), value: 'g1' } : { type: 'del' as const, key: key(i) }))
    await db.flush()
    expect(levels()).toEqual([0, 1, 1])
    await db.put(key(1), 'g2')
    await db.flush()
    expect(levels()).toEqual([1, 1, 1])
    const expected = Array.from({ length: 100 }, (_, i) => i === 1 ? 'g2' : i % 2 === 0 ? 'g1' : undefined)
    expect(await db.getMany(Array.from({ length: 100 }, (_, i) => key(i)))).toEqual(expected)
    await db.compactRange(key(0), key(99))
    expect(await db.getMany(Array.from({ length: 100 }, (_, i) => key(i)))).toEqual(expected)
    await db.close()
    const again = new LsmLevel<string, string>('/db', opts)
    await again.open()
    expect(await again.getMany(Array.from({ length: 100 }, (_, i) => key(i)))).toEqual(expected)
    await again.close()
  })

  it('overwrites racing flushes and compactions (small tables, many levels) match a model after every round and a reopen', async () => {
    const fs = new MemoryFileSystem()
    const opts = { fs, writeBufferSize: 4 * 1024, maxFileSize: 4 * 1024, maxBytesForLevelBase: 16 * 1024, level0CompactionTrigger: 2, level0SlowdownTrigger: 3, level0StopTrigger: 6, blockSize: 256 }
    const db = new LsmLevel<string, string>('/db', opts)
    await db.open()
    const model = new Map<string, string>()
    const random = seededRandom(12345)
    const rnd = (n: number): number => randomInt(random, n)
    for (let round = 0; round < 30; round++) {
      // Not awaited one by one: writes queue up while flushes and compactions run in the background.
      const writes: Array<Promise<void>> = []
      for (let j = 0; j < 150; j++) {
        const k = key(rnd(600))
        if (rnd(5) === 0) { model.delete(k); writes.push(db.del(k)) } else { const v = `r${round}-${j}`; model.set(k, v); writes.push(db.put(k, v)) }
      }
      await Promise.all(writes)
      const probe = Array.from({ length: 40 }, () => key(rnd(600)))
      expect(await db.getMany(probe)).toEqual(probe.map((k) => model.get(k)))
    }
    await db.flush()
    const want = [...model.entries()].sort(([a], [b]) => a < b ? -1 : 1)
    expect(await db.iterator().all()).toEqual(want)
    expect(await db.iterator({ reverse: true }).all()).toEqual([...want].reverse())
    await db.close()
    const again = new LsmLevel<string, string>('/db', opts)
    await again.open()
    expect(await again.iterator().all()).toEqual(want)
    await again.close()
  })
})
