import fc from 'fast-check'
import { MemoryFileSystem } from 'lsm-level'
import { pino } from 'pino'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { PartitionTrees } from '../../../gateway/src/anti-entropy/partition-trees.js'
import { INDEX_STATE_KEY, KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { bucketHashesFromObjects, checkKeyHashIndex } from '../../../gateway/src/anti-entropy/index-check.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { storageKey } from '../../../gateway/src/replica/storage-keys.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// Anti-entropy's trees on a real lsm-level engine: the key hash index written in the objects' own
// batches, built in the background for a directory that has none while writes keep landing, and
// bucket trees kept current by marking buckets stale. Whatever the history, every tree must equal
// one computed from scratch from the objects, and the index must equal the objects.

const Q = 64
const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-trees')
let storage: NodeStorage
let store: ReplicaStore
let clock: { now: number }

async function openNode (dir: string, fs?: MemoryFileSystem): Promise<{ storage: NodeStorage, store: ReplicaStore }> {
  const opened = await NodeStorage.open(dir, fs)
  KeyHashIndex.attach(opened)
  const replica = new ReplicaStore(opened, { actor: 'n1@000000000001', counter: await DotCounter.open(opened.meta), logger, now: () => clock.now })
  return { storage: opened, store: replica }
}

beforeEach(async () => {
  clock = { now: 1_700_000_000_000 }
  ;({ storage, store } = await openNode(tempDir()))
})
afterEach(async () => {
  await storage.close()
})

function trees (q = Q, buckets?: number, on = { storage, store }): PartitionTrees {
  return new PartitionTrees({ store: on.store, index: KeyHashIndex.attach(on.storage), objects: on.storage.objects, partitionCount: q, ...(buckets === undefined ? {} : { buckets }), logger })
}

/** Every bucket hash of every partition the trees hold (hex), buckets holding nothing left out. */
async function treeBuckets (t: PartitionTrees): Promise<Map<number, Map<number, string>>> {
  const zero = '0'.repeat(40)
  const out = new Map<number, Map<number, string>>()
  const all = Array.from({ length: t.bucketCount }, (_, b) => b)
  for (let p = 0; p < t.partitionCount; p++) {
    const hashes = (await t.local(p)).nodeHashes(t.shape.depth, all)
    const held = new Map(hashes.map((h, b) => [b, h.toString('hex')] as const).filter(([, h]) => h !== zero))
    if (held.size > 0) out.set(p, held)
  }
  return out
}

async function expectConsistent (t: PartitionTrees, on = storage): Promise<void> {
  const check = await checkKeyHashIndex(on.objects, KeyHashIndex.attach(on).space)
  expect({ missing: check.missing, stale: check.stale, wrong: check.wrong }).toEqual({ missing: [], stale: [], wrong: [] })
  expect(await treeBuckets(t)).toEqual(await bucketHashesFromObjects(on.objects, t.partitionCount, t.bucketCount))
}

const value = (text: string): { value: Uint8Array, contentType: string } => ({ value: Buffer.from(text), contentType: 'text/plain' })

function foreignObject (i: number, text: string): StoredObject {
  const dot = { actor: 'seed@000000000000', counter: i + 1 }
  return { clock: new Map([[dot.actor, { counter: dot.counter, timestamp: clock.now }]]), siblings: [{ dot, value: { tombstone: false, ...value(text), lastModified: clock.now } }] }
}

test('a directory without an index gets it built in the background while writes land; the trees equal the objects', async () => {
  // 20,000 objects written straight to the object space, as a release without the index left them.
  for (let first = 0; first < 20_000; first += 5_000) {
    const ops = []
    for (let i = first; i < first + 5_000; i++) ops.push({ type: 'put' as const, key: storageKey(`pre-${i}`), value: encodeObject(foreignObject(i, `v${i}`)) })
    await storage.objects.batch(ops)
  }
  const t = trees()
  expect(t.state).toBe('building')
  expect(t.isReady(0)).toBe(false)
  t.start()
  const changes: Array<Promise<unknown>> = []
  let duringBuild = 0
  for (let i = 0; i < 300; i++) {
    if (t.state === 'building') duringBuild++
    changes.push(store.write(`pre-${i * 61}`, value(`overwritten ${i}`), 'current', { sync: false })) // keys the build may not have reached
    changes.push(store.write(`new-${i}`, value(`new ${i}`), NOTHING_SEEN, { sync: false }))
    if (i % 3 === 0) changes.push(store.write(`pre-${i * 59 + 7}`, null, 'current', { sync: false }))
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(changes)
  expect(duringBuild, 'writes landed while the build ran').toBeGreaterThan(0)
  await t.whenReady()
  expect(t.state).toBe('ready')
  expect(t.isReady(Q - 1)).toBe(true)
  await expectConsistent(t)
  expect(t.stats()).toMatchObject({ state: 'ready', keys: 20_300, partitions: Q, indexedPartitions: Q, buckets: t.bucketCount })

  // Reaping removes keys from the index (same batch) and from the trees.
  clock.now += 10_000
  const { reaped } = await store.reapTombstones(1_000)
  expect(reaped).toBe(100)
  await expectConsistent(t)
  expect(t.stats().keys).toBe(20_200)

  // The next start trusts the stored mark: nothing is built again.
  await t.close()
  expect(t.state).toBe('closed')
  const again = trees()
  again.start()
  await again.whenReady()
  expect(again.stats().buildMs).toBeUndefined()
  await expectConsistent(again)
  await again.close()
})

test('after a start, a tree is computed when first read, by a scan of its own partition, without waiting for the background pass; each equals the full scan of the objects', async () => {
  const q = 256
  for (let first = 0; first < 8_000; first += 4_000) {
    const ops = []
    for (let i = first; i < first + 4_000; i++) ops.push({ type: 'put' as const, key: storageKey(`pre-${i}`), value: encodeObject(foreignObject(i, `v${i}`)) })
    await storage.objects.batch(ops)
  }
  const indexing = trees(q)
  indexing.start()
  await indexing.whenReady()
  await indexing.close()
  const fromObjects = await bucketHashesFromObjects(storage.objects, q, indexing.bucketCount)

  // A start: every partition is indexed (the stored mark), no tree is computed yet.
  const t = trees(q)
  expect(t.stats().computedPartitions).toBe(0)
  t.start()
  await t.whenIndexed()
  expect(t.isReady(q - 1)).toBe(true)
  // The last partition, which the background pass reaches last, is read first.
  const last = await t.local(q - 1)
  const computedThen = t.stats().computedPartitions
  expect(computedThen, 'computed on demand while the pass had done only a few').toBeLessThan(q / 2)
  expect(t.isCached(q - 1)).toBe(true)
  const all = Array.from({ length: t.bucketCount }, (_, b) => b)
  const lastBuckets = new Map(last.nodeHashes(t.shape.depth, all).map((h, b) => [b, h.toString('hex')] as const).filter(([, h]) => h !== '0'.repeat(40)))
  expect(lastBuckets).toEqual(fromObjects.get(q - 1))
  expect(t.state).toBe('building')

  // A write while the pass runs lands in its bucket before the tree is read.
  await store.write('pre-7', value('changed during the pass'), 'current', { sync: false })
  await t.whenReady()
  expect(t.stats()).toMatchObject({ state: 'ready', computedPartitions: q, cachedPartitions: q, keys: 8_000 })
  await expectConsistent(t)

  // Closed in the middle of a pass (a stop, or a crash: trees are only in memory), the next start computes them all again, the same.
  const stopped = trees(q)
  stopped.start()
  await stopped.whenIndexed()
  await stopped.local(0)
  await stopped.close()
  expect(stopped.stats().computedPartitions).toBeLessThan(q)
  const next = trees(q)
  next.start()
  await next.whenReady()
  expect(await treeBuckets(next)).toEqual(await treeBuckets(t))
  await t.close()
  await next.close()
})

test('a build removes index entries whose object went away while no index was kept, and objects that do not decode', async () => {
  await store.write('kept', value('fine'), NOTHING_SEEN, { sync: false })
  await store.write('gone', value('soon gone'), NOTHING_SEEN, { sync: false })
  await storage.objects.del(storageKey('gone')) // removed by a release without the index: its entry stays
  await storage.objects.put(storageKey('damaged'), new Uint8Array([1, 200]))
  await KeyHashIndex.attach(storage).space.put(storageKey('damaged'), Buffer.alloc(20, 7))
  expect((await checkKeyHashIndex(storage.objects, KeyHashIndex.attach(storage).space)).stale).toEqual(['gone'])
  await storage.meta.del(INDEX_STATE_KEY) // so the index counts as never built
  const t = trees()
  t.start()
  await t.whenReady()
  await expectConsistent(t)
  expect(t.stats()).toMatchObject({ keys: 1 })
  await t.close()
})

test('the trees hold O(buckets) per partition: the default is 256 buckets at Q 512, a chosen count gives its shape', () => {
  const big = trees(512)
  expect(big.bucketCount).toBe(256)
  expect(big.shape).toEqual({ fanout: 16, depth: 2 })
  expect(trees(512, 2048).shape).toEqual({ fanout: 2, depth: 11 })
  expect(trees(512, 1024).shape).toEqual({ fanout: 32, depth: 2 })
  expect(() => trees(512, 100)).toThrow(/power of two/)
})

type Step =
  | { op: 'write', key: number, text: string, sync: boolean }
  | { op: 'delete', key: number }
  | { op: 'merge', key: number, counter: number }
  | { op: 'reap' }
  | { op: 'compare' }

const KEYS = 40
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), key: fc.nat(KEYS - 1), text: fc.string({ maxLength: 8 }), sync: fc.boolean() }),
  fc.record({ op: fc.constant('delete' as const), key: fc.nat(KEYS - 1) }),
  fc.record({ op: fc.constant('merge' as const), key: fc.nat(KEYS - 1), counter: fc.nat(5) }),
  fc.constant({ op: 'reap' as const }),
  fc.constant({ op: 'compare' as const })
)

