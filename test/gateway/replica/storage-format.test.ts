import { pino } from 'pino'
import { expect, test } from 'vitest'
import { HintStore } from '../../../gateway/src/handoff/hint-store.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { LEGACY_SPACES, NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { ensureStorageFormat, FORMAT_KEY, STORAGE_FORMAT } from '../../../gateway/src/replica/storage-format.js'
import { partitionRange, storageKey } from '../../../gateway/src/replica/storage-keys.js'
import { liveSiblings, type StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// The storage format record and the migration of a format-0 directory (replica/storage-format.ts):
// every key moved exactly once, resumable after a stop between any two batches, and a directory
// of a newer format refused with nothing changed.

const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-format')

function written (text: string, counter: number): StoredObject {
  const actor = 'seed@000000000000'
  return {
    clock: new Map([[actor, { counter, timestamp: 0 }]]),
    siblings: [{ dot: { actor, counter }, value: { tombstone: false, contentType: 'text/plain', lastModified: counter, value: Buffer.from(text) } }]
  }
}

// Keys that look like format-1 keys (8 hex digits first) and keys that sort before and after them.
const KEYS = Array.from({ length: 250 }, (_, i) => i % 5 === 0 ? `${(i * 7919).toString(16).padStart(8, '0')}look-alike-${i}` : i % 5 === 1 ? `~tail-${i}` : `key-${i}`)

/** A format-0 directory: objects, tombstone index and hints keyed by the user key. */
async function legacyDirectory (dir: string): Promise<void> {
  const storage = await NodeStorage.open(dir)
  const objects = storage.space(LEGACY_SPACES.objects)
  const tombstones = storage.space(LEGACY_SPACES.tombstones)
  const hints = storage.space(LEGACY_SPACES.hints)
  for (const [i, key] of KEYS.entries()) {
    await objects.put(key, encodeObject(written(`v-${i}`, i + 1)))
    if (i % 10 === 3) await tombstones.put(key, Buffer.from(String(1_000 + i)))
    if (i % 25 === 0) await hints.put(`node9\u0000${key}`, encodeObject(written(`hint-${i}`, i + 1)))
  }
  await storage.close()
}

async function expectMigrated (storage: NodeStorage): Promise<void> {
  expect(await storage.meta.get(FORMAT_KEY)).toBe(String(STORAGE_FORMAT))
  for (const space of Object.values(LEGACY_SPACES)) expect(await storage.space(space).keys().all()).toEqual([])
  const store = new ReplicaStore(storage, { actor: 'a@1', counter: await DotCounter.open(storage.meta), logger })
  for (const [i, key] of KEYS.entries()) {
    const object = await store.read(key)
    expect(object === undefined ? [] : liveSiblings(object).map((s) => Buffer.from(s.value.value).toString()), key).toEqual([`v-${i}`])
  }
  expect((await storage.objects.keys().all()).sort()).toEqual(KEYS.map(storageKey).sort())
  const tombstones = new Map<string, string>()
  for await (const [key, at] of storage.tombstoneEntries()) tombstones.set(key, at)
  expect(Object.fromEntries(tombstones)).toEqual(Object.fromEntries(KEYS.flatMap((key, i) => i % 10 === 3 ? [[key, String(1_000 + i)]] : [])))
  const hints = await HintStore.open(storage, logger)
  expect(Object.fromEntries(hints.pending())).toEqual({ node9: 10 })
  for (const [i, key] of KEYS.entries()) {
    if (i % 25 === 0) expect(liveSiblings((await hints.get('node9', key))!).map((s) => Buffer.from(s.value.value).toString())).toEqual([`hint-${i}`])
  }
  // A partition's keys are its range.
  const inRange: string[] = []
  for await (const [key] of storage.objectEntries({ range: partitionRange(3, 16) })) inRange.push(key)
  expect(inRange.length).toBeGreaterThan(0)
  for (const key of inRange) expect(storageKey(key) >= partitionRange(3, 16).gte && storageKey(key) < partitionRange(3, 16).lt!).toBe(true)
}

test('a format-0 directory is migrated: every object, tombstone entry and hint under its new key, the format recorded', async () => {
  const dir = tempDir()
  await legacyDirectory(dir)
  const storage = await NodeStorage.open(dir)
  try {
    expect(await ensureStorageFormat(storage, dir, logger, { batchKeys: 64 })).toEqual({ from: 0, to: STORAGE_FORMAT, moved: KEYS.length + 25 + 10 })
    await expectMigrated(storage)
    expect(await ensureStorageFormat(storage, dir, logger)).toEqual({ from: STORAGE_FORMAT, to: STORAGE_FORMAT, moved: 0 })
  } finally {
    await storage.close()
  }
})

test('a migration stopped between any two batches resumes on the next open and moves every key exactly once', async () => {
  const dir = tempDir()
  await legacyDirectory(dir)
  let total = 0
  for (let life = 0; life < 20; life++) {
    const storage = await NodeStorage.open(dir)
    try {
      const report = await ensureStorageFormat(storage, dir, logger, { batchKeys: 32, stopAfterBatches: 1 + (life % 3) })
      total += report.moved
      if (report.to === STORAGE_FORMAT) break
      expect(await storage.meta.get(FORMAT_KEY)).toBeUndefined()
    } finally {
      await storage.close()
    }
  }
  expect(total).toBe(KEYS.length + 25 + 10)
  const storage = await NodeStorage.open(dir)
  try {
    await expectMigrated(storage)
  } finally {
    await storage.close()
  }
})

test('a new directory records the current format; one of a newer format is refused with what to do, and nothing changes', async () => {
  const dir = tempDir()
  const storage = await NodeStorage.open(dir)
  try {
    expect(await ensureStorageFormat(storage, dir, logger)).toEqual({ from: 0, to: STORAGE_FORMAT, moved: 0 })
    expect(await storage.meta.get(FORMAT_KEY)).toBe(String(STORAGE_FORMAT))
    await storage.meta.put(FORMAT_KEY, String(STORAGE_FORMAT + 1))
    await storage.objects.put(storageKey('k'), encodeObject(written('v', 1)))
    await expect(ensureStorageFormat(storage, dir, logger)).rejects.toMatchObject({
      code: 'LEVELRING_STORAGE_FORMAT', message: expect.stringMatching(/storage format "2".*reads formats 0 to 1: start a release that knows it.*empty data directory/)
    })
    expect(await storage.meta.get(FORMAT_KEY)).toBe(String(STORAGE_FORMAT + 1))
    expect(await storage.objects.keys().all()).toEqual([storageKey('k')])
  } finally {
    await storage.close()
  }
})
