import { describe, it, expect } from 'vitest'
import { join } from 'node:path'
import { LsmLevel } from 'lsm-level'
import { seededRandom } from '../../support/random.mjs'
import { tempRoot } from '../../support/temp-dir.js'

const root = tempRoot('lsm-model')

/** Tiny sizes: 100k operations drive hundreds of flushes and many compactions through every level. */
const TINY = {
  writeBufferSize: 16 * 1024,
  blockSize: 256,
  blockRestartInterval: 4,
  maxFileSize: 32 * 1024,
  maxBytesForLevelBase: 64 * 1024,
  level0CompactionTrigger: 2,
  level0SlowdownTrigger: 4,
  level0StopTrigger: 6,
  blockCacheSize: 64 * 1024
}

function sortedEntries (m: Map<string, string>): Array<[string, string]> {
  return [...m.entries()].sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
}

async function checkAgainst (db: LsmLevel<string, string>, model: Map<string, string>, keySpace: string[], label: string): Promise<void> {
  const expected = sortedEntries(model)
  const forward = await db.iterator().all()
  expect(forward.length, `${label}: forward count`).toBe(expected.length)
  expect(forward, `${label}: forward entries`).toEqual(expected)
  const reverse = await db.iterator({ reverse: true }).all()
  expect(reverse, `${label}: reverse entries`).toEqual([...expected].reverse())
  const values = await db.getMany(keySpace)
  keySpace.forEach((k, i) => {
    if (values[i] !== model.get(k)) expect(values[i], `${label}: get ${k}`).toBe(model.get(k))
  })
  // A bounded range in both directions.
  const lo = keySpace[Math.floor(keySpace.length / 3)]
  const hi = keySpace[Math.floor((2 * keySpace.length) / 3)]
  const [a, b] = Buffer.compare(Buffer.from(lo), Buffer.from(hi)) < 0 ? [lo, hi] : [hi, lo]
  const inRange = expected.filter(([k]) => k >= a && k < b)
  expect(await db.iterator({ gte: a, lt: b }).all(), `${label}: range`).toEqual(inRange)
  expect(await db.iterator({ gte: a, lt: b, reverse: true }).all(), `${label}: reverse range`).toEqual([...inRange].reverse())
}

