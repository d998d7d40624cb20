import { cp, rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { getKey, putText } from './helpers/http.js'
import { expectCaughtUp, expectStrictReadsNeverNotFound, recovery } from './helpers/recovery.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'

// A restored (not wiped) data directory may be behind the writes its node acknowledged, so it
// rebuilds like an empty one. Three nodes, n=3: C is down; A's directory is copied while A runs; a
// write is acknowledged with w=pw=2 by A and B; A is put back on the copy (which lacks it), B stops,
// C returns. A strict read (r=pr=2) must answer the value or 503, never 404; once B is back,
// anti-entropy brings A's partitions current and A holds the value again. A process crash in place
// (SIGKILL) loses nothing acknowledged: that node's replies stay authoritative.

let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { antiEntropyIntervalMs: 500, partitions: 64 } })
})
afterAll(async () => { await cluster?.close() })

test('a primary restarted on an earlier copy of its directory does not count toward pr until anti-entropy has synced it', { timeout: 120_000 }, async () => {
  const [a, b, c] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  expect(await c.stop()).toBe(0)
  const copy = `${cluster.dir}/node1-copy`
  await cp(a.dataDir, copy, { recursive: true })
  const key = 'restored/acknowledged'
  const put = await putText(a.url, key, 'acknowledged by two primaries', 'w=2&pw=2')
  expect(put.status, await put.text()).toBe(204)

  expect(await a.stop()).toBe(0)
  await rm(a.dataDir, { recursive: true, force: true })
  await cp(copy, a.dataDir, { recursive: true })
  expect(await b.stop()).toBe(0)
  await a.start()
  await c.start()
  await cluster.settled()

  expect(a.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('may be behind the writes it acknowledged'))).toBe(true)
  expect(await recovery(a)).toEqual({ state: 'rebuilding', partitionsRebuilding: 64 })
  expect((await cluster.internodeFetch(a, `/internal/v1/replicas/${encodeURIComponent(key)}`)).status).toBe(203)
  await expectStrictReadsNeverNotFound([a, c], key, 'acknowledged by two primaries')

  await expectCaughtUp(cluster, b, a, key, 'acknowledged by two primaries')
})

test('a node killed (SIGKILL) and restarted in place on the same machine boot stays current: its "not found" still counts', { timeout: 60_000 }, async () => {
  const b = cluster.node('node2')
  if (!b.running) await b.start()
  await b.stop('SIGKILL')
  await b.start()
  await cluster.settled()
  expect(b.lines.some((l) => typeof l.msg === 'string' && l.msg.includes('new actor epoch'))).toBe(true)
  expect(await recovery(b)).toEqual({ state: 'current', partitionsRebuilding: 0 })
  expect((await getKey(b.url, 'never/written', 'r=3&pr=3')).status).toBe(404)
})
