// Review: obsolete-file deletion racing the CURRENT switch of a MANIFEST rotation.
import { describe, it, expect } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import type { FileSystem, WritableFile, ReadableFile, FileLock } from '../../engine/src/fs.js'

/** A disk on which fsync of CURRENT's temp file takes 50 ms. */
class SlowTempSyncFileSystem implements FileSystem {
  constructor (readonly inner: MemoryFileSystem) {}
  mkdirp (d: string): void { this.inner.mkdirp(d) }
  readdir (d: string): string[] { return this.inner.readdir(d) }
  exists (p: string): boolean { return this.inner.exists(p) }
  stat (p: string): { size: number, isDirectory: boolean } { return this.inner.stat(p) }
  readFile (p: string): Buffer { return this.inner.readFile(p) }
  openReadable (p: string): ReadableFile { return this.inner.openReadable(p) }
  rename (a: string, b: string): void { this.inner.rename(a, b) }
  unlink (p: string): void { this.inner.unlink(p) }
  removeDir (d: string): void { this.inner.removeDir(d) }
  async syncDir (d: string): Promise<void> { await this.inner.syncDir(d) }
  lock (p: string): FileLock { return this.inner.lock(p) }
  openWritable (p: string): WritableFile {
    const f = this.inner.openWritable(p)
    return {
      get path () { return f.path },
      get size () { return f.size },
      append: (d: Uint8Array) => f.append(d),
      flush: () => f.flush(),
      syncSync: () => f.syncSync(),
      close: () => f.close(),
      async sync () {
        if (p.endsWith('.tmp')) await sleep(50)
        await f.sync()
      }
    }
  }
}

describe('MANIFEST rotation', () => {
  it('an iterator closed while CURRENT is being switched does not break the switch', async () => {
    const mem = new MemoryFileSystem()
    const db = new LsmLevel<string, string>('/db', { fs: new SlowTempSyncFileSystem(mem) })
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