async function apply (s: Step, on: { store: ReplicaStore }): Promise<void> {
  const key = (n: number): string => `key-${n}`
  if (s.op === 'write') await on.store.write(key(s.key), value(s.text), 'current', { sync: s.sync })
  else if (s.op === 'delete') await on.store.write(key(s.key), null, 'current', { sync: false })
  else if (s.op === 'merge') await on.store.merge(key(s.key), foreignObject(s.counter, `m${s.counter}`), { sync: false })
  else if (s.op === 'reap') { clock.now += 2_000; await on.store.reapTombstones(1_000) }
}

test('incremental upkeep equals a rebuild from the objects, for random histories (fast-check)', async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), fc.constantFrom(16, 32, 64), async (steps, buckets) => {
    const fs = new MemoryFileSystem()
    const node = await openNode('/node', fs)
    const live = trees(4, buckets, node)
    live.start()
    await live.whenReady()
    try {
      // Steps run one after another with the trees read in between, then a burst runs concurrently with reads.
      for (const s of steps) {
        if (s.op === 'compare') await expectConsistent(live, node.storage)
        else await apply(s, node)
      }
      await Promise.all([...steps.map(async (s) => { if (s.op !== 'compare') await apply(s, node) }), treeBuckets(live)])
      await expectConsistent(live, node.storage)
      const rebuilt = trees(4, buckets, node)
      rebuilt.start()
      await rebuilt.whenReady()
      expect(await treeBuckets(rebuilt)).toEqual(await treeBuckets(live))
      await rebuilt.close()
    } finally {
      await live.close()
      await node.storage.close()
    }
  }), { numRuns: 40 })
}, 120_000)

