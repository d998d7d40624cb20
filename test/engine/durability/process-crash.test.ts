import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { processCrashCycles } from './fixtures/process-crash.js'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-process-crash')

describe('process crash (SIGKILL at random moments, black box)', () => {
  it('after every kill the database holds every acknowledged write and equals the history up to some point', async () => {
    const reports = await processCrashCycles({ dir: join(root, 'db'), cycles: 10, seed: 31, maxRounds: 4000, maxAcks: 2500 })
    expect(reports).toHaveLength(10)
    // The kills landed both mid-history and (with small delays) before or during open.
    expect(reports.some((r) => r.acked > 100)).toBe(true)
  }, 120_000)
})
