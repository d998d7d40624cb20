import { describe, it, expect } from 'vitest'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
// The built package, so that compactions run on the background worker thread (absent from the sources).
import { LsmLevel, MemoryFileSystem } from '../../../engine/dist/index.js'
import { IDLE_MIN_SHARE, idlePassDue, pickIdleCompaction } from '../../../engine/src/compaction/idle.js'
import { leastOverlappingFile } from '../../../engine/src/compaction/pick.js'
import { Version, NUM_LEVELS } from '../../../engine/src/version/version.js'
import type { FileMeta } from '../../../engine/src/version/file-meta.js'
import { KIND_VALUE, makeInternalKey } from '../../../engine/src/keys.js'
import { eachLine, waitUntil } from '../../support/process.js'
import { tempRoot } from '../../support/temp-dir.js'
// @ts-expect-error plain JavaScript shared with the child writer
import { IDLE_OPTIONS, KEYS, keyOf, valueOf, loadAndOverwrite } from '../fixtures/idle-compaction-data.mjs'

// Once writes stop, the background empties levels 0 and 1 into level 2, so that the versions they overwrote
// are dropped instead of waiting on disk for the next burst of writes; a write, close() or a crash during it
// must cost nothing but the work it throws away.

const root = tempRoot('lsm-idle-compaction')
const writer = fileURLToPath(new URL('../fixtures/idle-compaction-writer.mjs', import.meta.url))

type Db = LsmLevel<string, string>
interface LevelInfo { level: number, files: number, bytes: number }

const levels = (db: Db): LevelInfo[] => db.getProperty('lsm.levels') as LevelInfo[]
const filesAt = (db: Db, level: number): number => levels(db)[level].files
const tableBytes = (db: Db): number => levels(db).reduce((sum, l) => sum + l.bytes, 0)
const idleCompactions = (db: Db): number => (db.getProperty('lsm.compaction-stats') as { idleCompactions: number }).idleCompactions
const passRunning = (db: Db): boolean => db.getProperty('lsm.idle-compaction') === true

/** Every key holds generation 1's value. */
async function expectNewest (db: Db): Promise<void> {
  let wrong = 0
  for (let i = 0; i < KEYS; i++) if ((await db.get(keyOf(i))) !== valueOf(1, i)) wrong++
  expect(wrong).toBe(0)
}

/** Polls often (the pass lasts a fraction of a second on a quiet machine) until an idle pass runs. */
async function untilPassRuns (db: Db): Promise<void> {
  await waitUntil('an idle pass to start', () => passRunning(db), 60_000, 1)
}

/**
 * Every flush of the overwrite stays in level 0, so that an idle pass starts with one long compaction (all of
 * them): one that a write or close() stops in its first milliseconds.
 */
const LEVEL0_KEEPS_ALL = { level0CompactionTrigger: 100, level0SlowdownTrigger: 100, level0StopTrigger: 100 }

let nextNumber = 1
function file (from: string, to: string, size: number): FileMeta {
  return { number: nextNumber++, size, smallest: makeInternalKey(Buffer.from(from), 10, KIND_VALUE), largest: makeInternalKey(Buffer.from(to), 10, KIND_VALUE), minSeq: 1, maxSeq: 10 }
}
function version (byLevel: Record<number, FileMeta[]>): Version {
  return new Version(Array.from({ length: NUM_LEVELS }, (_, level) => byLevel[level] ?? []), [])
}
const numbers = (files: readonly FileMeta[]): number[] => files.map((f) => f.number)
const noPointers: Array<Buffer | null> = Array.from({ length: NUM_LEVELS }, () => null)

