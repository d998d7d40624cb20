import { rm } from 'node:fs/promises'
import { afterEach, expect, test } from 'vitest'
import { antiEntropyView, divergentPartitions, seed, storedObjects } from './helpers/anti-entropy.js'
import { getKey, putText } from './helpers/http.js'
import { viewOf } from './helpers/membership.js'
import { expectStrictReadsNeverNotFound, recovery } from './helpers/recovery.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { PAGE_KEYS } from '../../gateway/src/handoff/partition-stream.js'
import { streamConcurrency } from '../../gateway/src/handoff/partition-transfer.js'
import { partitionOf } from '../../gateway/src/ring/partition.js'
import { isDeleted, liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { sameVersions } from '../../gateway/src/version/dvv.js'
import { waitUntil } from '../support/process.js'

// A wiped replica restored by range (anti-entropy/range-restore.ts): a node whose data directory was
// lost pulls each partition it replicates whole from one other replica through the partition
// streaming endpoint, persisting a cursor per page, and a normal anti-entropy comparison with every
// other replica then confirms it. Its calls to its peers are slowed (fault injection) so the test can
// kill it mid-restore; writes and deletes land meanwhile. Pages are counted on the sources' side.

const Q = 16
const KEYS = 12_000
/** Keys deleted before the wipe, written and overwritten during the restore, deleted during it. */
const DELETED = 20
const WRITTEN = 50
const DELETED_DURING = 10

let cluster: TestCluster | undefined
afterEach(async () => { await cluster?.close(); cluster = undefined })

interface Transfers { pagesServed: number }
const pagesServed = async (nodes: readonly ClusterNode[]): Promise<number> =>
  (await Promise.all(nodes.map(async (n) => ((await viewOf(n)).transfers as unknown as Transfers).pagesServed))).reduce((a, b) => a + b, 0)

const keyOf = (i: number): string => `restore-${String(i).padStart(6, '0')}`

/** Delete `key` through `node` with the context of a read, so the tombstone covers the version read. */
async function del (node: ClusterNode, key: string, query: string): Promise<void> {
  const read = await getKey(node.url, key, 'r=2')
  expect(read.status, `GET ${key}`).toBe(200)
  const context = read.headers.get('x-causal-context')!
  await read.body?.cancel()
  const res = await fetch(`${node.url}/v1/kv/${encodeURIComponent(key)}?${query}`, { method: 'DELETE', headers: { 'X-Causal-Context': context } })
  expect(res.status, `DELETE ${key}: ${await res.text()}`).toBe(204)
}

test('a wiped replica pulls each partition whole from one replica, resumes after a kill from its cursors, keeps writes made meanwhile and brings back no delete', { timeout: 240_000 }, async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { partitions: Q, enableFaultInjection: true, antiEntropyIntervalMs: 1_000, gossipIntervalMs: 500 } })
  const [a, b, wiped] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  const keys = Array.from({ length: KEYS }, (_, i) => keyOf(i))
  await seed(cluster, cluster.nodes, keys.map((key) => ({ key, value: `v-${key}` })))
  for (let i = 0; i < DELETED; i++) await del(a, keys[i]!, 'w=3')

  // Wipe: stop, delete the data directory, start again with the same id; its calls to its peers slowed.
  await wiped.stop()
  await rm(wiped.dataDir, { recursive: true, force: true })
  const servedBefore = await pagesServed([a, b])
  await wiped.start()
  // Idempotent, so asked again when a loaded machine times the request out.
  await waitUntil('slowed calls', async () => (await cluster!.internodeFetch(wiped, FAULTS_PATH, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked: [], delayMs: { node1: 300, node2: 300 } })
  })).status === 200, 30_000, 200)
  await waitUntil(`${wiped.id} rebuilding`, async () => (await recovery(wiped)).state === 'rebuilding', 30_000, 50)

  // While it restores: new keys, blind overwrites (a sibling beside the seeded version), deletes.
  const written = Array.from({ length: WRITTEN }, (_, i) => keyOf(KEYS + i))
  for (const key of written) expect((await putText(a.url, key, `new-${key}`, 'w=2')).status).toBe(204)
  const overwritten = keys.slice(DELETED, DELETED + WRITTEN)
  for (const key of overwritten) expect((await putText(b.url, key, `over-${key}`, 'w=2')).status).toBe(204)
  const deletedDuring = keys.slice(DELETED + WRITTEN, DELETED + WRITTEN + DELETED_DURING)
  for (const key of deletedDuring) await del(b, key, 'w=2')
  // A rebuilding replica's "not found" never makes a strict read answer 404.
  await expectStrictReadsNeverNotFound([wiped, a], keys[KEYS - 1]!, `v-${keys[KEYS - 1]!}`)

  // Killed mid-restore, after some pages.
  await waitUntil('some pages pulled', async () => await pagesServed([a, b]) - servedBefore >= 6, 60_000, 50)
  expect((await recovery(wiped)).state).toBe('rebuilding')
  expect(await wiped.stop('SIGKILL')).toBe(null)
  const servedAtKill = await pagesServed([a, b]) - servedBefore
  await wiped.start() // no delays this time: fault injection state is not persisted
  // The stored state says rebuilding: no probe, no trust in what it holds.
  expect((await recovery(wiped)).state).toBe('rebuilding')
  await waitUntil(`${wiped.id} current again`, async () => (await recovery(wiped)).state === 'current', 120_000, 100)
  const served = await pagesServed([a, b]) - servedBefore

  // One walk of each partition, resumed where the cursor was: the pages a whole restore takes, plus at
  // most the pages in flight at the kill (served but not merged, so asked again).
  const perPartition = new Map<number, number>()
  for (const key of [...keys, ...written]) perPartition.set(partitionOf(key, Q), (perPartition.get(partitionOf(key, Q)) ?? 0) + 1)
  const pagesWhole = [...perPartition.values()].reduce((n, k) => n + Math.ceil(k / PAGE_KEYS), 0) + Q - perPartition.size
  console.log(`range restore of ${KEYS} keys at Q=${Q}: ${servedAtKill} pages before the kill, ${served} in all; a whole restore takes ${pagesWhole}`)
  expect(servedAtKill).toBeGreaterThan(0)
  expect(servedAtKill).toBeLessThan(pagesWhole)
  expect(served).toBeGreaterThanOrEqual(pagesWhole)
  expect(served).toBeLessThanOrEqual(pagesWhole + streamConcurrency(Q))
  // Nobody pushed it the partitions key by key: its peers' comparisons waited for the pulls.
  for (const peer of [a, b]) expect((await antiEntropyView(peer)).totals.keysPushed).toBeLessThanOrEqual(WRITTEN * 2 + DELETED_DURING)

  // Restored: every replica agrees, and the wiped one holds the very versions its peers hold.
  await waitUntil('the trees agree', async () => (await divergentPartitions(cluster!)).length === 0, 60_000, 250)
  const all = [...keys, ...written]
  const reference = await storedObjects(cluster, a, all)
  const restored = await storedObjects(cluster, wiped, all)
  restored.forEach((o, i) => {
    if (reference[i] === undefined) expect(o, all[i]).toBeUndefined() // reaped everywhere
    else expect(o !== undefined && sameVersions(o, reference[i]!), all[i]).toBe(true)
  })
  // No delete came back, before the wipe or during the restore: each is held as a tombstone (the grace is a day).
  for (const [i, key] of [...keys.slice(0, DELETED), ...deletedDuring].entries()) {
    const held = restored[i < DELETED ? i : DELETED + WRITTEN + (i - DELETED)]
    expect(held !== undefined && isDeleted(held), key).toBe(true)
    expect((await getKey(wiped.url, key, 'r=3')).status, key).toBe(404)
  }
  // Writes made meanwhile are kept: the new keys, and each blind overwrite beside the seeded version.
  for (const key of written) {
    const res = await getKey(wiped.url, key, 'r=3')
    expect(res.status, key).toBe(200)
    expect(await res.text()).toBe(`new-${key}`)
  }
  for (const key of overwritten) {
    const held = restored[all.indexOf(key)]!
    expect(liveSiblings(held).map((s) => Buffer.from(s.value.value).toString()).sort(), key).toEqual([`over-${key}`, `v-${key}`])
  }
})

test('a restarted node runs its first anti-entropy round once it serves, not one interval later', { timeout: 120_000 }, async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { partitions: Q, antiEntropyIntervalMs: 60_000 } })
  const node = cluster.nodes[2]!
  await node.stop()
  const started = performance.now()
  await node.start()
  await waitUntil('a first round that compared partitions', async () =>
    (await antiEntropyView(node)).lastExchanges.some((r) => r.partitionsCompared > 0 && r.error === undefined), 50_000, 100)
  const ms = performance.now() - started
  console.log(`restart -> first anti-entropy round: ${Math.round(ms)} ms with a 60 s interval`)
  expect(ms).toBeLessThan(50_000)
})
