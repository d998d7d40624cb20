import { describe, it, expect } from 'vitest'
import { crashPointSweep, powerLossCycles, switchWindowSweep } from './fixtures/power-loss.js'

describe('power loss (MemoryFileSystem.crash at a random file-system call)', () => {
  it('opens cleanly after every crash and keeps every write acknowledged with sync, as a prefix of the history', async () => {
    const reports = await powerLossCycles({ cycles: 40, seed: 7, roundsPerCycle: 150 })
    const where = new Map<string, number>()
    for (const r of reports) {
      const op = r.crashedAt.split(' ').slice(0, 2).join(' ').replace(/\d{6}/, 'N')
      where.set(op, (where.get(op) ?? 0) + 1)
    }
    expect(reports).toHaveLength(40)
    // Crashes landed inside table writes (flushes, compactions), not only in log appends (the sweep below
    // covers every call, MANIFEST edits and the CURRENT switch included).
    expect([...where.keys()].some((k) => k.includes('.sst'))).toBe(true)
    expect([...where.keys()].some((k) => k.includes('.log'))).toBe(true)
  }, 60_000)
})

describe('power loss at every file-system call of a scripted life (open, writes, flush, compaction, close, reopen)', () => {
  for (const torn of ['none', 'data', 'zeros', 'newest-log', 'current-renamed'] as const) {
    it(`opens cleanly and keeps every synced write, whatever call the power fails at (unsynced bytes kept: ${torn})`, async () => {
      const stride = torn === 'none' || torn === 'current-renamed' ? 1 : 4
      const { points, calls, where } = await crashPointSweep({ stride, torn, seed: 5 })
      expect(points).toBeGreaterThanOrEqual(Math.floor(calls / stride))
      const at = [...where.keys()].join(' ')
      // Every call when the stride is 1, so the CURRENT switch (temp file, rename) too.
      for (const file of stride === 1 ? ['.log', '.sst', 'MANIFEST', 'N.tmp', 'rename CURRENT'] : ['.log', '.sst', 'MANIFEST']) expect(at).toContain(file)
    }, 60_000)
  }
})

describe('power loss while the fsync of the previous commit log is in flight', () => {
  it('the newest log written back first leaves no hole: unsynced writes are lost only as a suffix', async () => {
    const { points, calls } = await switchWindowSweep({ puts: 60 })
    expect(points).toBe(calls)
  }, 60_000)
})
