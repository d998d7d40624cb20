import { cp, readFile, rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { divergentPartitions, repair } from './helpers/anti-entropy.js'
import { getKey, siblingValues } from './helpers/http.js'
import { heldValues, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { waitUntil } from '../support/process.js'

// A data directory written by the release before the partition-ordered layout (test/fixtures/
// partition-layout-v0: node1 of a 4-node cluster, n=3, Q=64, with siblings, tombstones and hints
// for node4) is migrated when its node starts, serves every key it held, delivers its hints and
// converges with its peers (fresh nodes of the same ids) by anti-entropy.

const FIXTURE = new URL('../fixtures/partition-layout-v0/', import.meta.url).pathname

interface Manifest {
  readonly partitions: number
  readonly keys: Record<string, { values: string[], deleted?: boolean, hintFor?: string }>
}

let cluster: TestCluster
let manifest: Manifest

beforeAll(async () => {
  manifest = JSON.parse(await readFile(`${FIXTURE}manifest.json`, 'utf8')) as Manifest
  cluster = await TestCluster.start({
    size: 4,
    replicas: 3,
    // The fixture was last in use long ago: a copy renews the actor epoch, and a grace shorter than its age would refuse it.
    settings: { partitions: manifest.partitions, antiEntropyIntervalMs: 0, gossipIntervalMs: 500, tombstoneGraceMs: 100 * 365 * 86_400_000 }
  })
})
afterAll(async () => { await cluster?.close() })

test('a directory of the previous layout is migrated at start, serves every key it held, hands its hints over and converges with its peers', { timeout: 120_000 }, async () => {
  const node1 = cluster.node('node1')
  expect(await node1.stop()).toBe(0)
  await rm(node1.dataDir, { recursive: true, force: true })
  await cp(`${FIXTURE}node1`, node1.dataDir, { recursive: true })
  await node1.start()
  await cluster.settled()

  const entries = Object.entries(manifest.keys)
  const held = entries.filter(([key, k]) => k.hintFor === undefined && cluster.preferenceList(key).includes('node1'))
  const hinted = entries.filter(([, k]) => k.hintFor === 'node4')
  expect(held.length).toBeGreaterThan(150)
  expect(hinted.length).toBe(30)
  const done = node1.lines.find((l) => l.msg === 'migration done')
  expect(done, 'node1 logs the migration').toBeDefined()
  // Every object, every tombstone-index entry (30 deletes, on node1 for the keys it replicates), every hint.
  const deletedHere = held.filter(([, k]) => k.deleted === true).length
  expect(done!.moved).toBe(held.length + deletedHere + hinted.length)

  // Served from its own store exactly as written: values, both siblings, tombstones.
  for (const [key, k] of held) expect(await heldValues(cluster, node1, key), key).toEqual(k.values)
  for (const [key] of held.filter(([, k]) => k.deleted === true)) {
    expect((await cluster.replicaRead(node1, key))?.siblings.every((s) => s.value.tombstone), `${key} is a tombstone`).toBe(true)
  }
  // Its hints reach node4.
  const node4 = cluster.node('node4')
  await waitUntil('node1 delivered its hints to node4', async () => (await viewOf(node1)).hints.pending === 0, 30_000, 200)
  for (const [key, k] of hinted) expect(await heldValues(cluster, node4, key), key).toEqual(k.values)

  // Anti-entropy brings the peers (fresh directories) to what node1 and node4 hold.
  for (const node of cluster.nodes) await repair(node)
  await waitUntil('every partition converged', async () => {
    if ((await divergentPartitions(cluster)).length === 0) return true
    for (const node of cluster.nodes) await repair(node)
    return false
  }, 60_000, 500)
  for (const [key, k] of [...held, ...hinted]) {
    for (const id of cluster.preferenceList(key)) expect(await heldValues(cluster, cluster.node(id), key), `${key} on ${id}`).toEqual(k.values)
  }
  // And a client sees the siblings from any node.
  const [siblingKey, sibling] = held.find(([, k]) => k.values.length === 2)!
  const others = cluster.nodes.filter((n: ClusterNode) => n.id !== 'node1')
  for (const node of others) expect(await siblingValues(await getKey(node.url, siblingKey, 'r=3', true))).toEqual(sibling.values)
})

test('a node refuses a data directory of a newer storage format than it reads, saying what to do', { timeout: 60_000 }, async () => {
  // Written by hand as a newer release would: the format record is the only difference.
  const node2 = cluster.node('node2')
  expect(await node2.stop()).toBe(0)
  const { NodeStorage } = await import('../../gateway/src/replica/node-storage.js')
  const { FORMAT_KEY, STORAGE_FORMAT } = await import('../../gateway/src/replica/storage-format.js')
  const storage = await NodeStorage.open(node2.dataDir)
  await storage.meta.put(FORMAT_KEY, String(STORAGE_FORMAT + 1))
  await storage.close()
  await expect(node2.start()).rejects.toThrow(/storage format "2"[\s\S]*start a release that knows it/)
})
