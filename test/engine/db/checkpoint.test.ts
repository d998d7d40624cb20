// checkpoint(dir): a new database directory, made while the source keeps serving, that opens with every
// write acknowledged before the call, shares the source's tables by hard link, and survives the source's
// later compactions and deletes.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import { tempDirPerTest } from '../../support/temp-dir.js'

const dirOf = tempDirPerTest('lsm-checkpoint')
const key = (i: number): string => `k${String(i).padStart(6, '0')}`

async function contents (db: LsmLevel<string, string>): Promise<Array<[string, string]>> {
  return await db.iterator().all()
}

describe('checkpoint', () => {
  test('holds every acknowledged write (memtable included), links the tables, and is untouched by the source afterwards', async () => {
    const dir = dirOf()
    const db = new LsmLevel<string, string>(join(dir, 'db'), { writeBufferSize: 64 * 1024 })
    await db.open()
    for (let round = 0; round < 4; round++) {
      await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `r${round}-${i}` })))
    }
    await db.del(key(7))
    await db.clear({ gte: key(100), lt: key(200) }) // a range tombstone too
    await db.put('last', 'in the memtable only')
    const expected = await contents(db)

    const report = await db.checkpoint(join(dir, 'cp'))
    expect(report.tables).toBeGreaterThan(0)
    expect(report.linked).toBe(report.tables)
    // A linked table is one file with two names.
    const table = (await import('node:fs')).readdirSync(join(dir, 'cp')).find((n) => n.endsWith('.sst'))!
    expect(statSync(join(dir, 'cp', table)).nlink).toBe(2)

    // The source goes on: overwrites, deletes, a full compaction that deletes the tables the checkpoint linked.
    await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: 'after' })))
    await db.put('later', 'not in the checkpoint')
    await db.compactRange(key(0), 'zzz')
    await db.close()

    const copy = new LsmLevel<string, string>(join(dir, 'cp'), { createIfMissing: false })
    await copy.open()
    expect(await contents(copy)).toEqual(expected)
    expect(await copy.get(key(7))).toBeUndefined()
    expect(await copy.get(key(150))).toBeUndefined()
    expect(await copy.get('later')).toBeUndefined()
    // The checkpoint is a database of its own: it takes writes and reopens with them.
    await copy.put('own', 'write')
    await copy.close()
    await copy.open()
    expect(await copy.get('own')).toBe('write')
    expect(await copy.get('last')).toBe('in the memtable only')
    await copy.close()
  })

  test('made while writes keep arriving, it opens as a prefix of them: every write acknowledged before the call, none torn', async () => {
    const dir = dirOf()
    const db = new LsmLevel<string, string>(join(dir, 'db'), { writeBufferSize: 32 * 1024 })
    await db.open()
    let acknowledged = 0
    let stop = false
    const writer = (async () => {
      for (let i = 0; !stop && i < 50_000; i++) {
        await db.put(key(i), String(i))
        acknowledged = i + 1
      }
    })()
    while (acknowledged < 3000) await new Promise((resolve) => setTimeout(resolve, 5))
    const acknowledgedBefore = acknowledged
    await db.checkpoint(join(dir, 'cp'))
    stop = true
    await writer
    await db.close()
    const copy = new LsmLevel<string, string>(join(dir, 'cp'), { createIfMissing: false })
    await copy.open()
    const keys = (await copy.keys().all())
    expect(keys.length).toBeGreaterThanOrEqual(acknowledgedBefore)
    // A prefix: keys 0..m-1 and nothing else (writes are sequential, one at a time).
    expect(keys).toEqual(Array.from({ length: keys.length }, (_, i) => key(i)))
    await copy.close()
  })

  test('an existing target is refused with LEVEL_DATABASE_EXISTS and left as it was; a bad argument is a TypeError', async () => {
    const dir = dirOf()
    const db = new LsmLevel<string, string>(join(dir, 'db'))
    await db.open()
    await db.put('a', '1')
    await db.checkpoint(join(dir, 'cp'))
    await expect(db.checkpoint(join(dir, 'cp'))).rejects.toMatchObject({ code: 'LEVEL_DATABASE_EXISTS' })
    await expect(db.checkpoint('')).rejects.toThrow(TypeError)
    await db.close()
    const copy = new LsmLevel<string, string>(join(dir, 'cp'), { createIfMissing: false })
    await copy.open()
    expect(await copy.get('a')).toBe('1')
    await copy.close()
  })

  test('on a file system without hard links the tables are copied, and a power loss right after loses nothing of it', async () => {
    const mem = new MemoryFileSystem()
    // The same file system with its link() taken away: the checkpoint must copy.
    const noLinks = new Proxy(mem, {
      get: (target, prop) => {
        if (prop === 'link') return undefined
        const value = Reflect.get(target, prop) as unknown
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      }
    })
    const db = new LsmLevel<string, string>('/db', { fs: noLinks as MemoryFileSystem, writeBufferSize: 16 * 1024 })
    await db.open()
    await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `v${i}` })))
    const report = await db.checkpoint('/cp')
    expect(report.linked).toBe(0)
    expect(report.tables).toBeGreaterThan(0)
    await db.close()
    mem.crash() // everything not fsynced is gone
    const copy = new LsmLevel<string, string>('/cp', { fs: mem, createIfMissing: false })
    await copy.open()
    expect(await copy.keys().all()).toHaveLength(3000)
    await copy.close()
  })
})
