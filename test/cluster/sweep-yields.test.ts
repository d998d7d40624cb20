import { afterAll, beforeAll, expect, test } from 'vitest'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { transfersTo } from '../../gateway/src/ring/ring-state.js'
import { putText } from './helpers/http.js'
import { forEachLimited, heldValues, joiningNode, replicasOf, ringStateOf, settledOn, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { levelring } from '../support/levelring-command.js'
import { waitUntil } from '../support/process.js'

// A sweep gives way to the next move. After a join is promoted, each node walks the partitions it
// gave up, offers their keys to the new replicas and drops them, run after run; at a large Q on a
// busy node that takes minutes. A second move planned meanwhile (here a leave) waits for every
// node gaining partitions in it to stream them, so a node must stream before it finishes its
// sweep. node2's offers to the joiner are held 10 s each (fault injection), so its sweep of the
// join lasts a run per 10 s; node4 is asked to leave once that sweep has begun. node2 gains
// partitions in the leave's ring, and must have streamed them before it completes the join's
// sweep. Anti-entropy is off: afterwards every written key is on each of its replicas in the final
// ring through the moves alone.

const Q = 64
const DELAY_MS = 10_000
let cluster: TestCluster
let joiner: ClusterNode | undefined

beforeAll(async () => {
  cluster = await TestCluster.start({
    size: 4, replicas: 3, defaults: { r: 2, w: 2 }, settings: { antiEntropyIntervalMs: 0, gossipIntervalMs: 500, partitions: Q, enableFaultInjection: true }
  })
})
afterAll(async () => {
  await joiner?.stop()
  await cluster?.close()
})

/** Log lines of `node` with this message. */
function logged (node: ClusterNode, msg: string): Array<Record<string, any>> {
  return node.lines.filter((l) => l.msg === msg)
}

test('a node streams the partitions a new pending ring gives it before it finishes the sweep of the last move', async () => {
  const values = new Map<string, string>()
  await forEachLimited(Array.from({ length: 320 }, (_, i) => `sy-${i}`), 8, async (key) => {
    const res = await putText(cluster.node('node1').url, key, `v-${key}`, 'w=3')
    expect(res.status, await res.text()).toBe(204)
    values.set(key, `v-${key}`)
  })

  joiner = await joiningNode(cluster, 'node5', [cluster.node('node1')])
  await joiner.start()
  const sweeper = cluster.node('node2')
  const delay = await cluster.internodeFetch(sweeper, FAULTS_PATH, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked: [], delayMs: { node5: DELAY_MS } })
  })
  expect(delay.status).toBe(200)
  const everyone = (): ClusterNode[] => [...cluster.nodes, joiner!].filter((n) => n.running)
  await waitUntil('node5 owns its share on every node', async () =>
    settledOn(await Promise.all(everyone().map(viewOf)), ['node1', 'node2', 'node3', 'node4', 'node5']), 120_000, 250)
  const joined = (await ringStateOf(cluster, sweeper)).epoch

  // node2's sweep of the join has begun: its first offer (to node5, held 10 s) is out.
  await waitUntil('node2 offers keys of partitions it gave up', async () =>
    ((await viewOf(sweeper)).transfers as unknown as { handoverKeysOffered: number }).handoverKeysOffered > 0, 60_000, 100)
  const left = await levelring(['leave', '--node', cluster.node('node4').url])
  expect(left.code, left.stderr).toBe(0)
  const leaving = await (async () => {
    let state = await ringStateOf(cluster, sweeper)
    await waitUntil('node2 sees the ring without node4 pending', async () => {
      state = await ringStateOf(cluster, sweeper)
      return state.pending !== undefined && !state.pending.plan.members.some((m) => m.id === 'node4')
    }, 60_000, 100)
    return state
  })()
  expect(transfersTo(leaving, 3, 'node2').length).toBeGreaterThan(0)

  await waitUntil('node2 streamed the partitions it gains in the ring without node4', () =>
    logged(sweeper, 'received every partition this node gains').some((l) => l.epoch === leaving.epoch), 120_000, 250)
  // Its sweep of the join, held 10 s a run, had not run to its end by then: it gave way.
  const streamedAt = sweeper.lines.findIndex((l) => l.msg === 'received every partition this node gains' && l.epoch === leaving.epoch)
  const sweptJoin = sweeper.lines.findIndex((l) => l.msg === 'handed over keys of partitions this node no longer replicates' && l.epoch === joined)
  expect(sweptJoin === -1 || sweptJoin > streamedAt, 'node2 finished the sweep of the join before it streamed the ring without node4').toBe(true)
  expect(logged(sweeper, 'sweep paused: a pending ring gives this node partitions, which it streams first').length).toBeGreaterThan(0)

  // Undelayed, everything settles: node4 gone, every key on each of its replicas in the final ring.
  await cluster.internodeFetch(sweeper, FAULTS_PATH, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"blocked":[]}' })
  await waitUntil('node4 exits', () => !cluster.node('node4').running, 120_000, 250)
  const stayers = (): ClusterNode[] => [cluster.node('node1'), sweeper, cluster.node('node3'), joiner!]
  await waitUntil('the ring without node4 is current everywhere', async () =>
    settledOn(await Promise.all(stayers().map(viewOf)), ['node1', 'node2', 'node3', 'node5']), 120_000, 250)
  const ring = (await ringStateOf(cluster, sweeper)).current.ring
  const byId = new Map(stayers().map((n) => [n.id, n]))
  await waitUntil('every key on each of its 3 replicas', async () => {
    let missing = 0
    await forEachLimited([...values], 8, async ([key, value]) => {
      for (const id of replicasOf(ring, key, 3)) if (!(await heldValues(cluster, byId.get(id)!, key)).includes(value)) missing++
    })
    return missing === 0
  }, 120_000, 1_000)
}, 600_000)
