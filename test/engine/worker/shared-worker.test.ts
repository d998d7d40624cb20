// The process-wide background worker (engine/dist, where the worker script exists) shared by two databases.
import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { LsmLevel } from '../../../engine/dist/index.js'
import { backgroundThreadAvailable } from '../../../engine/dist/worker/background-thread.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('shared-worker')

const OPTS = { writeBufferSize: 256 * 1024, maxFileSize: 256 * 1024, maxBytesForLevelBase: 1024 * 1024, level0CompactionTrigger: 2 }
const key = (i: number): string => `k${String(i).padStart(6, '0')}`

async function load (db: LsmLevel<string, string>, gen: number, n: number): Promise<void> {
  for (let s = 0; s < n; s += 1000) {
    await db.batch(Array.from({ length: Math.min(1000, n - s) }, (_, j) => ({ type: 'put' as const, key: key((s + j) * 7919 % n), value: `g${gen}-` + 'x'.repeat(40) })))
  }
}

describe('two databases on the shared background worker', () => {
  it('closing one mid-compaction leaves the other compacting, and both keep every write', async () => {
    const a = new LsmLevel<string, string>(join(root, 'a'), OPTS)
    const b = new LsmLevel<string, string>(join(root, 'b'), OPTS)
    await a.open(); await b.open()
    expect(backgroundThreadAvailable()).toBe(true)
    for (let gen = 0; gen < 3; gen++) { await load(a, gen, 15000); await load(b, gen, 15000) }
    const bCompacting = b.compactRange(key(0), key(99999))
    for (let i = 0; i < 5; i++) await tick()
    await a.close() // aborts a's running job (if any) on the worker, not b's
    await bCompacting
    expect(b.getProperty('lsm.background-error')).toBe(null)
    expect(b.getProperty('lsm.num-files-at-level0')).toBe(0)
    const all = await b.iterator().all()
    expect(all.length).toBe(15000)
    expect(all.every(([, v]) => v.startsWith('g2-'))).toBe(true)
    await b.close()
    const again = new LsmLevel<string, string>(join(root, 'a'), OPTS)
    await again.open()
    const got = await again.iterator().all()
    expect(got.length).toBe(15000)
    expect(got.every(([, v]) => v.startsWith('g2-'))).toBe(true)
    await again.close()
  })
})