describe('which compactions an idle pass runs', () => {
  it('is due once levels 0 and 1 hold a twentieth of the bytes, not below', () => {
    const bottom = [file('a', 'm', 950), file('n', 'z', 950)]
    expect(idlePassDue(version({ 1: [file('a', 'z', 99)], 2: bottom }))).toBe(false)
    expect(idlePassDue(version({ 0: [file('a', 'z', 50)], 1: [file('a', 'z', 50)], 2: bottom }))).toBe(true)
    expect(IDLE_MIN_SHARE).toBe(1 / 20)
  })

  it('leaves the bottom level alone: level 1 as the deepest level is not due; level 0 alone is merged into level 1', () => {
    expect(idlePassDue(version({ 1: [file('a', 'z', 1000)] }))).toBe(false)
    expect(idlePassDue(version({}))).toBe(false)
    // Level 0 alone (raw by default) goes into level 1, compressed, and nothing more.
    const alone = version({ 0: [file('a', 'm', 600), file('c', 'z', 400)] })
    expect(idlePassDue(alone)).toBe(true)
    const push = pickIdleCompaction(alone, noPointers, 2 * 1024 * 1024)
    expect(push?.level).toBe(0)
    expect(push?.inputs[0].length).toBe(2)
    // Level 0 over a bottom level 1 is merged into it.
    const v = version({ 0: [file('a', 'z', 500)], 1: [file('a', 'z', 1000)] })
    expect(idlePassDue(v)).toBe(true)
    const c = pickIdleCompaction(v, noPointers, 2 * 1024 * 1024)
    expect(c?.level).toBe(0)
    expect(pickIdleCompaction(version({ 1: [file('a', 'z', 1000)] }), noPointers, 2 * 1024 * 1024)).toBeNull()
  })

  it('takes every level-0 file first, then level 1 file by file', () => {
    const l0 = [file('c', 'd', 10), file('a', 'b', 10)]
    const l1 = [file('a', 'f', 100), file('g', 'p', 100)]
    const l2 = [file('a', 'h', 1000), file('i', 'z', 1000)]
    const first = pickIdleCompaction(version({ 0: l0, 1: l1, 2: l2 }), noPointers, 2 * 1024 * 1024)
    expect(first?.level).toBe(0)
    expect(numbers(first!.inputs[0]).sort()).toEqual(numbers(l0).sort())
    const next = pickIdleCompaction(version({ 1: l1, 2: l2 }), noPointers, 2 * 1024 * 1024)
    expect(next?.level).toBe(1)
    expect(numbers(next!.inputs[0])).toEqual([l1[0].number])
  })

  it('picks the level-1 file that rewrites the fewest level-2 bytes per byte it pushes down', () => {
    const l1 = [file('a', 'f', 100), file('g', 'm', 100), file('n', 'z', 100)]
    const l2 = [file('a', 'c', 500), file('d', 'f', 500), file('g', 'm', 50), file('n', 'z', 500)]
    expect(leastOverlappingFile(version({ 1: l1, 2: l2 }), 1, null).number).toBe(l1[1].number)
  })

  it('breaks ties in turn, starting after the compact pointer', () => {
    const l1 = [file('a', 'f', 100), file('g', 'm', 100), file('n', 'z', 100)]
    const l2 = [file('a', 'f', 500), file('g', 'm', 500), file('n', 'z', 500)]
    const v = version({ 1: l1, 2: l2 })
    expect(leastOverlappingFile(v, 1, null).number).toBe(l1[0].number)
    expect(leastOverlappingFile(v, 1, l1[0].largest).number).toBe(l1[1].number)
    expect(leastOverlappingFile(v, 1, l1[2].largest).number).toBe(l1[0].number)
  })
})