test('after a power loss the index still equals the objects, and the trees computed from it equal them', async () => {
  for (let round = 0; round < 5; round++) {
    const fs = new MemoryFileSystem()
    let node = await openNode('/node', fs)
    const t = trees(8, 16, node)
    t.start()
    await t.whenReady()
    let writes: Array<Promise<unknown>> = []
    for (let i = 0; i < 400; i++) {
      const key = `k${(i * 7 + round) % 150}`
      if (i % 5 === 4) writes.push(node.store.write(key, null, 'current', { sync: i % 2 === 0 }))
      else writes.push(node.store.write(key, value(`v${i}`), 'current', { sync: i % 3 === 0 }))
      if (i % 50 === 0) writes.push(node.store.reapTombstones(0))
      if (i === 300 + round * 20) { fs.crash(); break } // power lost with writes in flight: what was not fsynced is gone
      if (writes.length >= 10) { await Promise.all(writes); writes = [] }
    }
    await Promise.allSettled(writes)
    node = await openNode('/node', fs)
    const after = trees(8, 16, node)
    after.start()
    await after.whenReady()
    const check = await checkKeyHashIndex(node.storage.objects, KeyHashIndex.attach(node.storage).space)
    expect(check.objects).toBeGreaterThan(0)
    await expectConsistent(after, node.storage)
    await after.close()
    await node.storage.close()
  }
})
