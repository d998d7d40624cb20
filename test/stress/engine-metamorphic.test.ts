// `npm run stress`: the fast-check metamorphic histories of test/engine/durability/metamorphic.test.ts, more and
// longer (LSM_FC_SEED picks the seed; a failure prints it with the shrunk history).
import { describe, it } from 'vitest'
import { checkHistories } from '../engine/durability/fixtures/metamorphic.js'

const STRESS = process.env.STRESS === '1'

describe('stress: metamorphic histories against memory-level', () => {
  it('every configuration answers as memory-level', async () => {
    await checkHistories({
      numRuns: STRESS ? 2000 : 10,
      maxLength: STRESS ? 400 : 60,
      seed: Number(process.env.LSM_STRESS_SEED ?? Date.now() % 1_000_000),
      timeLimitMs: STRESS ? 1_800_000 : 60_000
    })
  }, STRESS ? 3_600_000 : 120_000)
})
