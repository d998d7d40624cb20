import { describe, it, expect } from 'vitest'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { RealFileSystem, Table } from 'lsm-level/tools'
import { tempRoot } from '../../support/temp-dir.js'

// Compaction reads its input tables through a read-ahead buffer of 256 KiB that it reuses: the blocks it
// walks are views that the next chunk overwrites. These tables are several MiB, so every input crosses many
// chunk boundaries, and every key has several versions (some straddling blocks and chunks), so a key kept
// from an overwritten chunk would merge versions wrongly or corrupt the output's order. One restart per key:
// every key a cursor hands out could be a view into the block, the case the transient blocks guard. Blocks are
// stored raw, since only raw blocks are views into the read-ahead buffer (a compressed one is decoded apart).

const root = tempRoot('lsm-read-ahead')

const KEYS = 20_000
const key = (i: number): string => `key-${String(i).padStart(8, '0')}`
const value = (i: number, version: number): string => `v${version}-${i}-` + 'x'.repeat(100 + (i % 50))

describe('compaction read-ahead over large tables', () => {
  it('keeps exactly the newest version of every key through full compactions, and the order', async () => {
    const db = new LsmLevel<string, string>(join(root, 'db'), { maxFileSize: 8 * 1024 * 1024, writeBufferSize: 1024 * 1024, blockRestartInterval: 1, compression: false })
    await db.open()
    for (let version = 0; version < 3; version++) {
      // Every version in one pass over all keys, so each flush holds a slice of the key space.
      for (let first = 0; first < KEYS; first += 500) {
        const ops = []
        for (let i = first; i < first + 500; i++) {
          if (version === 2 && i % 7 === 0) ops.push({ type: 'del' as const, key: key(i) })
          else ops.push({ type: 'put' as const, key: key(i), value: value(i, version) })
        }
        await db.batch(ops)
      }
      await db.compactRange(key(0), key(KEYS))
    }
    const levels = db.getProperty('lsm.levels') as Array<{ level: number, files: number, bytes: number }>
    // The compacted data really is one level of multi-MiB tables (more than one read-ahead chunk each).
    const deepest = levels.filter((l) => l.files > 0)
    expect(deepest).toHaveLength(1)
    expect(deepest[0].bytes / deepest[0].files).toBeGreaterThan(1024 * 1024)

    const seen: string[] = []
    for await (const [k, v] of db.iterator()) {
      const i = Number(k.slice(4))
      expect(i % 7).not.toBe(0)
      expect(v).toBe(value(i, 2))
      seen.push(k)
    }
    expect(seen).toHaveLength(KEYS - Math.ceil(KEYS / 7))
    expect([...seen].sort()).toEqual(seen)
    for (let i = 0; i < KEYS; i += 997) expect(await db.get(key(i))).toBe(i % 7 === 0 ? undefined : value(i, 2))
    await db.close()

    // Fully compacted: the tables hold one entry per live key, no older version and no deletion marker.
    const fs = new RealFileSystem()
    let entries = 0
    for (const name of readdirSync(join(root, 'db')).filter((n) => n.endsWith('.sst'))) {
      const file = fs.openReadable(join(root, 'db', name))
      try {
        entries += Table.open(file, { fileNumber: 1 }).properties.entries
      } finally {
        file.close()
      }
    }
    expect(entries).toBe(seen.length)
  })
})
