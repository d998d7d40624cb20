import { afterAll, beforeAll, expect, test } from 'vitest'
import { liveSiblings, type StoredObject } from '../../gateway/src/replica/stored-object.js'
import { cut, heal } from './helpers/anti-entropy.js'
import { eventually, getKey, putText } from './helpers/http.js'
import { statusSeenBy, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { sleep } from '../support/process.js'
import { DEFAULT_CONFIG } from '../../gateway/src/node/config.js'
import { SETTLE_ROUNDS } from '../../gateway/src/membership/membership-service.js'

// Copies of a key held outside its primaries must not bring a deleted value back once the
// tombstone is reaped (grace 500 ms, a reaper pass every 100 ms here, anti-entropy off): a write
// taken by a fallback lives only as a hint (never in the fallback's own objects), and a tombstone
// is not reaped while a member that may hold a hint for the key cannot be asked. 4 nodes, n=3: for
// each key the one node outside its preference list is its only possible fallback.

let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({
    size: 4,
    replicas: 3,
    defaults: { timeoutMs: 2_000 },
    settings: { enableFaultInjection: true, tombstoneGraceMs: 500, reapIntervalMs: 100, antiEntropyIntervalMs: 0 }
  })
})
afterAll(async () => { await cluster?.close() })

/** A key whose preference list leaves out `outside`, with its primaries. */
function keyOutside (prefix: string, outside: string): { key: string, primaries: ClusterNode[] } {
  for (let i = 0; i < 10_000; i++) {
    const key = `${prefix}-${i}`
    const list = cluster.preferenceList(key)
    if (!list.includes(outside)) return { key, primaries: list.map((id) => cluster.node(id)) }
  }
  throw new Error('no such key')
}

const text = (object: StoredObject | undefined): string[] =>
  object === undefined ? [] : liveSiblings(object).map((s) => Buffer.from(s.value.value).toString())

async function seesAll (observer: ClusterNode, peers: readonly ClusterNode[], status: string): Promise<void> {
  await eventually(`${observer.id} sees ${peers.map((p) => p.id).join(', ')} ${status}`,
    async () => (await Promise.all(peers.map(async (p) => statusSeenBy(observer, p.id)))).every((s) => s === status), 300, 100)
}

async function hintsPending (node: ClusterNode): Promise<number> {
  return (await viewOf(node)).hints.pending
}

/** Nothing live of `key` on any running node, hints included (a read through `via` with r=3 answers 404). */
async function expectDeleted (key: string, via: ClusterNode, query = 'r=3'): Promise<void> {
  const res = await getKey(via.url, key, query)
  expect(res.status, `${key} through ${via.id} (${query}): ${await res.text()}`).toBe(404)
  for (const node of cluster.nodes.filter((n) => n.running)) {
    const held = await cluster.replicaRead(node, key)
    expect(text(held), `${key} on ${node.id}`).toEqual([])
  }
}

async function deleteEverywhere (key: string, via: ClusterNode): Promise<void> {
  const read = await getKey(via.url, key, 'r=3')
  expect(read.status).toBe(200)
  const del = await fetch(`${via.url}/v1/kv/${key}?w=3`, { method: 'DELETE', headers: { 'X-Causal-Context': read.headers.get('x-causal-context')! } })
  expect(del.status, await del.text()).toBe(204)
}

test('a write taken by a fallback lives only as a hint: after its delivery, delete and reaping, neither a read served by the fallback nor its restart brings it back', { timeout: 120_000 }, async () => {
  const fallback = cluster.node('node4')
  const { key, primaries } = keyOutside('stray', fallback.id)
  const [p1, p2, p3] = primaries as [ClusterNode, ClusterNode, ClusterNode]

  // As on a node that has run a while: its ownership sweep after start is done before the cut.
  await sleep(SETTLE_ROUNDS * DEFAULT_CONFIG.gossipIntervalMs + 2_000)
  await cut(cluster, [[fallback.id], primaries.map((p) => p.id)])
  await seesAll(fallback, primaries, 'down')
  const put = await putText(fallback.url, key, 'taken by a fallback', 'w=1')
  expect(put.status, await put.text()).toBe(204)
  expect(text(await cluster.replicaRead(fallback, key)), 'the fallback keeps no copy of its own').toEqual([])
  await heal(cluster)
  await eventually('the fallback handed its hint off', async () => (await hintsPending(fallback)) === 0, 300, 100)

  await deleteEverywhere(key, p1)
  await eventually('every primary reaped the tombstone', async () =>
    (await Promise.all(primaries.map(async (p) => cluster.replicaRead(p, key)))).every((o) => o === undefined), 100, 100)

  // The fallback serves the key while a primary is down: it has nothing of it to present.
  expect(await p3.stop()).toBe(0)
  await seesAll(p1, [p3], 'down')
  await expectDeleted(key, p1, 'r=3&pr=2')
  await p3.start()
  await cluster.settled()

  // Its restart (the ownership sweep hands over whatever it holds of partitions it does not own).
  expect(await fallback.stop()).toBe(0)
  await fallback.start()
  await cluster.settled()
  await sleep(3_000)
  await expectDeleted(key, p2)
})

test('a tombstone is not reaped while a node that may hold a hint for the key is down: the hint it delivers on return does not resurrect the value', { timeout: 120_000 }, async () => {
  const keeper = cluster.node('node4')
  const { key, primaries } = keyOutside('pending', keeper.id)
  const [p1, p2] = primaries as [ClusterNode, ClusterNode, ClusterNode]
  const others = cluster.nodes.filter((n) => n !== p1)

  await cut(cluster, [[p1.id], others.map((n) => n.id)])
  await seesAll(p2, [p1], 'down')
  const put = await putText(p2.url, key, 'delivered late', 'w=3') // p2, p3 and the keeper's hint for p1
  expect(put.status, await put.text()).toBe(204)
  expect(await hintsPending(keeper)).toBeGreaterThan(0)
  expect(await keeper.stop()).toBe(0) // with the hint still pending: p1 is cut off from it
  await heal(cluster)
  await seesAll(p2, [p1], 'up')

  await deleteEverywhere(key, p2)
  await sleep(2_000) // twenty reaper passes with the grace long past
  await keeper.start()
  await cluster.settled()
  await eventually('the keeper delivered its hint', async () => (await hintsPending(keeper)) === 0, 300, 100)
  await expectDeleted(key, p1)
  // Once the hint is delivered and merged under the tombstone, reaping goes ahead everywhere.
  for (const node of cluster.nodes) {
    await eventually(`${key} reaped on ${node.id}`, async () => {
      const held = await cluster.replicaRead(node, key)
      return held === undefined
    }, 100, 100)
  }
})