describe('compaction once writes stop', () => {
  it('a database held in level 0 alone (its commit log written to a table at open) goes into level 1, compressed, and the table it replaces leaves the disk while the database stays open', async () => {
    const dir = join(root, 'level0-alone')
    let db: Db = new LsmLevel(dir, { idleCompactionDelayMs: 50 })
    await db.open()
    const text = (i: number): string => `value ${i} of a text that repeats itself as real values do `.repeat(2)
    for (let i = 0; i < 5000; i++) await db.put(keyOf(i), text(i))
    await db.close()
    db = new LsmLevel(dir, { idleCompactionDelayMs: 50 })
    await db.open()
    try {
      expect(levels(db).map((l) => l.files)).toEqual([1, 0, 0, 0, 0, 0, 0])
      const raw = tableBytes(db)
      const replaced = readdirSync(dir).filter((n) => n.endsWith('.sst'))
      await waitUntil('level 0 pushed into level 1', () => filesAt(db, 0) === 0 && filesAt(db, 1) > 0 && !passRunning(db), 30_000, 10)
      expect(tableBytes(db)).toBeLessThan(raw * 0.8) // level 1 is LZ4; level 0 is stored raw
      await waitUntil('the replaced table deleted', () => replaced.every((n) => !existsSync(join(dir, n))), 10_000, 10)
      for (let i = 0; i < 5000; i += 97) expect(await db.get(keyOf(i))).toBe(text(i))
    } finally {
      await db.close()
    }
  })

  it('empties levels 0 and 1 into level 2 and drops the versions they overwrote', async () => {
    const db: Db = new LsmLevel(join(root, 'drops'), IDLE_OPTIONS)
    await db.open()
    await loadAndOverwrite(db)
    await waitUntil('levels 0 and 1 to be emptied', () => filesAt(db, 0) === 0 && filesAt(db, 1) === 0 && !passRunning(db), 60_000, 10)
    expect(idleCompactions(db)).toBeGreaterThan(0)
    // What a full compaction leaves: one version of each key.
    const settled = tableBytes(db)
    await db.compactRange(keyOf(0), keyOf(KEYS))
    expect(settled).toBeLessThan(tableBytes(db) * 1.02)
    await expectNewest(db)
    await db.close()
  }, 120_000)

  it('does not start while writes go on, however slowly they come', async () => {
    const db: Db = new LsmLevel('/db', { ...IDLE_OPTIONS, fs: new MemoryFileSystem(), idleCompactionDelayMs: 200 })
    await db.open()
    await loadAndOverwrite(db)
    // A write every 20 ms (well inside the delay) for a second and a half: no pass.
    for (let i = 0; i < 75; i++) {
      await db.put(keyOf(i), valueOf(1, i))
      await sleep(20)
      expect(passRunning(db)).toBe(false)
    }
    expect(idleCompactions(db)).toBe(0)
    // And once they stop, one runs.
    await untilPassRuns(db)
    await db.close()
  }, 120_000)

  for (const where of ['main thread', 'worker thread']) {
    it(`a write stops a running pass (${where}), and the pass runs again once writes stop`, async () => {
      const options = where === 'main thread' ? { ...IDLE_OPTIONS, ...LEVEL0_KEEPS_ALL, fs: new MemoryFileSystem() } : { ...IDLE_OPTIONS, ...LEVEL0_KEEPS_ALL }
      const db: Db = new LsmLevel(where === 'main thread' ? '/db' : join(root, 'stopped'), options)
      await db.open()
      await loadAndOverwrite(db)
      await untilPassRuns(db)
      const level0 = filesAt(db, 0)
      await db.put(keyOf(0), valueOf(1, 0))
      await waitUntil('the pass to stop', () => !passRunning(db), 5_000, 1)
      // The pass's first compaction (every level-0 file, long) was aborted: nothing of it was recorded (the
      // write may have filled the memtable, whose flush adds a level-0 file).
      expect(idleCompactions(db)).toBe(0)
      expect(filesAt(db, 0)).toBeGreaterThanOrEqual(level0)
      await waitUntil('levels 0 and 1 to be emptied', () => filesAt(db, 0) === 0 && filesAt(db, 1) === 0 && !passRunning(db), 60_000, 10)
      await expectNewest(db)
      await db.close()
    }, 120_000)
  }

  it('close() during a pass stops it at once instead of waiting for it, and the data stays whole', async () => {
    const dir = join(root, 'closed')
    const db: Db = new LsmLevel(dir, { ...IDLE_OPTIONS, ...LEVEL0_KEEPS_ALL })
    await db.open()
    await loadAndOverwrite(db)
    await untilPassRuns(db)
    const level0 = filesAt(db, 0)
    const started = performance.now()
    await db.close()
    const closeMs = performance.now() - started
    const reopened: Db = new LsmLevel(dir, { ...IDLE_OPTIONS, ...LEVEL0_KEEPS_ALL, idleCompactionDelayMs: 0 })
    await reopened.open()
    // The pass's first compaction (every level-0 file) was aborted, not waited for (reopening adds the
    // memtable's entries, replayed from the commit log, as one more level-0 file).
    expect(filesAt(reopened, 0)).toBeGreaterThanOrEqual(level0)
    expect(closeMs).toBeLessThan(1000)
    await expectNewest(reopened)
    await reopened.close()
  }, 120_000)

  it('a crash during a pass loses nothing: every key reads its newest value after reopening', async () => {
    const dir = join(root, 'crashed')
    const child = spawn(process.execPath, [writer, dir], { stdio: ['ignore', 'pipe', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    const killed = new Promise<string>((resolve, reject) => {
      const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`the writer saw no idle pass: ${err}`)) }, 100_000)
      eachLine(child.stdout, (line) => { if (line === 'pass') child.kill('SIGKILL') })
      child.on('close', (code, signal) => {
        clearTimeout(guard)
        if (signal === 'SIGKILL') resolve(signal)
        else reject(new Error(`writer exited ${String(code)}: ${err}`))
      })
    })
    expect(await killed).toBe('SIGKILL')
    const db: Db = new LsmLevel(dir, { ...IDLE_OPTIONS, idleCompactionDelayMs: 0 })
    await db.open()
    await expectNewest(db)
    await db.close()
  }, 120_000)
})
