import { existsSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { randomBytes, randomInt, seededRandom } from './random.mjs'
import { freePorts, waitUntil } from './process.js'
import { tempDirPerTest, withTempDir } from './temp-dir.js'

describe('test support', () => {
  it('a seeded PRNG repeats its sequence for the same seed and differs for another', () => {
    const a = seededRandom(7)
    const b = seededRandom(7)
    const c = seededRandom(8)
    const xs = Array.from({ length: 5 }, a)
    expect(Array.from({ length: 5 }, b)).toEqual(xs)
    expect(Array.from({ length: 5 }, c)).not.toEqual(xs)
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true)
    const r = seededRandom(1)
    for (let i = 0; i < 100; i++) expect(randomInt(r, 3)).toBeLessThan(3)
    expect(randomBytes(seededRandom(2), 16)).toEqual(randomBytes(seededRandom(2), 16))
  })

  const dir = tempDirPerTest('support-test')
  it('a per-test directory exists while the test runs', () => {
    expect(existsSync(dir())).toBe(true)
  })

  it('withTempDir removes its directory even when the body throws', async () => {
    let seen = ''
    await expect(withTempDir('support-test', async (d) => { seen = d; throw new Error('boom') })).rejects.toThrow('boom')
    expect(existsSync(seen)).toBe(false)
  })

  it('free ports are distinct, and waitUntil names what never happened', async () => {
    const ports = await freePorts(3)
    expect(new Set(ports).size).toBe(3)
    await expect(waitUntil('never', () => false, 50, 10)).rejects.toThrow('not within 50 ms: never')
  })
})
