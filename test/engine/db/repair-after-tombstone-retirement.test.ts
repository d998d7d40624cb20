// Repair after a crash must not bring back a range that clear() deleted.
import { describe, it, expect } from 'vitest'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'

describe('repair after a crash that left obsolete tables behind', () => {
  it('does not resurrect keys a retired range tombstone deleted', async () => {
    const mem = new MemoryFileSystem()
    const db = new LsmLevel<string, string>('/db', { fs: mem })
    await db.open()
    await db.batch(Array.from({ length: 100 }, (_, i) => ({ type: 'put' as const, key: `a${String(i).padStart(2, '0')}`, value: 'old' })))
    await db.flush()
    // An open iterator keeps the table on disk after it leaves the version (as a crash before the unlink would).
    const it = db.iterator()
    await db.clear({ gte: 'a', lt: 'b' })
    await db.flush() // flushes the tombstone, then retires it: the table is dropped from the MANIFEST
    expect(db.getProperty('lsm.range-tombstones')).toBe(0)
    expect(await db.get('a05')).toBeUndefined()
    // Later work makes the directory durable again: the log that held the clear() is gone for good.
    await db.put('z', 'later')
    await db.flush()
    expect(mem.readdir('/db').filter((n) => n.endsWith('.log')).length).toBe(1)
    void it
    mem.crash() // power loss: everything above was synced
    await LsmLevel.repair('/db', { fs: mem })
    const again = new LsmLevel<string, string>('/db', { fs: mem })
    await again.open()
    expect(await again.get('a05')).toBeUndefined() // today: 'old' (repair keeps the obsolete table and drops the retired tombstone)
    await again.close()
  })
})
