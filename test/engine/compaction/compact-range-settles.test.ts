import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { LsmLevel } from 'lsm-level'
import { tempRoot } from '../../support/temp-dir.js'

// compactRange over everything leaves the data in one level whose size target holds it: left in a level
// that is over its target, it would be compacted again by the background right after (a full rewrite
// competing with the reads that follow, which is what a caller compacting first wanted to avoid).

const root = tempRoot('lsm-compact-settles')

// Raw blocks: the sizes and levels below are reckoned in the bytes written (LZ4 would shrink these values ~10x).
const SMALL = {
  compression: false,
  writeBufferSize: 64 * 1024,
  maxFileSize: 64 * 1024,
  maxBytesForLevelBase: 256 * 1024,
  levelMultiplier: 4
}
const key = (i: number): string => `key-${String(i).padStart(7, '0')}`

describe('compactRange', () => {
  it('leaves the data settled: one level that holds it, nothing pending, no compaction after', async () => {
    const db = new LsmLevel<string, string>(join(root, 'db'), SMALL)
    await db.open()
    // About 3 MiB in random order: more than levels 1 and 2 (256 KiB, 1 MiB) hold.
    const n = 20_000
    for (let first = 0; first < n; first += 500) {
      const ops = []
      for (let i = first; i < first + 500; i++) ops.push({ type: 'put' as const, key: key((i * 7919) % n), value: `value-${i}-` + 'v'.repeat(120) })
      await db.batch(ops)
    }
    await db.compactRange(key(0), key(n))
    const levels = db.getProperty('lsm.levels') as Array<{ level: number, files: number, bytes: number, targetBytes: number | null }>
    const used = levels.filter((l) => l.files > 0)
    expect(used).toHaveLength(1)
    expect(used[0].level).toBeGreaterThan(2)
    expect(used[0].bytes).toBeGreaterThan(1024 * 1024)
    expect(used[0].bytes).toBeLessThanOrEqual(used[0].targetBytes!)
    expect(db.getProperty('lsm.pending-compaction-bytes')).toBe(0)

    const before = (db.getProperty('lsm.compaction-stats') as { compactions: number }).compactions
    await sleep(300)
    expect((db.getProperty('lsm.compaction-stats') as { compactions: number }).compactions).toBe(before)

    let count = 0
    for await (const [k, v] of db.iterator()) {
      expect(v.startsWith('value-')).toBe(true)
      expect(k).toBe(key(count))
      count++
    }
    expect(count).toBe(n)
    await db.close()
  })
})
