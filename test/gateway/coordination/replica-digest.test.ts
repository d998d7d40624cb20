import { pino } from 'pino'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { PartitionTrees } from '../../../gateway/src/anti-entropy/partition-trees.js'
import { digestOfStored, NO_DIGEST, storedDigest, storedWithDigest } from '../../../gateway/src/coordination/replica-digest.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { bucketOf, storageKey } from '../../../gateway/src/replica/storage-keys.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'
import { tempDirPerTest } from '../../support/temp-dir.js'

// A replica's answer to a digest read, on a real lsm-level engine: read from anti-entropy's key hash
// index where the index vouches for the key's partition, else the stored object read and hashed. The
// two must never differ, whatever the object holds, and an index that is not (yet) complete, or holds
// an entry the objects disagree with, must never be believed.

const Q = 16
const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-digest')
let storage: NodeStorage
let store: ReplicaStore
let index: KeyHashIndex
let clock: { now: number }
let dir: string

beforeEach(async () => {
  clock = { now: 1_700_000_000_000 }
  dir = tempDir()
  storage = await NodeStorage.open(dir)
  index = KeyHashIndex.attach(storage)
  store = new ReplicaStore(storage, { actor: 'n1@000000000001', counter: await DotCounter.open(storage.meta), logger, now: () => clock.now })
})
afterEach(async () => {
  await storage.close()
})

/** Build the index of every partition, as a node's anti-entropy does at start. */
async function buildIndex (): Promise<void> {
  const trees = new PartitionTrees({ store, index, objects: storage.objects, partitionCount: Q, logger })
  trees.start()
  await trees.whenReady()
  await trees.close()
}

/** What a digest read answers from the object alone (the stored bytes hashed). */
async function fromObject (key: string): Promise<string> {
  return digestOfStored(await store.readEncoded(key))
}

const text = (value: string): { value: Uint8Array, contentType: string } => ({ value: Buffer.from(value), contentType: 'text/plain' })

function foreign (actor: string, value: string): StoredObject {
  const dot = { actor, counter: 1 }
  return { clock: new Map([[actor, { counter: 1, timestamp: clock.now }]]), siblings: [{ dot, value: { tombstone: false, ...text(value), lastModified: clock.now } }] }
}

test('a built index answers the digest of every stored set: values, siblings, tombstones; a key gone answers nothing', async () => {
  await buildIndex()
  await store.write('plain', text('one'), NOTHING_SEEN, { sync: false })
  await store.write('overwritten', text('one'), NOTHING_SEEN, { sync: false })
  await store.write('overwritten', text('two'), 'current', { sync: false })
  await store.write('siblings', text('ours'), NOTHING_SEEN, { sync: false })
  await store.merge('siblings', foreign('peer@000000000002', 'theirs'), { sync: false })
  await store.write('deleted', text('gone soon'), NOTHING_SEEN, { sync: false })
  await store.write('deleted', null, 'current', { sync: false })
  expect((await store.read('siblings'))!.siblings).toHaveLength(2)

  for (const key of ['plain', 'overwritten', 'siblings', 'deleted']) {
    expect(await index.storedHash(key), `${key} is served from the index`).not.toBeNull()
    const digest = await storedDigest(store, index, key)
    expect(digest).toMatch(/^[0-9a-f]{40}$/)
    expect(digest, key).toBe(await fromObject(key))
  }
  expect(await storedDigest(store, index, 'never-written')).toBe(NO_DIGEST)

  // Reaping removes the object and its entry in one batch: the digest says "nothing" at once.
  clock.now += 10_000
  expect((await store.reapTombstones(1_000)).reaped).toBe(1)
  expect(await index.storedHash('deleted')).toBeNull()
  expect(await storedDigest(store, index, 'deleted')).toBe(NO_DIGEST)
})

