// `npm run stress`: the SIGKILL black-box test of test/engine/durability/process-crash.test.ts, many more cycles.
// Without STRESS=1 (when run by hand) it is a short smoke run of the same code.
import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { processCrashCycles } from '../engine/durability/fixtures/process-crash.js'
import { tempRoot } from '../support/temp-dir.js'

const STRESS = process.env.STRESS === '1'
const root = tempRoot('lsm-stress-crash')

describe('stress: process crash (SIGKILL) cycles', () => {
  const cycles = STRESS ? 80 : 3
  it(`${cycles} kill-and-reopen cycles keep every acknowledged write, as a prefix of the history`, async () => {
    const reports = await processCrashCycles({ dir: join(root, 'db'), cycles, seed: Number(process.env.LSM_STRESS_SEED ?? 77), maxRounds: 20_000, maxAcks: STRESS ? 8000 : 500 })
    const during = reports.filter((r) => r.killedWhile === 'opening').length
    console.log(`${reports.length} cycles, ${reports.reduce((a, r) => a + r.acked, 0)} acknowledged ops checked, ${during} kills during open/recovery`)
    expect(reports).toHaveLength(cycles)
  }, STRESS ? 3_600_000 : 120_000)
})
