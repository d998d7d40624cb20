// `npm run stress`: the random one-fault-per-run I/O-error sweep of test/engine/durability/io-errors.test.ts,
// many more runs in both WAL recovery modes.
import { describe, it, expect } from 'vitest'
import { faultRuns } from '../engine/durability/fixtures/io-errors.js'

const STRESS = process.env.STRESS === '1'
const seed = Number(process.env.LSM_STRESS_SEED ?? 21)

describe('stress: I/O errors', () => {
  for (const walRecoveryMode of ['tolerate-corrupted-tail', 'absolute-consistency'] as const) {
    const runs = STRESS ? 4000 : 10
    it(`${runs} faulted runs (${walRecoveryMode})`, async () => {
      const reports = await faultRuns({ runs, seed, roundsPerRun: STRESS ? 400 : 100, walRecoveryMode })
      console.log(`${walRecoveryMode}: ${reports.filter((r) => r.surfaced !== 'never').length} of ${runs} faults surfaced`)
      expect(reports).toHaveLength(runs)
    }, STRESS ? 3_600_000 : 120_000)
  }
})
