// A classic-level user's program runs unchanged on lsm-level, with the same results; classic-level's options
// are taken with their meaning, leveldb.* properties answer LevelDB's text, and unknown options are warned
// about once.
import { afterEach, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LsmLevel } from 'lsm-level'
// @ts-expect-error a plain JavaScript fixture, shared with the pack-and-install test
import { run } from './fixtures/classic-user-program.mjs'
import { tempRoot } from '../support/temp-dir.js'

const root = tempRoot('lsm-drop-in')
let n = 0
const freshDir = (): string => join(root, `db${n++}`)

const warnings: Error[] = []
const onWarning = (w: Error): void => { warnings.push(w) }
afterEach(() => { process.off('warning', onWarning); warnings.length = 0 })

describe('a classic-level program', () => {
  it('runs unchanged on lsm-level and reads exactly what it reads on classic-level', async () => {
    process.on('warning', onWarning)
    const classic = await run(ClassicLevel, freshDir())
    const lsm = await run(LsmLevel, freshDir())
    expect(lsm).toEqual(classic)
    // The transcript is not trivially equal: it holds the reads the program made.
    expect(lsm.find(([what]: [string]) => what === 'snapshot get')?.[1]).toEqual([[2, 'two'], { n: 3 }])
    expect(lsm.find(([what]: [string]) => what === 'EntryStream')?.[1]).toHaveLength(10)
    // classic-level's options are all known: no warning about any of them.
    expect(warnings.filter((w) => (w as { code?: string }).code === 'LSM_LEVEL_UNKNOWN_OPTION')).toEqual([])
  }, 120_000)
})

describe('a classic-level directory', () => {
  it('is refused with LEVEL_UNSUPPORTED_FORMAT naming the way to migrate, and left as it was', async () => {
    const dir = freshDir()
    const classic = new ClassicLevel(dir)
    await classic.put('a', 'b')
    await classic.close()
    const db = new LsmLevel(dir)
    const err = await db.open().then(() => null, (e: Error & { cause?: Error & { code?: string } }) => e)
    expect(err?.cause?.code).toBe('LEVEL_UNSUPPORTED_FORMAT')
    expect(err?.cause?.message).toMatch(/is a LevelDB \(classic-level\) database.*import-leveldb/)
    const again = new ClassicLevel(dir)
    expect(await again.get('a')).toBe('b')
    await again.close()
  })
})

