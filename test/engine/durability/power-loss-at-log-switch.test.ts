// Power loss while the previous commit log's fsync (deferred by the memtable switch) is still in flight.
import { describe, it, expect } from 'vitest'
import type { AbstractPutOptions } from 'abstract-level'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import { DelayedSyncFileSystem } from '../fixtures/delayed-sync-fs.js'

/** A disk whose commit-log and table fsyncs, once `slow` is set, never complete: power fails before they do. */
class SlowSyncFileSystem extends DelayedSyncFileSystem {
  slow = false
  constructor (inner: MemoryFileSystem) {
    super(inner, (p) => this.slow && /\.(log|sst)$/.test(p) ? new Promise<void>(() => {}) : undefined)
  }
}

/**
 * Writes 's' (synced), then 'a' (unsynced, fills the memtable) and 'b' (unsynced, in the next log while the
 * older log's fsync is in flight), then loses power keeping `keepOfOlderLog(n)` of the older log's n unsynced
 * bytes and all of the newer one's; reopens and checks 's' and that what survived is a prefix of the history.
 */
async function crashAfterSwitch (keepOfOlderLog: (n: number) => number): Promise<void> {
  const mem = new MemoryFileSystem()
  const fs = new SlowSyncFileSystem(mem)
  const db = new LsmLevel<string, string>('/db', { fs, writeBufferSize: 4096 })
  await db.open()
  await db.put('s', 'synced', { sync: true } as AbstractPutOptions<string, string>)
  fs.slow = true
  await db.put('a', 'x'.repeat(5000)) // unsynced, fills the memtable
  await db.put('b', 'after the switch') // unsynced, goes to the next log while the older one's fsync is in flight
  const logs = mem.readdir('/db').filter((n) => n.endsWith('.log')).sort()
  expect(logs.length).toBe(2)
  mem.crash({ keepUnsynced: (path, n) => path.endsWith(logs[0]) ? keepOfOlderLog(n) : n })
  const again = new LsmLevel<string, string>('/db', { fs: mem })
  await again.open() // before the fix: LEVEL_CORRUPTION in the older log (read in absolute-consistency: "not the tail")
  expect(await again.get('s')).toBe('synced')
  // A prefix of the history: 'b' was written after 'a', so it cannot survive without it.
  if (await again.get('b') !== undefined) expect(await again.get('a')).toBeDefined()
  await again.close()
}

describe('power loss right after a memtable switch', () => {
  it('reopens with a prefix of the unsynced writes when the older log lost its tail', async () => {
    // The disk wrote back the newer log but not the last few bytes of the older one.
    await crashAfterSwitch((n) => n - 10)
  })
  it('keeps a prefix when the older log lost its whole unsynced tail and the newer one did not', async () => {
    await crashAfterSwitch(() => 0)
  })
})
