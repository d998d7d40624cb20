import { describe, it, expect, afterAll } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { processCrashCycles } from './fixtures/process-crash.js'

const root = mkdtempSync(join(tmpdir(), 'lsm-process-crash-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe('process crash (SIGKILL at random moments, black box)', () => {
  it('after every kill the database holds every acknowledged write and equals the history up to some point', async () => {
    const reports = await processCrashCycles({ dir: join(root, 'db'), cycles: 10, seed: 31, maxRounds: 4000, maxAcks: 2500 })
    for (const r of reports) console.log(`cycle ${r.cycle}: ${JSON.stringify(r.plan)}, killed while ${r.killedWhile}, ${r.rounds} rounds issued, ${r.acked} acknowledged, state = history to round ${r.matchedRound}, ${r.keys} keys`)
    expect(reports).toHaveLength(10)
    // The kills landed both mid-history and (with small delays) before or during open.
    expect(reports.some((r) => r.acked > 100)).toBe(true)
  }, 120_000)
})
