import { afterEach, expect, test } from 'vitest'
import { seed, storedObjects } from './helpers/anti-entropy.js'
import { joiningNode, ringStateOf, viewOf } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { PAGE_KEYS } from '../../gateway/src/handoff/partition-stream.js'
import { STREAM_CONCURRENCY } from '../../gateway/src/handoff/partition-transfer.js'
import { partitionOf } from '../../gateway/src/ring/partition.js'
import { waitUntil } from '../support/process.js'

// Streaming by range, resumable (handoff/partition-transfer.ts): a node joining a 3-node cluster
// (n=3, Q=16) pulls each partition it gains from one source, a page of PAGE_KEYS keys at a time,
// persisting a cursor per partition. Its calls to the sources are slowed (fault injection) so that
// the test can kill a process mid-stream. Pages are counted on both sides (GET /v1/cluster transfers).

const Q = 16
const KEYS = 24_000

interface Transfers { streamed: number, dropped: number, pagesFetched: number, pagesServed: number, partitionsRead: number }

let cluster: TestCluster | undefined
let joiner: ClusterNode | undefined
afterEach(async () => { await joiner?.stop(); joiner = undefined; await cluster?.close(); cluster = undefined })

const transfersOf = async (node: ClusterNode): Promise<Transfers> => (await viewOf(node)).transfers as unknown as Transfers

async function seeded (): Promise<{ cluster: TestCluster, keys: string[] }> {
  const c = await TestCluster.start({ size: 3, replicas: 3, settings: { partitions: Q, enableFaultInjection: true, antiEntropyIntervalMs: 0, gossipIntervalMs: 500 } })
  const keys = Array.from({ length: KEYS }, (_, i) => `stream-${String(i).padStart(6, '0')}`)
  await seed(c, c.nodes, keys.map((key) => ({ key, value: `v-${key}` })))
  return { cluster: c, keys }
}

/** Start node4 joining through node1, its internode calls to the old members held `delayMs` each. */
async function startSlowJoiner (c: TestCluster, delayMs: number): Promise<ClusterNode> {
  const node = await joiningNode(c, 'node4', [c.node('node1')])
  await node.start()
  const res = await c.internodeFetch(node, FAULTS_PATH, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked: [], delayMs: { node1: delayMs, node2: delayMs, node3: delayMs } })
  })
  expect(res.status, await res.text()).toBe(200)
  return node
}

async function joined (c: TestCluster, node: ClusterNode): Promise<void> {
  await waitUntil('node4 joined: the pending ring committed with node4 in it', async () => {
    const view = await viewOf(node)
    return view.ring.pending === undefined && (view.ring.owners.find((o) => o.id === 'node4')?.partitions ?? 0) > 0
  }, 90_000, 250)
}

/** The keys node4 replicates now, grouped by partition, and the pages a whole stream of them takes. */
async function gained (c: TestCluster, node: ClusterNode, keys: readonly string[]): Promise<{ mine: string[], pages: number, partitions: number }> {
  const ring = (await ringStateOf(c, node)).current.ring
  const perPartition = new Map<number, number>()
  for (let p = 0; p < Q; p++) if (ring.preferenceList(p, 3).includes('node4')) perPartition.set(p, 0)
  const mine = keys.filter((key) => perPartition.has(partitionOf(key, Q)))
  for (const key of mine) perPartition.set(partitionOf(key, Q), perPartition.get(partitionOf(key, Q))! + 1)
  // A partition's walk ends its page: ceil(keys / PAGE_KEYS) pages each, one at least.
  const pages = [...perPartition.values()].reduce((n, k) => n + Math.max(1, Math.ceil(k / PAGE_KEYS)), 0)
  return { mine, pages, partitions: perPartition.size }
}

async function expectHolds (c: TestCluster, node: ClusterNode, keys: readonly string[]): Promise<void> {
  const held = await storedObjects(c, node, keys)
  expect(held.filter((o) => o === undefined).length, 'keys of its partitions node4 lacks').toBe(0)
}

test('a receiver killed mid-partition restarts and finishes from its cursors: nothing it had is sent again, each partition read once', { timeout: 180_000 }, async () => {
  const setup = await seeded()
  cluster = setup.cluster
  joiner = await startSlowJoiner(cluster, 400)
  await waitUntil('node4 fetched some pages', async () => (await transfersOf(joiner!)).pagesFetched >= 8, 60_000, 50)
  const firstLife = (await transfersOf(joiner)).pagesFetched
  expect(await joiner.stop('SIGKILL')).toBe(null)
  await joiner.start() // no delays this time: fault injection state is not persisted
  await joined(cluster, joiner)

  const { mine, pages, partitions } = await gained(cluster, joiner, setup.keys)
  expect(pages).toBeGreaterThan(20)
  const secondLife = (await transfersOf(joiner)).pagesFetched
  const served = (await Promise.all(cluster.nodes.map(transfersOf))).reduce((t, s) => ({ pages: t.pages + s.pagesServed, reads: t.reads + s.partitionsRead }), { pages: 0, reads: 0 })
  console.log(`stream resume: ${partitions} partitions gained, ${pages} pages needed; node4 fetched ${firstLife}+ before the kill and ${secondLife} after; ` +
    `sources served ${served.pages} pages and began ${served.reads} partition reads`)
  // Resumed, not restarted: the second life fetched only what the first had not persisted.
  expect(secondLife).toBeLessThanOrEqual(pages - firstLife + STREAM_CONCURRENCY)
  // At most the pages in flight at the kill (fetched, cursor not yet stored) were sent twice.
  expect(served.pages).toBeGreaterThanOrEqual(pages)
  expect(served.pages).toBeLessThanOrEqual(pages + STREAM_CONCURRENCY)
  // Each partition read from its first key once (again only if the kill took its first page's cursor).
  expect(served.reads).toBeGreaterThanOrEqual(partitions)
  expect(served.reads).toBeLessThanOrEqual(partitions + STREAM_CONCURRENCY)
  await expectHolds(cluster, joiner, mine)
})

test('a source killed mid-stream is replaced by the replicas that keep the partition, each walked once', { timeout: 180_000 }, async () => {
  const setup = await seeded()
  cluster = setup.cluster
  joiner = await startSlowJoiner(cluster, 400)
  const node2 = cluster.node('node2')
  // Killed once it served a first page: the partition it began has pages left (each has about three).
  await waitUntil('node2 served a page to node4', async () => (await transfersOf(node2)).pagesServed >= 1, 60_000, 50)
  const servedBefore = (await transfersOf(node2)).pagesServed
  expect(await node2.stop('SIGKILL')).toBe(null)
  await joined(cluster, joiner)

  const { mine, pages } = await gained(cluster, joiner, setup.keys)
  const failedOver = joiner.lines.filter((l) => l.msg === 'streaming a partition from a replica failed; trying another' && l.source === 'node2')
  expect(failedOver.length, 'node4 moved partitions off node2').toBeGreaterThan(0)
  const fetched = (await transfersOf(joiner)).pagesFetched
  console.log(`source failover: ${pages} pages needed, node4 fetched ${fetched}; ${failedOver.length} partitions moved off node2 after it served ${servedBefore}+ pages`)
  // A partition the killed (losing) replica was sending is walked whole on each of its two keeping
  // replicas (the receiver takes their union), so at most twice its pages again, never a rescan per page.
  expect(fetched).toBeGreaterThan(pages)
  expect(fetched).toBeLessThanOrEqual(3 * pages + STREAM_CONCURRENCY)
  await expectHolds(cluster, joiner, mine)
})