test('before the index of a partition is built its entries are not believed: the digest comes from the object', async () => {
  // Objects written straight to the object space, as a release without the index left them, and one
  // index entry that disagrees with its object (a stale entry a build would replace).
  const keys = Array.from({ length: 40 }, (_, i) => `old-${i}`)
  await storage.objects.batch(keys.map((key, i) => ({ type: 'put' as const, key: storageKey(key), value: encodeObject(foreign('seed@000000000000', `v${i}`)) })))
  await index.space.put(storageKey('old-0'), Buffer.alloc(20, 7))
  for (const key of keys) {
    expect(await index.storedHash(key), `${key}: nothing built yet`).toBeNull()
    expect(await storedDigest(store, index, key)).toBe(await fromObject(key))
  }
  expect(await storedDigest(store, index, 'old-0')).not.toBe(Buffer.alloc(20, 7).toString('hex'))

  // Build every partition but old-0's: its stale entry is still not believed, the others' entries are.
  const left = bucketOf('old-0', Q, 1).partition
  const others = Array.from({ length: Q }, (_, p) => p).filter((p) => p !== left)
  expect(await index.build(others, Q, storage.objects, logger, () => false)).toBe(true)
  expect(await index.storedHash('old-0')).toBeNull()
  expect(await storedDigest(store, index, 'old-0')).toBe(await fromObject('old-0'))
  const served = keys.filter((key) => bucketOf(key, Q, 1).partition !== left)
  expect(served.length).toBeGreaterThan(0)
  for (const key of served) {
    expect(await index.storedHash(key), key).not.toBeNull()
    expect(await storedDigest(store, index, key)).toBe(await fromObject(key))
  }

  // Once built, old-0's entry is the hash of its object.
  expect(await index.build([left], Q, storage.objects, logger, () => false)).toBe(true)
  expect(await index.storedHash('old-0')).not.toBeNull()
  expect(await storedDigest(store, index, 'old-0')).toBe(await fromObject('old-0'))
})

test('a built mark of another partition count vouches for nothing, and a reopened node believes its stored mark once loaded', async () => {
  await buildIndex()
  await store.write('k', text('v'), NOTHING_SEEN, { sync: false })
  expect(await index.storedHash('k')).not.toBeNull()
  expect(await index.builtPartitions(Q * 2)).toEqual(new Set())
  expect(await index.storedHash('k')).toBeNull()
  expect(await storedDigest(store, index, 'k')).toBe(await fromObject('k'))

  await storage.close()
  storage = await NodeStorage.open(dir)
  index = KeyHashIndex.attach(storage)
  store = new ReplicaStore(storage, { actor: 'n1@000000000001', counter: await DotCounter.open(storage.meta), logger, now: () => clock.now })
  expect(await index.storedHash('k'), 'the mark is not loaded yet').toBeNull()
  expect(await index.builtPartitions(Q)).toHaveProperty('size', Q)
  expect(await index.storedHash('k')).not.toBeNull()
  expect(await storedDigest(store, index, 'k')).toBe(await fromObject('k'))
})

test('a coordinator\'s own read gets its set and the same digest a digest read answers, from the index where it vouches and from the bytes where not', async () => {
  // Before any build: the index vouches for nothing, even holding an entry that disagrees.
  await store.write('early', text('one'), NOTHING_SEEN, { sync: false })
  await index.space.put(storageKey('early'), Buffer.alloc(20, 7))
  let read = storedWithDigest(store, index, 'early')
  expect(read.stored).toEqual(await store.readEncoded('early'))
  expect(read.digest).toBe(await fromObject('early'))

  await buildIndex()
  await store.write('plain', text('one'), NOTHING_SEEN, { sync: false })
  await store.write('siblings', text('ours'), NOTHING_SEEN, { sync: false })
  await store.merge('siblings', foreign('peer@000000000002', 'theirs'), { sync: false })
  await store.write('deleted', text('gone soon'), NOTHING_SEEN, { sync: false })
  await store.write('deleted', null, 'current', { sync: false })
  for (const key of ['early', 'plain', 'siblings', 'deleted']) {
    expect(index.storedHashSync(key), `${key} is served from the index`).toEqual(await index.storedHash(key))
    read = storedWithDigest(store, index, key)
    expect(read.stored, key).toEqual(await store.readEncoded(key))
    expect(read.digest, key).toBe(await fromObject(key))
    expect(read.digest, key).toBe(await storedDigest(store, index, key))
  }
  expect(storedWithDigest(store, index, 'never-written')).toEqual({ stored: undefined, digest: NO_DIGEST })
  expect(storedWithDigest(store, undefined, 'plain').digest).toBe(await fromObject('plain'))
})

test('the bytes of a synchronous read are the reader\'s own: overwrites and the memtable\'s flush leave them as they were', async () => {
  await store.write('k', text('first value'), NOTHING_SEEN, { sync: false })
  const { stored } = storedWithDigest(store, index, 'k')
  const copy = Buffer.from(stored!)
  // 8 MiB of writes: more than the default memtable holds, so the one the read was served from is flushed and dropped.
  const big = { value: Buffer.alloc(64 * 1024, 'x'), contentType: 'application/octet-stream' }
  for (let i = 0; i < 128; i++) {
    await store.write('k', text(`value ${i}`.padEnd(11, '.')), 'current', { sync: false })
    await store.write(`big-${i}`, big, NOTHING_SEEN, { sync: false })
  }
  expect(Buffer.from(stored!)).toEqual(copy)
  expect(Buffer.from(storedWithDigest(store, index, 'k').stored!)).not.toEqual(copy)
})
