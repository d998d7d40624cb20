import { afterAll, expect, test } from 'vitest'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { keyPath, OBJECT_MEDIA_TYPE, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import type { StoredObject } from '../../gateway/src/replica/stored-object.js'
import type { Ring } from '../../gateway/src/ring/ring.js'
import { putText } from './helpers/http.js'
import { heldValues, joiningNode, replicasOf, ringStateOf, settledOn, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { sleep, waitUntil } from '../support/process.js'

// A hint whose owner lost the key's partition while it was down: four nodes (n=3, Q=64, anti-entropy
// off, so only handoff and the moves place data), node4 down while keys it replicates are written
// (their fourth node, node1, keeps node4's hints), then node5 joins and takes some of node4's
// partitions. node4 comes back and sweeps what it gave up before node1 can reach it (node1's calls
// to node4 are held past the handoff's timeout until then). The hints of keys node4 no longer replicates must go to the keys' current
// replicas, not to node4: every key on each of its 3 replicas, none on node4. Then a copy planted
// on a node outside a key's replicas (what a peer with a stale ring sends) is handed to the replicas
// and dropped by the node's next sweep.

const Q = 64
const N = 3

let cluster: TestCluster | undefined
let joiner: ClusterNode | undefined
afterAll(async () => { await joiner?.stop(); await cluster?.close() })

/** Hold every internode call `node` makes to each member of `delayMs` that long (the handoff's calls time out after 5 s). */
async function delay (c: TestCluster, node: ClusterNode, delayMs: Record<string, number>): Promise<void> {
  const res = await c.internodeFetch(node, FAULTS_PATH, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked: [], delayMs }) })
  expect(res.status, await res.text()).toBe(200)
}

test('a hint for an owner that lost the key\'s partition while down goes to the key\'s current replicas, not to the owner', { timeout: 240_000 }, async () => {
  cluster = await TestCluster.start({
    size: 4, replicas: N, defaults: { w: 2 }, settings: { partitions: Q, antiEntropyIntervalMs: 0, gossipIntervalMs: 500, enableFaultInjection: true }, startTimeoutMs: 60_000
  })
  const c = cluster
  const [node1, node2, node3, node4] = c.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
  // Keys replicated by node2, node3 and node4: node1 is their only fallback, so it keeps every hint.
  const keys: string[] = []
  for (let i = 0; keys.length < 200; i++) {
    const key = `hinted-${String(i).padStart(5, '0')}`
    if (c.preferenceList(key).sort().join() === 'node2,node3,node4') keys.push(key)
  }
  // Keys on every node before node4 goes down: node4's sweep then drops what it gave up, visibly.
  const seeded = Array.from({ length: 300 }, (_, i) => `seeded-${String(i).padStart(5, '0')}`)
  for (const key of seeded) {
    const res = await putText(node1.url, key, `v-${key}`, 'w=3')
    expect(res.status, await res.text()).toBe(204)
  }
  expect(await node4.stop()).toBe(0)
  await waitUntil('node4 down', async () => (await viewOf(node1)).peers.find((p) => p.id === 'node4')?.status === 'down', 20_000, 200)
  for (const key of keys) {
    const res = await putText(node2.url, key, `v-${key}`, 'w=2')
    expect(res.status, await res.text()).toBe(204)
  }
  await waitUntil('node1 keeps a hint for node4 of every key', async () =>
    (await viewOf(node1)).hints.owners.find((o) => o.id === 'node4')?.pending === keys.length, 10_000, 200)
  await delay(c, node1, { node4: 10_000 })

  joiner = await joiningNode(c, 'node5', [node2])
  joiner.startTimeoutMs = 60_000
  await joiner.start()
  const running = [node1, node2, node3, joiner]
  await waitUntil('node5 owns its share, no move pending', async () =>
    settledOn(await Promise.all(running.map(viewOf)), ['node1', 'node2', 'node3', 'node4', 'node5']), 120_000, 250)
  const ring: Ring = (await ringStateOf(c, node2)).current.ring
  const lost = keys.filter((key) => !replicasOf(ring, key, N).includes('node4'))
  const kept = keys.filter((key) => replicasOf(ring, key, N).includes('node4'))
  expect(lost.length).toBeGreaterThan(0)
  expect(kept.length).toBeGreaterThan(0)

  // node4 returns and sweeps what it gave up while node1 cannot reach it yet.
  await node4.start()
  const given = seeded.filter((key) => !replicasOf(ring, key, N).includes('node4'))
  await waitUntil('node4 routes by the ring with node5 and swept what it gave up', async () => {
    if ((await viewOf(node4)).ring.digest !== ring.digest()) return false
    for (const key of given) if ((await heldValues(c, node4, key)).length > 0) return false
    return true
  }, 60_000, 250)
  await waitUntil('node1 sees node4 up', async () => (await viewOf(node1)).peers.find((p) => p.id === 'node4')?.status === 'up', 20_000, 200)
  await sleep(2_000) // the sweep records the ring as swept once its last range is dropped
  await delay(c, node1, {})
  await waitUntil('node1 handed every hint off', async () => (await viewOf(node1)).hints.pending === 0, 60_000, 250)

  const stray = (await Promise.all(lost.map(async (key) => (await heldValues(c, node4, key)).length > 0 ? [key] : []))).flat()
  expect(stray, 'keys of partitions node4 gave up, held by node4').toEqual([])
  const everyone = [node1, node2, node3, node4, joiner]
  for (const key of keys) {
    for (const id of replicasOf(ring, key, N)) {
      expect(await heldValues(c, everyone.find((n) => n.id === id)!, key), `${key} on ${id}`).toEqual([`v-${key}`])
    }
  }

  // A copy that lands on a node outside the key's replicas after its sweep (a peer with a stale ring
  // sent it) goes to the replicas and is dropped there by the next sweep.
  const outside = everyone.find((n) => n.id === 'node4')!
  const key = Array.from({ length: 1_000 }, (_, i) => `planted-${i}`).find((k) => !replicasOf(ring, k, N).includes('node4'))!
  const object: StoredObject = {
    clock: new Map([['stale-writer', { counter: 1, timestamp: Date.now() }]]),
    siblings: [{ dot: { actor: 'stale-writer', counter: 1 }, value: { tombstone: false, contentType: 'text/plain', lastModified: Date.now(), value: Buffer.from('planted') } }]
  }
  const res = await c.internodeFetch(outside, keyPath(REPLICAS_PATH, key) + '?sync=1', { method: 'PUT', body: encodeObject(object), headers: { 'content-type': OBJECT_MEDIA_TYPE } })
  expect(res.status, await res.text()).toBe(204)
  await waitUntil('the planted copy left node4', async () => (await heldValues(c, outside, key)).length === 0, 30_000, 250)
  for (const id of replicasOf(ring, key, N)) {
    expect(await heldValues(c, everyone.find((n) => n.id === id)!, key), `${key} on ${id}`).toEqual(['planted'])
  }
})
