// `npm run stress`: the power-loss tests of test/engine/durability/power-loss.test.ts, longer: many more random
// crash cycles, and every crash point of the scripted life under each torn-write model.
import { describe, it, expect } from 'vitest'
import { crashPointSweep, powerLossCycles, switchWindowSweep } from '../engine/durability/fixtures/power-loss.js'

const STRESS = process.env.STRESS === '1'
const seed = Number(process.env.LSM_STRESS_SEED ?? 11)

describe('stress: power loss', () => {
  const cycles = STRESS ? 8000 : 20
  it(`${cycles} boots, each losing power at a random file-system call`, async () => {
    const reports = await powerLossCycles({ cycles, seed, roundsPerCycle: STRESS ? 400 : 100 })
    console.log(`${reports.length} crashes, ${reports.reduce((a, r) => a + r.syncAcked, 0)} synced writes checked`)
    expect(reports).toHaveLength(cycles)
  }, STRESS ? 3_600_000 : 120_000)

  for (const torn of ['none', 'data', 'zeros', 'newest-log', 'current-renamed'] as const) {
    it(`power fails at every call of the scripted life (unsynced bytes kept: ${torn})`, async () => {
      const { points, calls } = await crashPointSweep({ stride: STRESS ? 1 : 25, torn, seed: seed + 1 })
      console.log(`${points} crash points over ${calls} calls (${torn})`)
      expect(points).toBeGreaterThanOrEqual(Math.floor(calls / (STRESS ? 1 : 25)))
    }, STRESS ? 3_600_000 : 120_000)
  }

  it('power fails at every call while unsynced writes cross memtable switches, the newest log written back first', async () => {
    const { points, calls } = await switchWindowSweep({ puts: STRESS ? 400 : 40 })
    expect(points).toBe(calls)
  }, STRESS ? 3_600_000 : 120_000)
})
