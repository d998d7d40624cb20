import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { Memtable } from '../../../engine/src/memtable/memtable.js'
import { ArenaPool } from '../../../engine/src/memtable/arena-pool.js'
import { KIND_DELETE, KIND_VALUE } from '../../../engine/src/keys.js'
import { tempRoot } from '../../support/temp-dir.js'

// A memtable's entries live in an arena that a later memtable reuses once nobody reads the first one: the
// database holds one reference, every open iterator another. Reuse must never change what a reader still
// sees: an iterator opened before many flushes reads its snapshot intact, and a value returned by get
// stays what it was.

const root = tempRoot('lsm-memtable-arena')

const key = (i: number): string => `key-${String(i).padStart(6, '0')}`

describe('memtable arena reuse', () => {
  it('an arena goes back to the pool only after the last reference, and a reused one starts empty', () => {
    const pool = new ArenaPool(4096, 2)
    const a = new Memtable(pool)
    for (let i = 0; i < 500; i++) a.addString(key(i), i + 1, KIND_VALUE, Buffer.from(`a-${i}`))
    a.addString(key(7), 1000, KIND_DELETE, Buffer.alloc(0))
    a.ref() // a reader
    a.unref() // the database lets go (flushed)
    // Still referenced: a new memtable must get another arena, and the reader's view must not change.
    const b = new Memtable(pool)
    for (let i = 0; i < 500; i++) b.addString(key(i), 2000 + i, KIND_VALUE, Buffer.from(`b-${i}`))
    const it = a.iterator()
    let n = 0
    for (it.seekToFirst(); it.valid(); it.next()) n++
    expect(n).toBe(501)
    expect(a.lookup(key(3), Infinity)?.seq).toBe(4)
    const e = a.lookup(key(3), Infinity)!
    expect(e.rec.toString('latin1', e.voff, e.voff + e.vlen)).toBe('a-3')
    expect(a.lookup(key(7), Infinity)?.kind).toBe(KIND_DELETE)
    expect(a.lookup(key(7), 999)?.kind).toBe(KIND_VALUE)
    a.unref() // the reader is done: a's arena is spare now
    const c = new Memtable(pool) // takes a's arena
    expect(c.isEmpty).toBe(true)
    expect(c.lookup(key(3), Infinity)).toBeUndefined()
    const ci = c.iterator()
    ci.seekToFirst()
    expect(ci.valid()).toBe(false)
    c.addString('zzz', 1, KIND_VALUE, Buffer.from('c'))
    const found = c.lookup('zzz', Infinity)!
    expect(found.rec.toString('latin1', found.voff, found.voff + found.vlen)).toBe('c')
    for (ci.seekToFirst(); ci.valid(); ci.next()) expect(ci.key().toString('latin1', 0, 3)).toBe('zzz')
    expect(b.lookup(key(499), Infinity)?.seq).toBe(2499)
    expect(() => { a.unref() }).toThrow(/released twice/)
  })

  it('an iterator opened before many flushes reads its snapshot intact while later memtables reuse arenas', async () => {
    const db = new LsmLevel<string, string>(join(root, 'db'), { writeBufferSize: 64 * 1024 })
    await db.open()
    for (let i = 0; i < 2000; i++) await db.put(key(i), `first-${i}-${'x'.repeat(100)}`)
    const kept = await db.get(key(5))
    const it = db.iterator()
    const early = await it.nextv(10)
    // ~20 memtables' worth of overwrites: every arena is flushed and reused several times over.
    for (let round = 0; round < 6; round++) {
      await db.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: key(i), value: `round-${round}-${i}-${'y'.repeat(100)}` })))
    }
    const rest = await it.all()
    await it.close()
    const seen = [...early, ...rest]
    expect(seen.length).toBe(2000)
    for (let i = 0; i < 2000; i++) expect(seen[i]).toEqual([key(i), `first-${i}-${'x'.repeat(100)}`])
    expect(kept).toBe(`first-5-${'x'.repeat(100)}`)
    expect(await db.get(key(5))).toBe(`round-5-5-${'y'.repeat(100)}`)
    await db.close()
  })
})