describe('lsm-level against a Map model, with tiny memtable and block sizes', () => {
  it('100k random puts, deletes and batches: equal before and after reopen; a snapshot keeps the old state', async () => {
    const location = join(root, 'model')
    const random = seededRandom(0xC0FFEE)
    const keySpace = Array.from({ length: 5000 }, (_, i) => `k${(i * 7919) % 5000}`.padEnd(4 + (i % 13), String.fromCharCode(97 + (i % 26))))
    const model = new Map<string, string>()
    let db = new LsmLevel<string, string>(location, TINY)
    await db.open()

    const OPS = 100_000
    let snapshot: ReturnType<typeof db.snapshot> | null = null
    let snapshotModel: Map<string, string> | null = null
    let i = 0
    while (i < OPS) {
      const r = random()
      if (r < 0.6) {
        const k = keySpace[Math.floor(random() * keySpace.length)]
        const v = `v${i}-${'x'.repeat(Math.floor(random() * 40))}`
        await db.put(k, v)
        model.set(k, v)
        i++
      } else if (r < 0.8) {
        const k = keySpace[Math.floor(random() * keySpace.length)]
        await db.del(k)
        model.delete(k)
        i++
      } else {
        const batch = db.batch()
        const n = 1 + Math.floor(random() * 50)
        for (let j = 0; j < n; j++) {
          const k = keySpace[Math.floor(random() * keySpace.length)]
          if (random() < 0.75) {
            const v = `b${i}-${j}`
            batch.put(k, v)
            model.set(k, v)
          } else {
            batch.del(k)
            model.delete(k)
          }
        }
        await batch.write()
        i += n
      }
      if (snapshot === null && i >= OPS / 2) {
        snapshot = db.snapshot()
        snapshotModel = new Map(model)
      }
    }
    const stats = db.getProperty('lsm.stats') as { flushes: number, compactions: number }
    expect(stats.flushes).toBeGreaterThan(50)
    expect(stats.compactions).toBeGreaterThan(5)

    await checkAgainst(db, model, keySpace, 'live')
    // The snapshot taken half-way still sees the old state, after all the flushes and compactions since.
    const snapEntries = await db.iterator({ snapshot: snapshot! }).all()
    expect(snapEntries).toEqual(sortedEntries(snapshotModel!))
    const snapReverse = await db.iterator({ snapshot: snapshot!, reverse: true }).all()
    expect(snapReverse).toEqual(sortedEntries(snapshotModel!).reverse())
    const snapValues = await db.getMany(keySpace.slice(0, 500), { snapshot: snapshot! })
    keySpace.slice(0, 500).forEach((k, j) => expect(snapValues[j]).toBe(snapshotModel!.get(k)))
    await snapshot!.close()

    await db.close()
    db = new LsmLevel<string, string>(location, TINY)
    await db.open()
    await checkAgainst(db, model, keySpace, 'reopened')
    await db.compactRange('\x00', '\xff')
    await checkAgainst(db, model, keySpace, 'compacted')
    await db.close()
  }, 240_000)

  it('values of 0 bytes, 10 KiB and 1 MiB round-trip; keys that are prefixes of each other sort right', async () => {
    const location = join(root, 'sizes')
    const db = new LsmLevel<string, Buffer>(location, { ...TINY, valueEncoding: 'buffer' })
    await db.open()
    const values: Record<string, Buffer> = {
      empty: Buffer.alloc(0),
      ten: Buffer.alloc(10 * 1024, 7),
      mega: Buffer.from(Array.from({ length: 1024 * 1024 }, (_, i) => i % 251))
    }
    for (const [k, v] of Object.entries(values)) await db.put(k, v)
    const prefixes = ['a', 'aa', 'aaa', 'ab', 'a\x00', 'b', '']
    for (const k of prefixes.filter((p) => p !== '')) await db.put(k, Buffer.from(k))
    const check = async (): Promise<void> => {
      for (const [k, v] of Object.entries(values)) expect(Buffer.compare((await db.get(k))!, v)).toBe(0)
      const keys = await db.keys({ lt: 'b\x00' }).all()
      expect(keys.filter((k) => prefixes.includes(k))).toEqual(['a', 'a\x00', 'aa', 'aaa', 'ab', 'b'])
      expect(await db.keys({ reverse: true, lte: 'ab' }).all()).toEqual(['ab', 'aaa', 'aa', 'a\x00', 'a'])
    }
    await check()
    await db.compactRange('', '\xff')
    await check()
    await db.close()
    await db.open()
    await check()
    await db.close()
  })

  it('clear(range) hides the range at once, survives reopen, and is retired in the background', async () => {
    const location = join(root, 'clear')
    const db = new LsmLevel<string, string>(location, TINY)
    await db.open()
    for (let i = 0; i < 20_000; i++) await db.put(`key${String(i).padStart(6, '0')}`, `value${i}`)
    await db.clear({ gte: 'key001000', lt: 'key019000' })
    await db.put('key005000', 'after-clear')
    const expectState = async (): Promise<void> => {
      const keys = await db.keys().all()
      expect(keys.length).toBe(1000 + 1000 + 1)
      expect(await db.get('key005000')).toBe('after-clear')
      expect(await db.get('key000999')).toBe('value999')
      expect(await db.get('key001000')).toBeUndefined()
      expect(await db.get('key019000')).toBe('value19000')
    }
    await expectState()
    await db.close()
    await db.open()
    await expectState()
    await db.flush()
    expect(db.getProperty('lsm.range-tombstones')).toBe(0)
    await expectState()
    await db.close()
  })
})
