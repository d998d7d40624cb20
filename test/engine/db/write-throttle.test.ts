// The compaction-debt throttle: while compaction is behind, writers are held to a rate, and they keep
// moving whatever compaction does (stuck, failed, or cut short by close()).
import { describe, it, expect } from 'vitest'
import { setTimeout as sleep } from 'node:timers/promises'
import { LsmLevel, MemoryFileSystem } from 'lsm-level'
import type { WritableFile } from '../../../engine/src/fs/file-system.js'

/**
 * A memory file system whose table files, from the `holdFrom`-th created on, do not finish their sync until
 * release() (or fail with EIO on fail()): with two flushes before it, that holds the first compaction.
 */
class HeldTablesFileSystem extends MemoryFileSystem {
  readonly #holdFrom: number
  #tables = 0
  #settle: ((err?: Error) => void) | null = null
  readonly #gate: Promise<void>
  /** Set once a held sync is waiting. */
  holding = false

  constructor (holdFrom: number) {
    super()
    this.#holdFrom = holdFrom
    this.#gate = new Promise<void>((resolve, reject) => { this.#settle = (err) => err === undefined ? resolve() : reject(err) })
    this.#gate.catch(() => {})
  }

  override openWritable (p: string): WritableFile {
    const file = super.openWritable(p)
    if (p.endsWith('.sst') && ++this.#tables >= this.#holdFrom) {
      const sync = file.sync.bind(file)
      file.sync = async () => {
        this.holding = true
        await this.#gate
        return await sync()
      }
    }
    return file
  }

  release (): void { this.#settle!() }
  fail (): void { this.#settle!(Object.assign(new Error('EIO: i/o error (injected), sync'), { code: 'EIO', errno: -5, syscall: 'sync' })) }
}

const KiB = 1024

/** A database whose first compaction hangs on fs (level targets of 1 byte and up make one due at once). */
async function openWithStuckCompaction (fs: HeldTablesFileSystem, delayedWriteRate: number): Promise<LsmLevel<string, string>> {
  const db = new LsmLevel<string, string>('/db', {
    fs, writeBufferSize: 8 * 1024 * KiB, maxBytesForLevelBase: 1, softPendingCompactionBytes: KiB, delayedWriteRate
  })
  await db.open()
  // Every level's target is tiny: the first flush's table is moved down to where it fits, the second's
  // stops above it, and the compaction of the two hangs. (flush() itself is not awaited the second time: it
  // waits for the background loop the held compaction occupies.)
  for (let gen = 0; gen < 2; gen++) {
    await db.batch(Array.from({ length: 200 }, (_, i) => ({ type: 'put' as const, key: `k${String(i).padStart(4, '0')}`, value: `v${gen}` })))
    const flushed = db.flush()
    if (gen === 0) await flushed
    else flushed.catch(() => {})
  }
  for (let i = 0; i < 500 && !fs.holding; i++) await sleep(10)
  expect(fs.holding).toBe(true)
  expect(db.getProperty('lsm.pending-compaction-bytes')).toBeGreaterThan(KiB)
  return db
}

function writeDelayMs (db: LsmLevel<string, string>): number {
  return (db.getProperty('lsm.compaction-stats') as { writeDelayMs: number }).writeDelayMs
}

describe('the compaction-debt write throttle', () => {
  it('holds writers to delayedWriteRate while compaction is stuck, and every write completes', async () => {
    const fs = new HeldTablesFileSystem(3)
    const db = await openWithStuckCompaction(fs, 256 * KiB)
    const rate = db.getProperty('lsm.delayed-write-rate') as number
    // The rate the debt calls for: delayedWriteRate halved for each softPendingCompactionBytes past the limit.
    const debt = db.getProperty('lsm.pending-compaction-bytes') as number
    expect(rate).toBe(Math.max(64 * KiB, 256 * KiB * 2 ** (-(debt - KiB) / KiB)))
    const value = 'x'.repeat(4 * KiB)
    // About a second's worth of writes at that rate (never fewer than 16).
    const puts = Math.max(16, Math.ceil(rate / (4 * KiB)))
    const started = performance.now()
    for (let i = 0; i < puts; i++) await db.put(`w${i}`, value)
    const elapsed = performance.now() - started
    // Records of a bit over 4 KiB each: never much less than their bytes at the rate (the last one is unpaid).
    const expected = (puts - 1) * 4 * KiB / rate * 1000
    expect(elapsed).toBeGreaterThan(0.9 * expected)
    expect(elapsed).toBeLessThan(20_000)
    expect(writeDelayMs(db)).toBeGreaterThan(0.8 * expected)
    expect(db.getProperty('lsm.delayed-write-rate')).toBe(rate)
    expect(await db.get(`w${puts - 1}`)).toBe(value)

    // Once compaction is done, writers are free again.
    fs.release()
    for (let i = 0; i < 500 && db.getProperty('lsm.pending-compaction-bytes') !== 0; i++) await sleep(10)
    expect(db.getProperty('lsm.pending-compaction-bytes')).toBe(0)
    expect(db.getProperty('lsm.delayed-write-rate')).toBe(0)
    const delayed = writeDelayMs(db)
    for (let i = 0; i < 64; i++) await db.put(`z${i}`, value)
    expect(writeDelayMs(db)).toBe(delayed)
    await db.close()
  })

  it('lets a held writer see the error when the stuck compaction fails', async () => {
    const fs = new HeldTablesFileSystem(3)
    // 1 KiB a second: each 8 KiB put owes the throttle 8 seconds, far longer than the error may take to arrive.
    const db = await openWithStuckCompaction(fs, KiB)
    const value = 'x'.repeat(8 * KiB)
    const writes = (async () => {
      for (let i = 0; i < 100; i++) await db.put(`w${i}`, value)
    })()
    await sleep(200)
    fs.fail()
    const outcome = await Promise.race([
      writes.then(() => 'completed', (err: Error & { code?: string }) => err.code),
      sleep(3000).then(() => 'hung')
    ])
    expect(outcome).toBe('LEVEL_IO_ERROR')
    await db.close().catch(() => {})
  })

  it('lets a held writer go at once when close() begins', async () => {
    const fs = new HeldTablesFileSystem(3)
    const db = await openWithStuckCompaction(fs, KiB)
    const value = 'x'.repeat(8 * KiB)
    await db.put('a', value) // owes the throttle 8 seconds
    const held = db.put('b', value)
    await sleep(50)
    // Compaction no longer runs once closing: the held write goes at once, for close() waits for it.
    const closed = db.close()
    const outcome = await Promise.race([held.then(() => 'written'), sleep(3000).then(() => 'held')])
    expect(outcome).toBe('written')
    fs.release()
    await closed
  })
})
