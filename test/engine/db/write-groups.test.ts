import { describe, it, expect } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AbstractPutOptions } from 'abstract-level'
import { LsmLevel } from 'lsm-level'
import { readLog, decodeBatch } from 'lsm-level/tools'
import { tempRoot } from '../../support/temp-dir.js'

// A writer with nothing ahead of it goes straight to the commit log; writers released together (one tick's
// run of microtasks) still share one log record. What the log holds shows which happened, and in what order.

const root = tempRoot('lsm-write-groups')

/** The ops of each record of the database's current commit log (read while the database is open). */
function logRecords (dir: string): string[][] {
  const log = readdirSync(dir).filter((f) => f.endsWith('.log')).sort().at(-1)!
  const out: string[][] = []
  for (const r of readLog(readFileSync(join(dir, log)))) out.push(decodeBatch(r.data).ops.map((op) => op.key.toString()))
  return out
}

describe('write groups', () => {
  it('awaited writers get a record each, writers of one tick share records, and order holds', async () => {
    const dir = join(root, 'groups')
    const db = new LsmLevel<string, string>(dir)
    await db.open()

    for (let i = 0; i < 20; i++) await db.put(`a${i}`, 'v')
    // Issued in one tick: the first goes straight to the log, the rest join one group behind it.
    await Promise.all(Array.from({ length: 64 }, (_, i) => db.put(`b${String(i).padStart(2, '0')}`, 'v')))
    // Eight lanes that each await their own writes: after a group resolves, all lanes write again at once.
    await Promise.all(Array.from({ length: 8 }, async (_, lane) => {
      for (let i = 0; i < 10; i++) await db.put(`c${lane}-${i}`, 'v')
    }))

    const records = logRecords(dir)
    const a = records.filter((r) => r[0].startsWith('a'))
    expect(a).toEqual(Array.from({ length: 20 }, (_, i) => [`a${i}`]))
    const b = records.filter((r) => r[0].startsWith('b'))
    expect(b.length).toBeLessThanOrEqual(3)
    // Record order and op order within records are the order the writers called put().
    expect(b.flat()).toEqual(Array.from({ length: 64 }, (_, i) => `b${String(i).padStart(2, '0')}`))
    const c = records.filter((r) => r[0].startsWith('c'))
    expect(c.flat()).toHaveLength(80)
    expect(c.length).toBeLessThan(40)
    for (let lane = 0; lane < 8; lane++) {
      expect(c.flat().filter((k) => k.startsWith(`c${lane}-`))).toEqual(Array.from({ length: 10 }, (_, i) => `c${lane}-${i}`))
    }
    await db.close()
  })

  it('a write issued after a sync write, or before one, in the same tick lands in call order', async () => {
    const db = new LsmLevel<string, string>(join(root, 'order'))
    await db.open()
    await Promise.all([db.put('k', 'first', { sync: true } as AbstractPutOptions<string, string>), db.put('k', 'second')])
    expect(await db.get('k')).toBe('second')
    await Promise.all([db.put('j', 'first'), db.put('j', 'second', { sync: true } as AbstractPutOptions<string, string>), db.del('j')])
    expect(await db.get('j')).toBeUndefined()
    await Promise.all([db.del('i'), db.put('i', 'last')])
    expect(await db.get('i')).toBe('last')
    await db.close()
  })
})
