import { rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { eventually, getKey, putText } from './helpers/http.js'
import { expectCaughtUp, expectStrictReadsNeverNotFound, recovery } from './helpers/recovery.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'

// A replica that lost its disk must not outvote the one that holds an acknowledged write. Three
// nodes, n=3: a write acknowledged with w=pw=2 by A and B while C is down; then B stops, A loses its
// data directory and restarts empty, C returns. A strict read (r=pr=2) must answer the value or 503,
// never 404; once B is back, anti-entropy brings A's partitions current and A holds the value again.

let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { antiEntropyIntervalMs: 500, partitions: 64 } })
})
afterAll(async () => { await cluster?.close() })

test('a wiped primary\'s "not found" does not count toward pr: a strict read answers the value or 503, never 404', { timeout: 120_000 }, async () => {
  const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  // A new cluster's members all start empty: their peers never heard of them, so nothing is rebuilding.
  for (const node of cluster.nodes) expect(await recovery(node)).toEqual({ state: 'current', partitionsRebuilding: 0 })

  expect(await c.stop()).toBe(0)
  const key = 'strict/acknowledged'
  const put = await putText(a.url, key, 'acknowledged by two primaries', 'w=2&pw=2')
  expect(put.status, await put.text()).toBe(204)

  expect(await b.stop()).toBe(0)
  expect(await a.stop()).toBe(0)
  await rm(a.dataDir, { recursive: true, force: true })
  await a.start()
  await c.start()
  await cluster.settled()

  // C heard of A's earlier life, so A knows it lost data and says so in its replica answers.
  await eventually('A is rebuilding', async () => (await recovery(a)).state === 'rebuilding')
  expect((await recovery(a)).partitionsRebuilding).toBe(64)
  expect(await recovery(c)).toEqual({ state: 'current', partitionsRebuilding: 0 })
  const raw = await cluster.internodeFetch(a, `/internal/v1/replicas/${encodeURIComponent(key)}`)
  expect(raw.status).toBe(203)

  await expectStrictReadsNeverNotFound([a, c], key, 'acknowledged by two primaries')
  // The default (notfound_ok=true, as in Riak) counts A's "not found" toward r: that is what pr is for.
  expect((await getKey(c.url, key, 'r=2')).status).toBe(404)
  expect((await getKey(c.url, key, 'r=2&notfound_ok=nope')).status).toBe(400)

  // A stays rebuilding while B, which shares every partition with it, is down.
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  expect((await recovery(a)).state).toBe('rebuilding')

  await expectCaughtUp(cluster, b, a, key, 'acknowledged by two primaries')

  // The state is stored: a plain restart of A (its directory is no longer empty) stays current.
  expect(await a.stop()).toBe(0)
  await a.start()
  await cluster.settled()
  expect(await recovery(a)).toEqual({ state: 'current', partitionsRebuilding: 0 })
})
