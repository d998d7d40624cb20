import { afterEach, expect, test } from 'vitest'
import { seed, storedObjects } from './helpers/anti-entropy.js'
import { joiningNode, ringStateOf, viewOf, WriteLoad } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { KeyHashIndex } from '../../gateway/src/anti-entropy/key-hash-index.js'
import { checkKeyHashIndex } from '../../gateway/src/anti-entropy/index-check.js'
import { NodeStorage } from '../../gateway/src/replica/node-storage.js'
import { partitionRange, type KeyRange } from '../../gateway/src/replica/storage-keys.js'
import { isDeleted, liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { partitionOf } from '../../gateway/src/ring/partition.js'
import type { Ring } from '../../gateway/src/ring/ring.js'
import { sleep, waitUntil } from '../support/process.js'

// Dropping a partition a node no longer replicates is a range delete (handoff/partition-transfer.ts
// #sweepPartition): a fourth node joins a 3-node cluster (n=3, Q=16, anti-entropy off, so the moves
// alone must keep every write) while clients write new keys and delete seeded ones through every
// node. Each old node hands the keys of the partitions it gives up to their new replicas and drops
// each partition as one range. Afterwards every acknowledged write is on each of its replicas in the
// final ring and every acknowledged delete stays deleted; then each old node's data directory is
// opened: the ranges of the partitions it gave up hold nothing (objects, tombstone index, key hash
// index), the partitions it keeps hold all their keys, and the key hash index equals the objects.

const Q = 16
const N = 3
const SEEDED = 3_000

let cluster: TestCluster | undefined
let joiner: ClusterNode | undefined
afterEach(async () => { await joiner?.stop(); joiner = undefined; await cluster?.close(); cluster = undefined })

interface Transfers { dropped: number, partitionsDropped: number }
const transfersOf = async (node: ClusterNode): Promise<Transfers> => (await viewOf(node)).transfers as unknown as Transfers

/** The keys of `keys` that `node` replicates in `ring`. */
const replicatedBy = (ring: Ring, node: string, keys: readonly string[]): string[] =>
  keys.filter((key) => ring.preferenceList(partitionOf(key, Q), N).includes(node))

async function countRange (space: { keys: (range: KeyRange) => AsyncIterable<string> }, range: KeyRange): Promise<number> {
  let n = 0
  for await (const _ of space.keys(range)) n++
  return n
}

test('a node that gives partitions up drops each as one range while writes race it: nothing acknowledged is lost, nothing deleted comes back', { timeout: 240_000 }, async () => {
  cluster = await TestCluster.start({ size: 3, replicas: N, defaults: { r: 2, w: 2 }, settings: { partitions: Q, antiEntropyIntervalMs: 0, gossipIntervalMs: 500 }, startTimeoutMs: 60_000 })
  const seeded = Array.from({ length: SEEDED }, (_, i) => `seeded-${String(i).padStart(5, '0')}`)
  await seed(cluster, cluster.nodes, seeded.map((key) => ({ key, value: `v-${key}` })))

  const clients = new Set<ClusterNode>(cluster.nodes)
  const targets = (): ClusterNode[] => [...clients].filter((n) => n.running)
  const load = new WriteLoad(targets, { writers: 4, prefix: 'race' })
  // Deletes of seeded keys through random nodes, racing the moves like the writes.
  const deleted = new Set<string>()
  const attempted = new Set<string>()
  let deleting = true
  const deleter = (async () => {
    for (let i = 0; deleting && i < seeded.length; i += 7) {
      const nodes = targets()
      const node = nodes[i % nodes.length]!
      attempted.add(seeded[i]!) // one not acknowledged may still have reached some replicas
      try {
        const res = await fetch(`${node.url}/v1/kv/${seeded[i]!}?w=2`, { method: 'DELETE' })
        await res.arrayBuffer()
        if (res.status === 204) deleted.add(seeded[i]!)
      } catch {}
    }
  })()
  await sleep(1_000)

  joiner = await joiningNode(cluster, 'node4', [cluster.node('node1')])
  joiner.startTimeoutMs = 60_000
  await joiner.start()
  const everyone = (): ClusterNode[] => [...cluster!.nodes, joiner!]
  await waitUntil('node4 owns its share on every node, no move pending', async () => {
    const views = await Promise.all(everyone().map(viewOf))
    return new Set(views.map((v) => v.ring.digest)).size === 1 &&
      views.every((v) => v.ring.pending === undefined && (v.ring.owners.find((o) => o.id === 'node4')?.partitions ?? 0) > 0)
  }, 120_000, 250)
  clients.add(joiner)
  const ring = (await ringStateOf(cluster, joiner)).current.ring

  // Every old node drops the seeded keys of the partitions it gave up (their deletes' tombstones too).
  for (const node of cluster.nodes) {
    const givenUp = seeded.filter((key) => !ring.preferenceList(partitionOf(key, Q), N).includes(node.id))
    expect(givenUp.length, `${node.id} gives some partitions up`).toBeGreaterThan(0)
    await waitUntil(`${node.id} dropped the partitions it gave up`, async () =>
      (await storedObjects(cluster!, node, givenUp)).every((o) => o === undefined), 90_000, 500)
  }
  await sleep(1_000)
  deleting = false
  const report = await load.stop()
  await deleter
  expect(report.acknowledged, 'writes were acknowledged during the join').toBeGreaterThan(50)
  expect(deleted.size, 'deletes were acknowledged during the join').toBeGreaterThan(50)

  const transfers = await Promise.all(cluster.nodes.map(transfersOf))
  const ranges = transfers.reduce((n, t) => n + t.partitionsDropped, 0)
  console.log(`partition drop: ${report.acknowledged} writes and ${deleted.size} deletes acknowledged during the join; ` +
    `old nodes dropped ${transfers.map((t) => t.dropped).join('/')} keys, ${transfers.map((t) => t.partitionsDropped).join('/')} partitions as one range`)
  expect(ranges, 'partitions dropped as one range').toBeGreaterThan(0)

  // Nothing acknowledged is lost: each key on each of its replicas in the final ring (read replica by replica, no repair).
  const written = [...load.acknowledged.keys()]
  const kept = seeded.filter((key) => !attempted.has(key))
  for (const node of everyone()) {
    const writes = replicatedBy(ring, node.id, written)
    const writesHeld = await storedObjects(cluster, node, writes)
    expect(writes.filter((key, i) => writesHeld[i] === undefined || !liveSiblings(writesHeld[i]!).some((s) => Buffer.from(s.value.value).toString() === `v-${key}`)), `acknowledged writes ${node.id} lacks`).toEqual([])
    const keys = replicatedBy(ring, node.id, kept)
    const keysHeld = await storedObjects(cluster, node, keys)
    expect(keys.filter((_, i) => keysHeld[i] === undefined || isDeleted(keysHeld[i]!)), `seeded keys ${node.id} lacks`).toEqual([])
    // Nothing deleted comes back: a replica holds the tombstone, or (only the joiner, which streamed before the delete landed on it) nothing.
    const gone = replicatedBy(ring, node.id, [...deleted])
    const goneHeld = await storedObjects(cluster, node, gone)
    expect(gone.filter((_, i) => goneHeld[i] !== undefined && !isDeleted(goneHeld[i]!)), `deleted keys live again on ${node.id}`).toEqual([])
  }

  // Each old node's directory: the given-up ranges hold nothing, the kept partitions every key, the index equals the objects.
  for (const node of cluster.nodes) {
    await node.stop()
    const storage = await NodeStorage.open(node.dataDir)
    try {
      const index = KeyHashIndex.attach(storage)
      for (let p = 0; p < Q; p++) {
        const range = partitionRange(p, Q)
        const counts = { objects: await countRange(storage.objects, range), tombstones: await countRange(storage.tombstones, range), index: await countRange(index.space, range) }
        if (!ring.preferenceList(p, N).includes(node.id)) {
          expect(counts, `${node.id}: partition ${p}, given up`).toEqual({ objects: 0, tombstones: 0, index: 0 })
        } else {
          const expected = seeded.filter((key) => partitionOf(key, Q) === p).length
          expect(counts.objects, `${node.id}: partition ${p}, kept`).toBeGreaterThanOrEqual(expected)
          expect(counts.index).toBe(counts.objects)
        }
      }
      expect(await checkKeyHashIndex(storage.objects, index.space)).toMatchObject({ missing: [], stale: [], wrong: [] })
    } finally {
      await storage.close()
    }
  }
})
