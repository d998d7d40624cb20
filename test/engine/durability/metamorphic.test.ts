import { describe, it } from 'vitest'
import { checkHistories } from './fixtures/metamorphic.js'

describe('model-based metamorphic testing (fast-check; memory-level as the oracle; four LsmLevel configurations)', () => {
  it('random histories of writes, reads, iterators with seek, snapshots, compactions and reopens answer exactly as memory-level', async () => {
    // A failure prints the seed and the shrunk history; LSM_FC_SEED=<seed> replays it.
    await checkHistories({ numRuns: 45, maxLength: 100, seed: 20251122, timeLimitMs: 45_000 })
  }, 120_000)
})
