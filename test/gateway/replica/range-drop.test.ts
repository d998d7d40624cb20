import { pino } from 'pino'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { bucketHashesFromObjects, checkKeyHashIndex } from '../../../gateway/src/anti-entropy/index-check.js'
import { PartitionTrees } from '../../../gateway/src/anti-entropy/partition-trees.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage, RANGE_DROP_PREFIX } from '../../../gateway/src/replica/node-storage.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { partitionRange, storageKey, type KeyRange } from '../../../gateway/src/replica/storage-keys.js'
import { liveSiblings } from '../../../gateway/src/replica/stored-object.js'
import { partitionOf } from '../../../gateway/src/ring/partition.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// Dropping a partition a node no longer replicates as one range (ReplicaStore.fence/dropFenced over
// NodeStorage.dropRange), on a real lsm-level engine: the objects, the tombstone index and the key
// hash index of exactly that range go, as one unit that a crash cannot tear; a write that races the
// drop either cancels it (it was handed to the engine after the fence went up, or was in flight) or
// is applied after it (it started once the drop was handed over), so nothing acknowledged is lost
// and nothing dropped comes back.

const Q = 16
const P = 5
const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-range-drop')
let dir: string
let storage: NodeStorage
let store: ReplicaStore

async function open (): Promise<void> {
  storage = await NodeStorage.open(dir)
  KeyHashIndex.attach(storage)
  store = new ReplicaStore(storage, { actor: 'n1@000000000001', counter: await DotCounter.open(storage.meta), logger })
}

beforeEach(async () => {
  dir = tempDir()
  await open()
})
afterEach(async () => { await storage.close() })

const value = (text: string): { value: Uint8Array, contentType: string } => ({ value: Buffer.from(text), contentType: 'text/plain' })
const keys = Array.from({ length: 400 }, (_, i) => `key-${i}`)
const inP = keys.filter((k) => partitionOf(k, Q) === P)
const others = keys.filter((k) => partitionOf(k, Q) !== P)

/** Every key written, one in four then deleted (so the tombstone index holds some of each partition). */
async function seed (): Promise<void> {
  for (const [i, key] of keys.entries()) {
    await store.write(key, value(`v-${key}`), NOTHING_SEEN, { sync: false })
    if (i % 4 === 0) await store.write(key, null, 'current', { sync: false })
  }
}

async function count (space: { keys: (range: KeyRange) => AsyncIterable<string> }, range: KeyRange): Promise<number> {
  let n = 0
  for await (const _ of space.keys(range)) n++
  return n
}

const indexSpace = (): NodeStorage['objects'] => KeyHashIndex.attach(storage).space
const counts = async (range: KeyRange): Promise<{ objects: number, tombstones: number, index: number }> =>
  ({ objects: await count(storage.objects, range), tombstones: await count(storage.tombstones, range), index: await count(indexSpace(), range) })

test('a fenced partition nothing wrote to is dropped whole: its objects, tombstone index and key hash index, and no other partition\'s', async () => {
  expect(inP.length).toBeGreaterThan(10)
  await seed()
  const trees = new PartitionTrees({ store, index: KeyHashIndex.attach(storage), objects: storage.objects, partitionCount: Q, logger })
  trees.start()
  await trees.whenReady()
  const rootBefore = (await trees.local(P)).root()
  const range = partitionRange(P, Q)
  expect((await counts(range)).tombstones).toBeGreaterThan(0)

  const fence = await store.fence(range)
  expect(await store.dropFenced(fence, () => true)).toBe(true)

  expect(await counts(range)).toEqual({ objects: 0, tombstones: 0, index: 0 })
  for (const key of others) expect(await store.read(key), key).toBeDefined()
  const check = await checkKeyHashIndex(storage.objects, indexSpace())
  expect(check).toMatchObject({ objects: others.length, entries: others.length, missing: [], stale: [], wrong: [] })
  // The tree of the dropped partition is recomputed (empty), the others are unchanged.
  const tree = await trees.local(P)
  expect(tree.root().equals(rootBefore)).toBe(false)
  expect(tree.empty).toBe(true)
  const fromObjects = await bucketHashesFromObjects(storage.objects, Q, trees.bucketCount)
  expect(fromObjects.has(P)).toBe(false)
  expect(fromObjects.size).toBe(Q - 1)
  await trees.close()
})

