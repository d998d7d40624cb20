import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
// The built package, so that compactions run on the background worker threads (absent from the sources).
import { LsmLevel } from '../../../engine/dist/index.js'
import { subcompactionBoundaries } from '../../../engine/src/compaction/subcompaction.js'
import type { Compaction } from '../../../engine/src/compaction/pick.js'
import type { FileMeta } from '../../../engine/src/version/file-meta.js'
import { KIND_VALUE, makeInternalKey, userKeyOf } from '../../../engine/src/keys.js'
import { tempRoot } from '../../support/temp-dir.js'
// @ts-expect-error plain JavaScript shared with the child writer
import { SUBCOMPACTION_OPTIONS, KEYS, BATCH, keyOf, valueOf, orderOf } from '../fixtures/subcompaction-data.mjs'

// A compaction split by key range across two worker threads (RocksDB's subcompactions): the parts must
// together write exactly what one merge would, in disjoint files, and stop, fail and crash as one.

const root = tempRoot('lsm-subcompactions')
const writer = fileURLToPath(new URL('../fixtures/subcompaction-writer.mjs', import.meta.url))

let nextNumber = 1
function file (from: string, to: string, size: number): FileMeta {
  return { number: nextNumber++, size, smallest: makeInternalKey(Buffer.from(from), 10, KIND_VALUE), largest: makeInternalKey(Buffer.from(to), 10, KIND_VALUE), minSeq: 1, maxSeq: 10 }
}
/** Input bytes below `key` in f, as if f's bytes were spread evenly over single-letter keys from..to. */
function evenOffset (f: FileMeta, key: Buffer): number {
  const lo = userKeyOf(f.smallest)[0]
  const hi = userKeyOf(f.largest)[0] + 1
  const k = userKeyOf(key)[0]
  return Math.round(f.size * Math.min(1, Math.max(0, (k - lo) / (hi - lo))))
}
const text = (keys: Buffer[]): string[] => keys.map((k) => k.toString())

describe('subcompactionBoundaries()', () => {
  it('splits at the lower level\'s file start that halves the input bytes', () => {
    const l0 = [file('a', 'z', 26), file('a', 'z', 26)]
    const l1 = [file('a', 'f', 60), file('g', 'm', 70), file('n', 'z', 130)]
    const c: Compaction = { level: 0, inputs: [l0, l1], grandparents: [] }
    // Below 'n': 2 x 13 of level 0 and 130 of level 1, against 26 + 130 above it: the middle.
    expect(text(subcompactionBoundaries(c, 2, evenOffset))).toEqual(['n'])
  })

  it('does not split where no candidate leaves each part half its share', () => {
    const l0 = [file('a', 'z', 10)]
    const l1 = [file('a', 'b', 10), file('c', 'z', 1000)]
    expect(subcompactionBoundaries({ level: 0, inputs: [l0, l1], grandparents: [] }, 2, evenOffset)).toEqual([])
    // Nothing to split at: no lower-level file and no grandparent starts inside the range.
    expect(subcompactionBoundaries({ level: 0, inputs: [[file('a', 'z', 100), file('a', 'z', 100)], []], grandparents: [] }, 2, evenOffset)).toEqual([])
  })

  it('gives sorted boundaries strictly inside the range for more parts', () => {
    const l1 = ['a', 'e', 'i', 'm', 'q', 'u'].map((k) => file(k, String.fromCharCode(k.charCodeAt(0) + 3), 100))
    const l2 = ['a', 'g', 'n', 't'].map((k) => file(k, String.fromCharCode(k.charCodeAt(0) + 5), 1000))
    const b = text(subcompactionBoundaries({ level: 1, inputs: [l1, []], grandparents: l2 }, 3, evenOffset))
    expect(b).toEqual(['i', 'q'])
  })
})

