import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryLevel } from 'memory-level'
import { describe, expect, test } from 'vitest'
import { MapLevel } from '../../tools/src/bench/map-level.js'
import { KEY_SIZE, KeySpace, Permutation, splitmix32 } from '../../tools/src/bench/key-space.js'
import { WORKLOAD_NAMES } from '../../tools/src/bench/engine-workloads.js'
import type { EngineBenchReport } from '../../tools/src/bench/engine-report.js'
import { tempRoot } from '../support/temp-dir.js'

// The engine benchmark's parts that decide whether its figures mean anything: the ceiling must
// answer like a real database (checked against memory-level), the key orders must be true
// permutations, and the harness must run end to end and write a complete report. No timings
// are asserted: a benchmark is not a test.

const REPO = fileURLToPath(new URL('../../', import.meta.url))
const HARNESS = join(REPO, 'dist/tools/src/bench/engine.js')

describe('MapLevel (the ceiling) answers like memory-level', () => {
  test('random puts, dels and batches, then gets, ranges, reverse, limits and seeks agree', async () => {
    const next = splitmix32(42)
    const key = (): string => String(next() % 300).padStart(3, '0')
    const ceiling = new MapLevel()
    const reference = new MemoryLevel<string, string>()
    await Promise.all([ceiling.open(), reference.open()])

    for (let round = 0; round < 6; round++) {
      // Writes between rounds exercise the merge of pending keys and the dropping of deleted ones.
      for (let i = 0; i < 200; i++) {
        const k = key()
        const roll = next() % 10
        if (roll < 6) {
          const value = `v${round}-${i}`
          await ceiling.put(k, value)
          await reference.put(k, value)
        } else if (roll < 9) {
          await ceiling.del(k)
          await reference.del(k)
        } else {
          const ops = [{ type: 'put' as const, key: key(), value: `b${i}` }, { type: 'del' as const, key: key() }]
          await ceiling.batch(ops)
          await reference.batch(ops)
        }
      }

      const probes = Array.from({ length: 50 }, key)
      expect(await ceiling.getMany(probes)).toEqual(await reference.getMany(probes))
      expect(probes.map(k => ceiling.getSync(k))).toEqual(await reference.getMany(probes))

      for (let i = 0; i < 40; i++) {
        const a = key()
        const b = key()
        const [low, high] = a < b ? [a, b] : [b, a]
        const range: Record<string, unknown> = { reverse: next() % 2 === 0 }
        if (next() % 3 !== 0) range[next() % 2 === 0 ? 'gt' : 'gte'] = low
        if (next() % 3 !== 0) range[next() % 2 === 0 ? 'lt' : 'lte'] = high
        if (next() % 4 === 0) range.limit = next() % 20
        const context = JSON.stringify(range)
        expect(await ceiling.iterator(range).all(), context).toEqual(await reference.iterator(range).all())

        const target = key()
        const [mine, theirs] = [ceiling.iterator(range), reference.iterator(range)]
        mine.seek(target)
        theirs.seek(target)
        expect(await mine.nextv(3), `${context} seek ${target}`).toEqual(await theirs.nextv(3))
        await Promise.all([mine.close(), theirs.close()])
      }
    }

    await ceiling.clear({ gte: '100', lt: '200' })
    await reference.clear({ gte: '100', lt: '200' })
    expect(await ceiling.iterator().all()).toEqual(await reference.iterator().all())
    await Promise.all([ceiling.close(), reference.close()])
  })

  test('an iterator skips entries deleted after it started instead of returning stale values', async () => {
    const db = new MapLevel()
    await db.batch(['a', 'b', 'c'].map(k => ({ type: 'put' as const, key: k, value: k })))
    const iterator = db.iterator()
    await db.del('b')
    expect(await iterator.all()).toEqual([['a', 'a'], ['c', 'c']])
  })
})

describe('key space', () => {
  test.each([1, 2, 3, 1000, 4097, 65_537])('Permutation(%i) visits every position exactly once', size => {
    const order = new Permutation(size, 'test')
    const seen = new Uint8Array(size)
    for (let i = 0; i < size; i++) seen[order.at(i)]++
    expect(seen.every(n => n === 1)).toBe(true)
  })

  test('keys are 16 bytes, sort as numbers, and missing keys fall between present ones', () => {
    const keys = new KeySpace(1000, 100)
    expect(Buffer.byteLength(keys.key(999))).toBe(KEY_SIZE)
    expect(keys.key(9) < keys.key(10)).toBe(true)
    expect(keys.key(5) < keys.missingKey(5) && keys.missingKey(5) < keys.key(6)).toBe(true)
    expect(keys.value(0)).toHaveLength(100)
    expect(keys.value(0)).not.toBe(keys.value(1))
  })
})