test('a write handed to the engine after the fence went up cancels the drop: the partition stays, the write with it', async () => {
  await seed()
  const range = partitionRange(P, Q)
  const before = await counts(range)
  const fence = await store.fence(range)
  await store.write(inP[1]!, value('written after the fence'), 'current', { sync: false })
  expect(await store.dropFenced(fence, () => true)).toBe(false)
  store.unfence(fence)
  expect((await counts(range)).objects).toBe(before.objects)
  expect(liveSiblings((await store.read(inP[1]!))!).map((s) => Buffer.from(s.value.value).toString())).toEqual(['written after the fence'])
})

test('an operation in flight on a key of the range cancels the drop (it may have read before it and write after it)', async () => {
  await seed()
  const range = partitionRange(P, Q)
  const fence = await store.fence(range)
  const merging = store.write(inP[2]!, value('in flight'), 'current', { sync: false })
  expect(await store.dropFenced(fence, () => true)).toBe(false)
  await merging
  store.unfence(fence)
  expect(liveSiblings((await store.read(inP[2]!))!).map((s) => Buffer.from(s.value.value).toString())).toEqual(['in flight'])
})

test('a write that starts while the drop is applied waits for it: it is kept, and what was dropped does not come back with it', async () => {
  await seed()
  const range = partitionRange(P, Q)
  const fence = await store.fence(range)
  const dropped = store.dropFenced(fence, () => true)
  // 'current' supersedes whatever the key holds when the write reads it: after the drop, nothing.
  const written = store.write(inP[3]!, value('after the drop'), NOTHING_SEEN, { sync: false })
  expect(await dropped).toBe(true)
  await written
  const held = (await store.read(inP[3]!))!
  expect(held.siblings.map((s) => Buffer.from(s.value.value).toString())).toEqual(['after the drop'])
  expect(await counts(range)).toEqual({ objects: 1, tombstones: 0, index: 1 })
  expect(await checkKeyHashIndex(storage.objects, indexSpace())).toMatchObject({ missing: [], stale: [], wrong: [] })
})

test('the drop is refused when the node replicates the range again by the time it would be handed over', async () => {
  await seed()
  const range = partitionRange(P, Q)
  const before = await counts(range)
  const fence = await store.fence(range)
  expect(await store.dropFenced(fence, () => false)).toBe(false)
  store.unfence(fence)
  expect(await counts(range)).toEqual(before)
})

test('a drop a crash cut short (its marker stored, not every clear) is finished at the next open, before anything is written', async () => {
  await seed()
  const range = partitionRange(P, Q)
  // What a crash can leave: the marker and the first clear (the key hash index's) in the log, the rest lost.
  await storage.meta.put(RANGE_DROP_PREFIX + range.gte, JSON.stringify({ ...(range.lt === undefined ? {} : { lt: range.lt }), spaces: ['aae', 't', 'o'] }))
  await indexSpace().clear(range)
  expect((await counts(range)).objects).toBe(inP.length)
  await storage.close()
  await open()
  expect(await counts(range)).toEqual({ objects: 0, tombstones: 0, index: 0 })
  expect(await storage.meta.get(RANGE_DROP_PREFIX + range.gte)).toBeUndefined()
  for (const key of others) expect(await store.read(key), key).toBeDefined()
  expect(await checkKeyHashIndex(storage.objects, indexSpace())).toMatchObject({ objects: others.length, missing: [], stale: [], wrong: [] })
  expect(storageKey(inP[0]!) >= range.gte).toBe(true)
})