/** Every level's files from leveldb.sstables: [level, smallest user key, largest user key][] */
function tablesOf (db: LsmLevel<string, string>): Array<[number, string, string]> {
  const out: Array<[number, string, string]> = []
  let level = -1
  for (const line of String(db.getProperty('leveldb.sstables')).split('\n')) {
    const m = /^--- level (\d+) ---$/.exec(line)
    if (m !== null) { level = Number(m[1]); continue }
    const f = /\['([^']*)' @ \d+ : \d+ \.\. '([^']*)' @/.exec(line)
    if (f !== null) out.push([level, f[1], f[2]])
  }
  return out
}

/** Files of every level below 0 are sorted and disjoint by user key. */
function expectDisjointLevels (db: LsmLevel<string, string>): void {
  const tables = tablesOf(db)
  expect(tables.length).toBeGreaterThan(0)
  for (let i = 1; i < tables.length; i++) {
    const [level, smallest] = tables[i]
    const [prevLevel, , prevLargest] = tables[i - 1]
    if (level === prevLevel && level > 0) expect(prevLargest < smallest, `level ${level}: ${prevLargest} then ${smallest}`).toBe(true)
  }
}

/** After close: the table files in dir are exactly those its version names (read-only open: nothing runs). */
async function expectNoStrayTables (dir: string): Promise<void> {
  const db = new LsmLevel<string, string>(dir, { ...SUBCOMPACTION_OPTIONS, readOnly: true })
  await db.open()
  const live = String(db.getProperty('leveldb.sstables')).split('\n').flatMap((l) => /^ (\d+):/.exec(l)?.[1] ?? []).map(Number).sort((a, b) => a - b)
  await db.close()
  expect(readdirSync(dir).filter((n) => n.endsWith('.sst')).map((n) => Number(n.slice(0, -4))).sort((a, b) => a - b)).toEqual(live)
}

async function writeGenerations (db: LsmLevel<string, string>, gens: number): Promise<void> {
  for (let gen = 0; gen < gens; gen++) {
    const order = orderOf(gen) as number[]
    for (let first = 0; first < KEYS; first += BATCH) {
      await db.batch(order.slice(first, first + BATCH).map((i) => ({ type: 'put' as const, key: keyOf(i) as string, value: valueOf(gen, i) as string })))
    }
  }
}

async function expectGeneration (db: LsmLevel<string, string>, gen: number): Promise<void> {
  const all = await db.iterator().all()
  expect(all.length).toBe(KEYS)
  let wrong = 0
  all.forEach(([k, v], i) => { if (k !== keyOf(i) || v !== valueOf(gen, i)) wrong++ })
  expect(wrong).toBe(0)
}

describe('compactions split across two worker threads', () => {
  it('write every newest version once, in disjoint files per level, and reopen the same', async () => {
    const dir = join(root, 'split')
    const db = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await db.open()
    await writeGenerations(db, 4)
    await db.compactRange(keyOf(0), keyOf(KEYS))
    const stats = db.getProperty('lsm.compaction-stats') as { subcompactions: number, compactions: number }
    expect(stats.subcompactions).toBeGreaterThan(0)
    expect(db.getProperty('lsm.background-error')).toBe(null)
    expectDisjointLevels(db)
    await expectGeneration(db, 3)
    await db.close()
    // No part left a table the version does not name.
    await expectNoStrayTables(dir)
    const again = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await again.open()
    await expectGeneration(again, 3)
    await again.close()
  }, 120_000)

  it('with maxSubcompactions 1, run whole and write the same data', async () => {
    const db = new LsmLevel<string, string>(join(root, 'whole'), { ...SUBCOMPACTION_OPTIONS, maxSubcompactions: 1 })
    await db.open()
    await writeGenerations(db, 2)
    await db.compactRange(keyOf(0), keyOf(KEYS))
    expect((db.getProperty('lsm.compaction-stats') as { subcompactions: number }).subcompactions).toBe(0)
    expectDisjointLevels(db)
    await expectGeneration(db, 1)
    await db.close()
  }, 120_000)

  it('stop together at close(): no part\'s table is left behind, and every write is there after reopening', async () => {
    const dir = join(root, 'close')
    const db = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await db.open()
    await writeGenerations(db, 3)
    const before = (db.getProperty('lsm.compaction-stats') as { subcompactions: number }).subcompactions
    const manual = db.compactRange(keyOf(0), keyOf(KEYS)).catch((e: Error) => e)
    await sleep(2)
    const r = await Promise.race([db.close().then(() => 'closed'), sleep(10_000).then(() => 'hung')])
    expect(r).toBe('closed')
    await manual
    const again = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await again.open()
    await expectGeneration(again, 2)
    await again.close()
    await expectNoStrayTables(dir)
    expect(before).toBeGreaterThan(0)
  }, 120_000)

  it('a crash (SIGKILL) while parts run loses no acknowledged batch, and leaves no stray table once reopened', async () => {
    const dir = join(root, 'crash')
    const acked = await new Promise<Array<[number, number]>>((resolve, reject) => {
      const child = spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
      const got: Array<[number, number]> = []
      let buf = ''
      let err = ''
      let parts = 0
      let killAt = -1
      const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`writer made no progress: ${err}`)) }, 90_000)
      child.stderr.on('data', (d: Buffer) => { err += d.toString() })
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString()
        let nl
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).split(' ')
          buf = buf.slice(nl + 1)
          if (line[0] === 'ack') got.push([Number(line[1]), Number(line[2])])
          if (line[0] === 'parts') parts = Number(line[1])
        }
        // Once compactions have been split, kill a little later: most likely while one is split again.
        if (killAt < 0 && parts >= 4) killAt = got.length + 7
        if (killAt >= 0 && got.length >= killAt) child.kill('SIGKILL')
      })
      child.on('close', (code, signal) => {
        clearTimeout(guard)
        if (signal !== 'SIGKILL') reject(new Error(`writer exited ${code}: ${err}`))
        else resolve(got)
      })
    })
    expect(acked.length).toBeGreaterThan(0)
    const [lastGen, lastFirst] = acked[acked.length - 1]
    const db = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await db.open()
    // Every key written by an acknowledged batch holds that generation's value or a later one.
    let stale = 0
    for (const [gen, first] of acked.slice(-40)) {
      for (const i of (orderOf(gen) as number[]).slice(first, first + BATCH)) {
        const v = await db.get(keyOf(i))
        const g = v === undefined ? -1 : Number(/^g(\d+)-/.exec(v)![1])
        if (g < gen) stale++
      }
    }
    expect(stale).toBe(0)
    expect(lastGen * KEYS + lastFirst).toBeGreaterThan(0)
    await db.close()
    // Opening deleted the tables the killed parts had written: none is left that the version does not name.
    await expectNoStrayTables(dir)
    const again = new LsmLevel<string, string>(dir, SUBCOMPACTION_OPTIONS)
    await again.open()
    await again.compactRange(keyOf(0), keyOf(KEYS))
    expectDisjointLevels(again)
    expect((await again.iterator().all()).length).toBe(KEYS)
    await again.close()
  }, 120_000)
})