describe("classic-level's options", () => {
  it('cacheSize is the block cache size; compression false writes raw blocks, true LZ4, per level with an array', async () => {
    const db = new LsmLevel(freshDir(), { cacheSize: 3 * 1024 * 1024, compression: ['none', 'none', 'lz4'] })
    await db.open()
    expect((db.getProperty('lsm.block-cache') as { capacityBytes: number }).capacityBytes).toBe(3 * 1024 * 1024)
    expect(db.getProperty('lsm.compression')).toEqual(['none', 'none', 'lz4', 'lz4', 'lz4', 'lz4', 'lz4'])
    await db.close()
    const sizes: Record<string, number> = {}
    for (const compression of [false, true]) {
      const raw = new LsmLevel(freshDir(), { compression })
      await raw.open()
      expect(raw.getProperty('lsm.compression')).toEqual(Array(7).fill(compression ? 'lz4' : 'none'))
      await raw.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: `k${i}`, value: `value ${i % 10} `.repeat(10) })))
      await raw.compactRange(null as unknown as string, null as unknown as string)
      sizes[String(compression)] = await raw.approximateSize('', '\xff')
      expect(await raw.get('k123')).toBe('value 3 '.repeat(10))
      await raw.close()
    }
    expect(sizes.true).toBeLessThan(sizes.false / 2)
  })

  it('bad values are LEVEL_INVALID_VALUE naming the option, before anything is written', async () => {
    for (const options of [{ compression: 'snappy' }, { compression: [] }, { cacheSize: -1 }, { cacheSize: 1024, blockCacheSize: 2048 }]) {
      const db = new LsmLevel(freshDir(), options as object)
      const err = await db.open().then(() => null, (e: Error & { cause?: Error & { code?: string } }) => e)
      expect(err?.cause?.code ?? (err as { code?: string } | null)?.code).toBe('LEVEL_INVALID_VALUE')
      expect(String(err?.cause?.message ?? err?.message)).toMatch(/compression|[cC]acheSize/)
    }
  })

  it('multithreading: true is refused (one database per directory); false is accepted silently', () => {
    expect(() => new LsmLevel(freshDir(), { multithreading: true })).toThrow(/multithreading/)
    expect(() => new LsmLevel(freshDir(), { multithreading: false })).not.toThrow()
  })

  it('an unknown option is warned about once per name, and ignored', async () => {
    process.on('warning', onWarning)
    const a = new LsmLevel(freshDir(), { colour: 'blue', flavour: 1 } as object)
    const b = new LsmLevel(freshDir(), { colour: 'red' } as object)
    await new Promise((resolve) => setImmediate(resolve))
    const ours = warnings.filter((w) => (w as { code?: string }).code === 'LSM_LEVEL_UNKNOWN_OPTION').map((w) => w.message)
    expect(ours.filter((m) => m.includes("'colour'"))).toHaveLength(1)
    expect(ours.filter((m) => m.includes("'flavour'"))).toHaveLength(1)
    await a.open()
    await b.open()
    await a.close()
    await b.close()
  })

  it('options given to open() apply as with classic-level', async () => {
    const db = new LsmLevel(freshDir())
    await db.open({ cacheSize: 5 * 1024 * 1024, compression: false } as object)
    expect((db.getProperty('lsm.block-cache') as { capacityBytes: number }).capacityBytes).toBe(5 * 1024 * 1024)
    expect(db.getProperty('lsm.compression')).toEqual(Array(7).fill('none'))
    await db.close()
  })
})

describe('leveldb.* properties', () => {
  it("answer LevelDB's text, as classic-level does", async () => {
    const db = new LsmLevel(freshDir(), { writeBufferSize: 64 * 1024 })
    const classic = new ClassicLevel(freshDir(), { writeBufferSize: 64 * 1024 })
    for (const d of [db, classic]) {
      await d.open()
      await d.batch(Array.from({ length: 5000 }, (_, i) => ({ type: 'put' as const, key: `key${String(i).padStart(5, '0')}`, value: 'v'.repeat(100) })))
      await d.compactRange('key', 'kez')
    }
    const ours = db.getProperty('leveldb.stats') as string
    const theirs = classic.getProperty('leveldb.stats')
    expect(ours.split('\n').slice(0, 3)).toEqual(theirs.split('\n').slice(0, 3))
    // A row per level with files: level, files, size, time, read, write, right-aligned as LevelDB prints them.
    const row = /^ {2}\d {8}\d+ {1,8}\d+ +\d+ +\d+ +\d+$/
    expect(ours.split('\n').slice(3).filter((l) => l !== '').every((l) => row.test(l))).toBe(true)
    expect(theirs.split('\n').slice(3).filter((l) => l !== '').every((l) => row.test(l))).toBe(true)
    const files = (db.getProperty('lsm.levels') as Array<{ files: number }>).map((l) => l.files)
    for (let level = 0; level < 7; level++) expect(db.getProperty(`leveldb.num-files-at-level${level}`)).toBe(String(files[level]))
    const sstables = db.getProperty('leveldb.sstables') as string
    expect(sstables.match(/^--- level \d ---$/gm)).toHaveLength(7)
    expect(sstables).toMatch(/^ \d+:\d+\['key\d{5}' @ \d+ : 1 \.\. 'key\d{5}' @ \d+ : 1\]$/m)
    expect(classic.getProperty('leveldb.sstables')).toMatch(/^ \d+:\d+\['key\d{5}' @ \d+ : 1 \.\. 'key\d{5}' @ \d+ : 1\]$/m)
    expect(db.getProperty('leveldb.no-such-property')).toBeUndefined()
    await db.close()
    await classic.close()
  })
})
