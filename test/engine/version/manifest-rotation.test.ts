// Obsolete-file deletion racing the CURRENT switch of a MANIFEST rotation.
import { describe, it, expect } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import { DelayedSyncFileSystem } from '../fixtures/delayed-sync-fs.js'

/** A disk on which fsync of CURRENT's temp file takes 50 ms. */
function slowTempSync (mem: MemoryFileSystem): DelayedSyncFileSystem {
  return new DelayedSyncFileSystem(mem, (p) => p.endsWith('.tmp') ? sleep(50) : undefined)
}

describe('MANIFEST rotation', () => {
  it('an iterator closed while CURRENT is being switched does not break the switch', async () => {
    const mem = new MemoryFileSystem()
    const db = new LsmLevel<string, string>('/db', { fs: slowTempSync(mem) })
    await db.open()
    await db.put('first', 'x')
    const it = db.iterator() // pins the current version
    // Edits of ~1 MiB each (a new table's smallest and largest keys): the 9th passes the 8 MiB rotation threshold.
    for (let i = 0; i < 9; i++) {
      await db.put(String(i).repeat(512 * 1024), 'v')
      await db.flush()
    }
    await db.put('last', 'v')
    const flushing = db.flush().catch((e: Error) => e)
    await sleep(20) // the rotation now waits on the temp file's fsync
    await it.close() // its version is released: obsolete files are deleted
    const outcome = await flushing
    expect(outcome).toBeUndefined() // today: LEVEL_IO_ERROR "install CURRENT" (ENOENT: the temp file was deleted as obsolete)
    expect(db.getProperty('lsm.background-error')).toBe(null)
    await db.close()
  })
})
