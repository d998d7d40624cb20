import { cp, rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { sleep, waitUntil } from '../support/process.js'
import { getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'

// A copy of a data directory older than the tombstone grace holds values whose deletes the other
// replicas may have reaped since: restored, anti-entropy would bring them back. The node refuses to
// start on it, saying why and what to do; started empty instead, it rebuilds from its peers and the
// deleted key stays deleted. The grace is 3 s here so the copy ages past it within the test.

let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { tombstoneGraceMs: 3_000, reapIntervalMs: 300, antiEntropyIntervalMs: 500 } })
})
afterAll(async () => { await cluster?.close() })

test('a restored copy older than the tombstone grace is refused; the node started empty rebuilds and the delete holds', async () => {
  const [node1, , node3] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  expect((await putText(node1.url, 'gone', 'old value', 'w=3')).status).toBe(204)
  expect((await putText(node1.url, 'kept', 'stays', 'w=3')).status).toBe(204)
  // A cold copy of node3's directory, holding the value.
  expect(await node3.stop()).toBe(0)
  const copy = `${node3.dataDir}-copy`
  await cp(node3.dataDir, copy, { recursive: true })
  await node3.start()
  await cluster.settled()

  // The delete, then every replica reaps its tombstone once the grace has passed.
  const del = await fetch(`${node1.url}/v1/kv/gone?w=3`, { method: 'DELETE' })
  expect(del.status).toBe(204)
  await waitUntil('every replica reaped the tombstone of gone', async () => {
    for (const node of cluster.nodes) if ((await cluster.replicaRead(node, 'gone')) !== undefined) return false
    return true
  }, 30_000, 300)

  // The copy is restored: the node refuses it, naming the grace.
  await node3.stop('SIGKILL')
  await rm(node3.dataDir, { recursive: true, force: true })
  await cp(copy, node3.dataDir, { recursive: true })
  await expect(node3.start()).rejects.toThrow(/longer than the tombstone grace/)
  expect(node3.stderr).toMatch(/Start this node on an empty data directory/)

  // Started empty, it rebuilds from its peers: the deleted key stays deleted, the other comes back to it.
  await rm(node3.dataDir, { recursive: true, force: true })
  await node3.start()
  await cluster.settled()
  await waitUntil('node3 holds kept again', async () => (await cluster.replicaRead(node3, 'kept')) !== undefined, 30_000, 300)
  await sleep(1_000)
  expect((await getKey(node1.url, 'gone', 'r=3')).status).toBe(404)
  for (const node of cluster.nodes) expect(await cluster.replicaRead(node, 'gone'), `gone on ${node.id}`).toBeUndefined()
  await rm(copy, { recursive: true, force: true })
}, 120_000)
