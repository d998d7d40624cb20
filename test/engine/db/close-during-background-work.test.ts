// close() must finish while background work is in flight.
import { describe, it, expect } from 'vitest'
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises'
import { LsmLevel, MemoryFileSystem, FaultInjectingFileSystem } from 'lsm-level'

async function closesWithin (db: LsmLevel<string, string>, ms: number): Promise<'closed' | 'hung'> {
  return await Promise.race([db.close().then(() => 'closed' as const), sleep(ms).then(() => 'hung' as const)])
}

describe('close() while background work is in flight', () => {
  it('finishes while a manual compaction of level 0 is running', async () => {
    const fs = new FaultInjectingFileSystem(new MemoryFileSystem())
    const db = new LsmLevel<string, string>('/db', { fs, writeBufferSize: 4 * 1024 * 1024, maxFileSize: 64 * 1024 * 1024, level0CompactionTrigger: 8, level0SlowdownTrigger: 8, level0StopTrigger: 12 })
    await db.open()
    // Three generations of the same 6000 keys: the first flush lands in level 2, the second in 1, the third in 0.
    for (let gen = 0; gen < 3; gen++) {
      await db.batch(Array.from({ length: 6000 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(5, '0')}`, value: `v${gen}` })))
      await db.flush()
    }
    expect(db.getProperty('lsm.num-files-at-level0')).toBe(1)
    const manual = db.compactRange('k', 'l').catch((e: Error) => e)
    // Let the manual compaction get into its merge (12000 entries: several main-thread slices).
    for (let i = 0; i < 3; i++) await tick()
    const outcome = await closesWithin(db, 3000)
    if (outcome === 'hung') fs.inject({ op: 'create', path: /\.sst$/, code: 'EIO' }) // break the retry loop so the test can end
    await manual
    expect(outcome).toBe('closed')
  })

  it('finishes while a writer waits at level0StopTrigger', async () => {
    const fs = new MemoryFileSystem()
    const db = new LsmLevel<string, string>('/db', { fs, writeBufferSize: 1024, maxImmutableMemtables: 1, level0CompactionTrigger: 1, level0SlowdownTrigger: 1, level0StopTrigger: 1 })
    await db.open()
    await db.put('a', 'first'); await db.flush() // pushed down to level 2
    await db.put('a', 'second'); await db.flush() // level 1 (level 2 overlaps)
    const big = 'x'.repeat(2000)
    await db.put('a', big) // memtable full
    await db.put('b', big) // switches: the frozen 'a' will flush into level 0 (level 1 overlaps)
    const stalled = db.put('c', big).catch((e: Error) => e) // memtable full again, one frozen already: waits
    const outcome = await closesWithin(db, 3000)
    expect(outcome).toBe('closed')
    await stalled
  })
})
