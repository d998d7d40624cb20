import { pino } from 'pino'
import { afterEach, beforeEach, expect, test } from 'vitest'
import { PartitionTrees } from '../../../gateway/src/anti-entropy/partition-trees.js'
import { ReplicaStore } from '../../../gateway/src/replica/replica-store.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage } from '../../../gateway/src/replica/node-storage.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { NOTHING_SEEN } from '../../../gateway/src/version/dvv.js'
import { tempDirPerTest } from '../../support/temp-dir.js'
import { storageKey } from '../../../gateway/src/replica/storage-keys.js'

// The Merkle trees of a node on a real lsm-level engine: built by a background scan while writes
// keep landing (the scan's snapshot may predate them), kept current by stored-change events, and
// equal at the end to trees built from scratch over what the engine holds.

const Q = 64
const logger = pino({ level: 'silent' })
const tempDir = tempDirPerTest('levelring-trees')
let storage: NodeStorage
let store: ReplicaStore
let clock: { now: number }

beforeEach(async () => {
  storage = await NodeStorage.open(tempDir())
  clock = { now: 1_700_000_000_000 }
  store = new ReplicaStore(storage, { actor: 'n1@000000000001', counter: await DotCounter.open(storage.meta), logger, now: () => clock.now })
})
afterEach(async () => {
  await storage.close()
})

/** Every partition's root, hex, for partitions holding anything. */
function roots (trees: PartitionTrees): Map<number, string> {
  const out = new Map<number, string>()
  for (let p = 0; p < Q; p++) {
    const tree = trees.tree(p)
    if (tree.size > 0) out.set(p, tree.root().toString('hex'))
  }
  return out
}

async function freshTrees (): Promise<PartitionTrees> {
  const trees = new PartitionTrees({ store, objects: storage.objects, partitionCount: Q, logger })
  trees.start()
  await trees.whenReady()
  return trees
}

const value = (text: string): { value: Uint8Array, contentType: string } => ({ value: Buffer.from(text), contentType: 'text/plain' })

test('a build racing with writes, merges and deletes ends equal to a build from scratch; reaps remove keys', async () => {
  // 20,000 keys in the engine before the node starts (20 build steps: writes land between them),
  // written as another replica's versions (actor seed@...).
  for (let first = 0; first < 20_000; first += 5_000) {
    const ops = []
    for (let i = first; i < first + 5_000; i++) {
      const dot = { actor: 'seed@000000000000', counter: i + 1 }
      const object = { clock: new Map([[dot.actor, { counter: dot.counter, timestamp: clock.now }]]), siblings: [{ dot, value: { tombstone: false, ...value(`v${i}`), lastModified: clock.now } }] }
      ops.push({ type: 'put' as const, key: storageKey(`pre-${i}`), value: encodeObject(object) })
    }
    await storage.objects.batch(ops)
  }
  const trees = new PartitionTrees({ store, objects: storage.objects, partitionCount: Q, logger })
  expect(trees.state).toBe('building')
  trees.start()
  const changes: Array<Promise<unknown>> = []
  let duringBuild = 0
  for (let i = 0; i < 300; i++) {
    if (trees.state === 'building') duringBuild++
    changes.push(store.write(`pre-${i * 61}`, value(`overwritten ${i}`), 'current', { sync: false })) // keys the scan may not have reached
    changes.push(store.write(`new-${i}`, value(`new ${i}`), NOTHING_SEEN, { sync: false }))
    if (i % 3 === 0) changes.push(store.write(`pre-${i * 59 + 7}`, null, 'current', { sync: false }))
    if (i % 10 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.all(changes)
  expect(duringBuild, 'writes landed while the scan ran').toBeGreaterThan(0)
  await trees.whenReady()
  expect(trees.state).toBe('ready')
  expect(trees.stats()).toMatchObject({ state: 'ready', keys: 20_300, partitions: Q })
  const scratch = await freshTrees()
  expect(roots(trees)).toEqual(roots(scratch))

  // Reaping removes keys from the live trees as from the engine.
  clock.now += 10_000
  const { reaped } = await store.reapTombstones(1_000)
  expect(reaped).toBe(100)
  expect(trees.stats().keys).toBe(20_200)
  expect(roots(trees)).toEqual(roots(await freshTrees()))
  await Promise.all([trees.close(), scratch.close()])
  expect(trees.state).toBe('closed')
})

test('a stored object that does not decode is left out of the trees (a peer sends its copy), the rest is built', async () => {
  await store.write('good', value('fine'), NOTHING_SEEN, { sync: false })
  await storage.objects.put(storageKey('damaged'), new Uint8Array([1, 200]))
  const trees = await freshTrees()
  expect(trees.stats()).toMatchObject({ state: 'ready', keys: 1 })
  await trees.close()
})
