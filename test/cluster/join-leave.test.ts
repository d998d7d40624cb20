import { afterAll, beforeAll, expect, test } from 'vitest'
import { ContractClient } from '../gateway/helpers/contract-client.js'
import { startTestNode } from '../gateway/helpers/test-node.js'
import { getKey } from './helpers/http.js'
import {
  forEachLimited, heldValues, joiningNode, replicasOf, ringStateOf, settledOn, viewOf, WriteLoad
} from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { levelring } from '../support/levelring-command.js'
import { sleep, waitUntil } from '../support/process.js'

// Join and leave under a write load. Four nodes (n=3, w=2) take writes from
// clients that record every acknowledged one; a fifth node starts with --seeds and joins (the
// claimant plans a ring giving it its share, it streams its partitions while writes reach old and
// new replicas, the ring is promoted, the old replicas drop what moved); then `levelring leave`
// makes node2 hand everything over and exit. Afterwards no acknowledged write is lost: every one
// is on each of its three replicas in the final ring (read replica by replica, which never
// repairs; anti-entropy is off, so the moves alone must have done it) and readable, and
// ownership is balanced. The admin endpoints' errors are checked against the contract.

let cluster: TestCluster
let joiner: ClusterNode | undefined

beforeAll(async () => {
  // Gossip every 500 ms: moves wait for gossip rounds (planning, settling, promotion), so this halves the test.
  cluster = await TestCluster.start({ size: 4, replicas: 3, defaults: { r: 2, w: 2 }, settings: { antiEntropyIntervalMs: 0, gossipIntervalMs: 500 } })
})
afterAll(async () => {
  await joiner?.stop()
  await cluster?.close()
})

test('a node joins and another leaves under a write load: no acknowledged write lost, ownership balanced', async () => {
  const clients = new Set<ClusterNode>(cluster.nodes)
  const load = new WriteLoad(() => [...clients].filter((n) => n.running), { writers: 6, prefix: 'jl' })
  await sleep(2_000)

  joiner = await joiningNode(cluster, 'node5', [cluster.node('node1')])
  await joiner.start()
  const everyone = (): ClusterNode[] => [...cluster.nodes, joiner!].filter((n) => n.running)
  const joined = await waitUntil('node5 owns its share on every node', async () =>
    settledOn(await Promise.all(everyone().map(viewOf)), ['node1', 'node2', 'node3', 'node4', 'node5']), 90_000, 250)
  clients.add(joiner)
  const afterJoin = await viewOf(joiner)
  expect(afterJoin.node.status).toBe('up')

  // Joining again through a member is harmless; a bad or silent seed is a clear error.
  const admin = new ContractClient(joiner.url)
  const again = await admin.send('POST', '/v1/admin/join', { body: JSON.stringify({ seed: cluster.node('node3').address }), headers: { 'Content-Type': 'application/json' } })
  expect(again.status).toBe(200)
  expect(again.json).toMatchObject({ node: 'node5', status: 'up' })
  const bad = await admin.send('POST', '/v1/admin/join', { body: JSON.stringify({ seed: 'nowhere' }), headers: { 'Content-Type': 'application/json' } })
  expect(bad.json).toMatchObject({ status: 400, type: 'urn:levelring:problem:invalid-parameter', parameter: 'seed' })
  const silent = await admin.send('POST', '/v1/admin/join', { body: JSON.stringify({ seed: '127.0.0.1:9' }), headers: { 'Content-Type': 'application/json' } })
  expect(silent.json).toMatchObject({ status: 502, type: 'urn:levelring:problem:peer-unreachable' })
  await sleep(2_000)

  const leaver = cluster.node('node2')
  const left = await levelring(['leave', '--node', leaver.url])
  expect(left.stderr).toBe('')
  expect(left.stdout).toMatch(/leave: .* answered 202/)
  clients.delete(leaver)
  const leaving = await waitUntil('node2 handed everything over and is exiting', async () =>
    !leaver.running || leaver.lines.some((l) => l.msg === 'left the cluster: exiting'), 90_000, 20)
  // A pod's preStop hook runs `leave --wait`, then the pod gets SIGTERM: that signal must not cut the node's own clean close short.
  expect(await leaver.stop()).toBe(0)
  expect(leaver.lines.some((l) => l.msg === 'second signal: exiting now')).toBe(false)
  await waitUntil('the ring without node2 on every node', async () =>
    settledOn(await Promise.all(everyone().map(viewOf)), ['node1', 'node3', 'node4', 'node5']), 30_000, 250)
  await sleep(1_000)
  const report = await load.stop()
  await waitUntil('hints drained', async () => (await Promise.all(everyone().map(viewOf))).every((v) => v.hints.pending === 0), 30_000, 250)

  const views = await Promise.all(everyone().map(viewOf))
  for (const v of views) expect(v.peers.find((p) => p.id === 'node2')?.status).toBe('left')
  const ring = (await ringStateOf(cluster, joiner)).current.ring
  const shares = [...ring.shares().values()]
  const mean = ring.partitionCount / shares.length
  expect(shares).toHaveLength(4)
  expect(Math.max(...shares)).toBeLessThanOrEqual(1.15 * mean)

  const missing: string[] = []
  await forEachLimited([...load.acknowledged], 32, async ([key, value]) => {
    for (const id of replicasOf(ring, key, cluster.replicas)) {
      const node = id === joiner!.id ? joiner! : cluster.node(id)
      const held = await heldValues(cluster, node, key)
      if (!held.includes(value)) missing.push(`${key} on ${id}: ${JSON.stringify(held)}`)
    }
  })
  const unreadable: string[] = []
  await forEachLimited([...load.acknowledged], 32, async ([key, value]) => {
    const nodes = everyone()
    const res = await getKey(nodes[Math.floor(Math.random() * nodes.length)]!.url, key, 'r=2')
    const text = await res.text()
    if (res.status !== 200 || text !== value) unreadable.push(`${key}: ${res.status} ${text.slice(0, 80)}`)
  })
  const moved = views.reduce((sum, v) => sum + v.transfers.streamed, 0)
  const dropped = views.reduce((sum, v) => sum + v.transfers.dropped, 0)
  console.log(`join and leave under load: attempted ${report.attempted}, acknowledged ${report.acknowledged}, failed ${report.failed} ` +
    `${JSON.stringify(report.causes)}; lost ${missing.length} (not on every replica), unreadable ${unreadable.length}; ` +
    `join settled in ${(joined / 1000).toFixed(1)} s, leave in ${(leaving / 1000).toFixed(1)} s; keys streamed ${moved}, handed over and dropped ${dropped}; ` +
    `final shares ${JSON.stringify(Object.fromEntries(ring.shares()))}`)
  expect(moved).toBeGreaterThan(0)
  expect(missing.slice(0, 10)).toEqual([])
  expect(unreadable.slice(0, 10)).toEqual([])
}, 180_000)

test('a node that runs alone refuses join and leave (409), and the admin endpoints take only POST', async () => {
  const alone = await startTestNode()
  try {
    const client = new ContractClient(alone.url)
    for (const path of ['/v1/admin/join', '/v1/admin/leave']) {
      const res = await client.send('POST', path, { body: JSON.stringify({ seed: '127.0.0.1:9' }), headers: { 'Content-Type': 'application/json' } })
      expect(res.json).toMatchObject({ status: 409, type: 'urn:levelring:problem:not-a-cluster-member' })
      expect((await client.get(path)).status).toBe(405)
    }
  } finally {
    await alone.stop()
  }
})
