import { afterEach, expect, test } from 'vitest'
import { putText } from './helpers/http.js'
import { heldValues, reconfigure, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { waitUntil } from '../support/process.js'

// Hints never block or pile up, and a leaving node never exits holding what it alone may hold.
// Each test runs its own four-node cluster (n=3).

let cluster: TestCluster | undefined
afterEach(async () => { await cluster?.close(); cluster = undefined })

const MIB = 1024 * 1024

/** `count` keys whose replicas include `id`, named `prefix-i` (i in key order of the names). */
function keysReplicatedBy (c: TestCluster, id: string, prefix: string, count: number): string[] {
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}-${String(i).padStart(4, '0')}`
    if (c.preferenceList(key).includes(id)) keys.push(key)
  }
  return keys
}

async function hintsFor (nodes: readonly ClusterNode[], owner: string): Promise<number> {
  return (await Promise.all(nodes.map(viewOf))).reduce((n, v) => n + (v.hints.owners.find((o) => o.id === owner)?.pending ?? 0), 0)
}

test('a hint its owner refuses every time does not hold back the owner\'s later hints', { timeout: 120_000 }, async () => {
  cluster = await TestCluster.start({ size: 4, replicas: 3, settings: { antiEntropyIntervalMs: 0, gossipIntervalMs: 500, partitions: 64 } })
  const [node1, node2, node3, node4] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
  const others = [node1, node2, node3]
  expect(await node4.stop()).toBe(0)
  await waitUntil('node4 down', async () => (await viewOf(node1)).peers.find((p) => p.id === 'node4')?.status === 'down', 20_000, 200)
  // Named to sort first among node4's hints: before the fix, a failing first hint stopped every later one.
  const [big, ...small] = keysReplicatedBy(cluster, 'node4', 'a-hint', 41)
  // Four blind writes: four siblings, about 4 MiB.
  for (const v of ['w', 'x', 'y', 'z']) {
    const write = await putText(node1.url, big!, v.repeat(MIB - 64), 'w=2')
    expect(write.status, await write.text()).toBe(204)
  }
  for (const key of small) expect((await putText(node1.url, key, `v-${key}`, 'w=2')).status).toBe(204)
  expect(await hintsFor(others, 'node4')).toBe(41)

  // node4 comes back with maxValueBytes 1, taking replica bodies of about 3.3 MB at most: the big hint is refused every time.
  await reconfigure(cluster, node4, { maxValueBytes: 1 })
  await node4.start()
  await waitUntil('every small hint delivered', async () => await hintsFor(others, 'node4') === 1, 30_000, 250)
  for (const key of small) expect(await heldValues(cluster, node4, key)).toEqual([`v-${key}`])
  const holder = (await Promise.all(others.map(viewOf))).find((v) => (v.hints.owners.find((o) => o.id === 'node4')?.pending ?? 0) > 0)!
  expect((holder.hints.owners.find((o) => o.id === 'node4') as { lastError?: string }).lastError).toMatch(/failed/)
})

test('hints for a member down longer than the hint window go to the key\'s other replicas; it catches up by anti-entropy', { timeout: 120_000 }, async () => {
  cluster = await TestCluster.start({
    size: 4, replicas: 3, settings: { antiEntropyIntervalMs: 500, gossipIntervalMs: 500, partitions: 64, hintWindowMs: 3_000 }
  })
  const [node1, node2, node3, node4] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
  const others = [node1, node2, node3]
  expect(await node4.stop('SIGKILL')).toBe(null)
  await waitUntil('node4 down', async () => (await viewOf(node1)).peers.find((p) => p.id === 'node4')?.status === 'down', 20_000, 200)
  const keys = keysReplicatedBy(cluster, 'node4', 'window', 30)
  for (const key of keys) expect((await putText(node2.url, key, `v-${key}`, 'w=2')).status).toBe(204)
  // Within the window they are held; past it they drain although node4 is still down.
  await waitUntil('hints for node4 drained while it is down', async () => await hintsFor(others, 'node4') === 0, 30_000, 250)
  for (const key of keys) {
    for (const id of cluster.preferenceList(key).filter((id) => id !== 'node4')) {
      expect(await heldValues(cluster, cluster.node(id), key), `${key} on ${id}`).toEqual([`v-${key}`])
    }
  }
  await node4.start()
  await waitUntil('node4 caught up by anti-entropy', async () => {
    for (const key of keys) if ((await heldValues(cluster!, node4, key)).length === 0) return false
    return true
  }, 60_000, 500)
})

test('a leaving node whose new owners refuse its keys stays, showing its progress, and hands everything over once they take them', { timeout: 180_000 }, async () => {
  // The others run with maxValueBytes 1, taking hand-over batches of about 7.8 MB at most: node4
  // keeps the only whole copy of a 9 MiB key (nine blind writes of 1 MiB with w=1 through node4, a
  // replica of the key), which the others can stream from it but not be pushed.
  cluster = await TestCluster.start({
    size: 4, replicas: 3, settings: { antiEntropyIntervalMs: 0, gossipIntervalMs: 500, partitions: 64 }, nodeSettings: (id) => id === 'node4' ? {} : { maxValueBytes: 1 }
  })
  const c = cluster
  const [node1, node2, node3, node4] = c.nodes as [ClusterNode, ClusterNode, ClusterNode, ClusterNode]
  const stayers = [node1, node2, node3]
  const big = keysReplicatedBy(c, 'node4', 'big', 1)[0]!
  const values = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].map((v) => v.repeat(MIB - 64))
  for (const value of values) expect((await putText(node4.url, big, value, 'w=1')).status).toBe(204)
  for (const key of keysReplicatedBy(c, 'node4', 'small', 20)) expect((await putText(node4.url, key, `v-${key}`, 'w=3')).status).toBe(204)

  const leave = await fetch(`${node4.url}/v1/admin/leave`, { method: 'POST' })
  expect(leave.status).toBe(202)
  type Leaving = { phase: string, passes: number, keysLeft: number, hintsLeft: number }
  const leaving = async (): Promise<Leaving | undefined> => ((await (await fetch(`${node4.url}/v1/cluster`)).json()) as { leaving?: Leaving }).leaving
  await waitUntil('node4 handing over with a key left', async () => {
    const p = await leaving()
    return p?.phase === 'handing-over' && p.keysLeft > 0
  }, 60_000, 250)
  // Past 20 refused passes (about 20 s: a pass, then LEAVE_RETRY_MS), it is still there, still trying.
  await waitUntil('node4 made more than 20 hand-over passes', async () => ((await leaving())?.passes ?? 0) > 20, 90_000, 500)
  expect(node4.running).toBe(true)
  const stuck = await leaving()
  expect(stuck).toMatchObject({ phase: 'handing-over', keysLeft: 1 })
  expect(stuck!.passes).toBeGreaterThan(20)
  expect(node4.lines.some((l) => l.msg?.includes('not yet taken by their new owners') === true)).toBe(true)

  // The owners take big bodies again: node4 hands the key over and exits.
  for (const node of stayers) {
    await node.stop()
    await reconfigure(c, node, { maxValueBytes: MIB })
    await node.start()
  }
  await waitUntil('node4 exited', async () => !node4.running, 60_000, 250)
  expect(await node4.stop()).toBe(0)
  // With three members left for n=3, each holds every key.
  for (const node of stayers) expect(await heldValues(c, node, big), node.id).toEqual(values)
})
