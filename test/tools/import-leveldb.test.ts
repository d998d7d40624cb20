// `levelring db import-leveldb SRC DST`: a classic-level database copied into a new lsm-level one, entry for
// entry (binary keys and values included, deleted and overwritten keys as the source reads them).
import { describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { LsmLevel } from 'lsm-level'
import { expectOneLineFailure, levelring, levelringJson } from './levelring-cli.js'
import { tempRoot } from '../support/temp-dir.js'

const root = tempRoot('levelring-import')

async function classicDatabase (dir: string): Promise<Array<[string, string]>> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  await db.batch(Array.from({ length: 3000 }, (_, i) => ({ type: 'put' as const, key: Buffer.from(`key${String(i).padStart(5, '0')}`), value: Buffer.from(`value ${i} `.repeat(5)) })))
  await db.put(Buffer.from([0, 255, 1]), Buffer.from([9, 0, 8]))
  await db.put(Buffer.from('key00007'), Buffer.from('overwritten'))
  await db.del(Buffer.from('key00008'))
  const all = (await db.iterator().all()).map(([k, v]) => [k.toString('hex'), v.toString('hex')] as [string, string])
  await db.close()
  return all
}

describe('levelring db import-leveldb', () => {
  it('copies every entry of a classic-level database into a new lsm-level database', async () => {
    const src = join(root, 'classic')
    const dst = join(root, 'imported')
    const expected = await classicDatabase(src)
    const result = await levelringJson<{ entries: number, bytes: number }>(['db', 'import-leveldb', src, dst])
    expect(result.entries).toBe(expected.length)
    expect(result.entries).toBe(3000)
    const db = new LsmLevel<Buffer, Buffer>(dst, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.open()
    const got = (await db.iterator().all()).map(([k, v]) => [k.toString('hex'), v.toString('hex')])
    expect(got).toEqual(expected)
    expect((await db.get(Buffer.from('key00007')))?.toString()).toBe('overwritten')
    expect(await db.get(Buffer.from('key00008'))).toBeUndefined()
    // Settled: everything in tables, below level 0.
    expect(db.getProperty('lsm.num-files-at-level0')).toBe(0)
    await db.close()
    // The source still opens with classic-level and reads the same.
    const again = new ClassicLevel<Buffer, Buffer>(src, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await again.open()
    expect((await again.keys().all()).length).toBe(expected.length)
    await again.close()
  }, 60_000)

  it('refuses a destination that is not empty, a source that is not LevelDB, and a source a process holds', async () => {
    const src = join(root, 'classic2')
    await classicDatabase(src)
    const busy = join(root, 'busy')
    mkdirSync(busy)
    writeFileSync(join(busy, 'something'), 'x')
    expectOneLineFailure(await levelring(['db', 'import-leveldb', src, busy]), /busy is not empty/)
    expectOneLineFailure(await levelring(['db', 'import-leveldb', join(root, 'nothing'), join(root, 'out1')]), /not a LevelDB database/)
    const held = new ClassicLevel(src)
    await held.open()
    try {
      const r = await levelring(['db', 'import-leveldb', src, join(root, 'out2')])
      expect(r.code).toBe(1)
      expect(r.stderr).toMatch(/lock|LOCK/)
    } finally {
      await held.close()
    }
  }, 60_000)
})