describe('bench:engine harness', () => {
  const work = tempRoot('bench-smoke')

  test('runs every workload on memory-level and the ceiling and writes a complete report', () => {
    expect(existsSync(HARNESS), `${HARNESS} is missing: run \`npx tsc -b\` (npm test builds first)`).toBe(true)
    const json = join(work, 'engine.json')
    const svg = join(work, 'engine.svg')
    const databases = join(work, 'tmp')
    mkdirSync(databases)
    const child = spawnSync(process.execPath, [
      HARNESS, '--count', '2000', '--runs', '1', '--engines', 'memory-level,ceiling', '--json', json, '--svg', svg
    ], { cwd: REPO, encoding: 'utf8', env: { ...process.env, TMPDIR: databases }, timeout: 120_000 })
    expect(child.status, child.stderr).toBe(0)

    const report = JSON.parse(readFileSync(json, 'utf8')) as EngineBenchReport
    expect(report.settings).toMatchObject({ count: 2000, valueSize: 100, keySize: 16, runs: 1, engines: ['memory-level', 'ceiling'] })
    expect(report.rows.map(r => `${r.workload}/${r.engine}`)).toEqual(
      WORKLOAD_NAMES.flatMap(w => [`${w}/memory-level`, `${w}/ceiling`])
    )
    for (const row of report.rows) {
      expect(row.notes, `${row.workload}/${row.engine}`).toEqual([])
      expect(row.runs).toBe(1)
      expect(row.medianOpsPerSec).toBeGreaterThan(0)
      expect(row.peakRssBytes).toBeGreaterThan(0)
      // No baseline among the engines: no ratios; in-memory engines: no amplification figures.
      expect(row.ratioToBaseline).toBeNull()
      expect(row.writeAmp).toBeNull()
    }
    expect(report.runs).toHaveLength(WORKLOAD_NAMES.length * 2)
    for (const run of report.runs) {
      expect(run.found, `${run.workload}/${run.engine}`).toBe(run.expectedFound)
      expect(run.rssTrace.timedFromMs).not.toBeNull()
    }
    expect(report.notes.join('\n')).toContain('classic-level is not among the engines')
    expect(child.stdout).toMatch(/readrandom\s+memory-level\s+[\d,]+/)
    expect(readFileSync(svg, 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*seekrandom[\s\S]*<\/svg>\n$/)
    // Every database the harness made is gone.
    expect(readdirSync(databases)).toEqual([])
  })

  test('measures another build of lsm-level beside this one when LSM_LEVEL_BASELINE_MODULE names it', () => {
    const json = join(work, 'baseline.json')
    const databases = join(work, 'tmp-baseline')
    mkdirSync(databases)
    const harness = (env: NodeJS.ProcessEnv) => spawnSync(process.execPath, [
      HARNESS, '--count', '2000', '--runs', '1', '--engines', 'lsm-level,lsm-level-baseline', '--workloads', 'fillrandom',
      '--json', json, '--svg', join(work, 'baseline.svg')
    ], { cwd: REPO, encoding: 'utf8', env: { ...env, TMPDIR: databases, LEVELRING_BENCH_REST_SECONDS: '1' }, timeout: 120_000 })
    const child = harness({ ...process.env, LSM_LEVEL_BASELINE_MODULE: join(REPO, 'engine', 'dist', 'index.js') })
    expect(child.status, child.stderr).toBe(0)
    const report = JSON.parse(readFileSync(json, 'utf8')) as EngineBenchReport
    expect(report.rows.map(r => `${r.workload}/${r.engine}`)).toEqual(['fillrandom/lsm-level', 'fillrandom/lsm-level-baseline'])
    for (const row of report.rows) {
      expect(row.medianOpsPerSec).toBeGreaterThan(0)
      // A fill is sized again at rest (a shortened rest here), like every writing workload of a persistent engine.
      expect(row.spaceAmpAtRest).toBeGreaterThan(0)
    }

    // Without the variable the baseline cannot load, and the harness says why.
    const { LSM_LEVEL_BASELINE_MODULE: _, ...without } = process.env
    const bare = harness(without)
    expect(bare.stderr + bare.stdout).toContain('LSM_LEVEL_BASELINE_MODULE')
    expect(readdirSync(databases)).toEqual([])
  })
})
