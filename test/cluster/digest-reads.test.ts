import { afterAll, beforeAll, expect, test } from 'vitest'
import { keyPath, OBJECT_MEDIA_TYPE, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { isDeleted, tombstoneVersion, type StoredObject, type StoredVersion } from '../../gateway/src/replica/stored-object.js'
import type { ClockEntry, Sibling } from '../../gateway/src/version/dvv.js'
import { sameVersions } from '../../gateway/src/version/dvv.js'
import { eventually, getKey, putText, siblingValues } from './helpers/http.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { parseExposition, sampleValue, type Family } from '../support/prometheus-text.js'

// Digest reads over real processes: a read asks one replica (the coordinator, a replica of every key
// with n = 3 on three nodes) for its set and the others for digests, and fetches a set only where a
// digest differs. Versions are planted on one replica alone with the internode replica PUT (a merge),
// which is how a replica that alone took a write looks. Anti-entropy is off: only reads may repair.

let cluster: TestCluster
beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { antiEntropyIntervalMs: 0 }, startTimeoutMs: 60_000 }) })
afterAll(async () => { await cluster?.close() })

async function scrape (node: ClusterNode): Promise<Map<string, Family>> {
  return parseExposition(await (await fetch(`${node.url}/metrics`)).text())
}

/** Internode calls `node` made, by endpoint, between two scrapes. */
function calls (before: Map<string, Family>, after: Map<string, Family>, endpoint: string): number {
  const total = (m: Map<string, Family>): number => ['node1', 'node2', 'node3'].reduce((n, peer) =>
    n + sampleValue(m, 'levelring_internode_calls_total', { peer, endpoint, outcome: 'ok' }), 0)
  return total(after) - total(before)
}

/** `object` with one more version, under a dot of an actor no node has: what a replica that alone took a write holds. */
function plus (object: StoredObject, actor: string, version: StoredVersion, supersede: boolean): StoredObject {
  const entry: [string, ClockEntry] = [actor, { counter: 1, timestamp: 0 }]
  const clock = new Map([...object.clock, entry].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0))
  const added: Sibling<StoredVersion> = { dot: { actor, counter: 1 }, value: version }
  return { clock, siblings: supersede ? [added] : [...object.siblings, added] }
}

async function plant (node: ClusterNode, key: string, object: StoredObject): Promise<void> {
  const res = await cluster.internodeFetch(node, keyPath(REPLICAS_PATH, key), { method: 'PUT', body: encodeObject(object), headers: { 'content-type': OBJECT_MEDIA_TYPE } })
  expect(res.status).toBe(204)
}

async function inStep (key: string): Promise<boolean> {
  const [a, b, c] = await Promise.all(cluster.nodes.map((n) => cluster.replicaRead(n, key)))
  return a !== undefined && b !== undefined && c !== undefined && sameVersions(a, b) && sameVersions(b, c)
}

test('replicas in step: each read asks two digests and no set of the other nodes', async () => {
  const [node1] = cluster.nodes as [ClusterNode]
  const keys = Array.from({ length: 10 }, (_, i) => `step-${i}`)
  for (const key of keys) expect((await putText(node1.url, key, `v-${key}`, 'w=3')).status).toBe(204)
  const before = await scrape(node1)
  for (const key of keys) {
    const res = await getKey(node1.url, key, 'r=2')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(`v-${key}`)
  }
  // The late third digest of each read may still be on its way when r=2 answered.
  await eventually('every digest counted', async () => calls(before, await scrape(node1), 'replica_digest') === 2 * keys.length)
  expect(calls(before, await scrape(node1), 'replica_read')).toBe(0)
})

test('a sibling on one replica only: r=3 answers both siblings, and an r=2 read that missed it repairs the others with it', async () => {
  const [node1, , node3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  for (const key of ['sib-r3', 'sib-r2']) {
    expect((await putText(node1.url, key, 'first', 'w=3')).status).toBe(204)
    const held = (await cluster.replicaRead(node3, key))!
    await plant(node3, key, plus(held, 'planted@1', { tombstone: false, contentType: 'text/plain', lastModified: Date.now(), value: Buffer.from('second') }, false))
  }
  const both = await getKey(node1.url, 'sib-r3', 'r=3')
  expect(both.status).toBe(300)
  expect((await siblingValues(both)).sort()).toEqual(['first', 'second'])

  // r=2 may be met by node1's set and node2's equal digest; node3's differing digest then fetches its set for repair.
  expect([200, 300]).toContain((await getKey(node1.url, 'sib-r2', 'r=2')).status)
  await eventually('the sibling repaired to every replica', async () => inStep('sib-r2'), 50, 100)
  const after = await getKey(node1.url, 'sib-r2', 'r=2')
  expect(after.status).toBe(300)
  expect((await siblingValues(after)).sort()).toEqual(['first', 'second'])
})

test('a tombstone on one replica only: r=3 answers 404 at once, and an r=2 read that missed it still spreads it', async () => {
  const [node1, node2, node3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  for (const key of ['tomb-r3', 'tomb-r2']) {
    expect((await putText(node1.url, key, 'doomed', 'w=3')).status).toBe(204)
    const held = (await cluster.replicaRead(node3, key))!
    await plant(node3, key, plus(held, 'planted@1', tombstoneVersion(Date.now()), true))
  }
  expect((await getKey(node1.url, 'tomb-r3', 'r=3')).status).toBe(404)

  await getKey(node2.url, 'tomb-r2', 'r=2')
  await eventually('the tombstone repaired to every replica', async () => inStep('tomb-r2'), 50, 100)
  for (const node of cluster.nodes) expect(isDeleted((await cluster.replicaRead(node, 'tomb-r2'))!), node.id).toBe(true)
  expect((await getKey(node1.url, 'tomb-r2', 'r=2')).status).toBe(404)
})

test('a coordinator behind: it fetches the newer set behind a differing digest, answers it, and is repaired', async () => {
  const [node1, node2] = cluster.nodes as [ClusterNode, ClusterNode]
  const key = 'behind'
  expect((await putText(node1.url, key, 'old', 'w=3')).status).toBe(204)
  // node2 alone holds a newer version (one that supersedes "old"); node1, the coordinator, and node3 do not.
  const held = (await cluster.replicaRead(node2, key))!
  await plant(node2, key, plus(held, 'planted@1', { tombstone: false, contentType: 'text/plain', lastModified: Date.now(), value: Buffer.from('new') }, true))
  // r=3 needs node2's answer, so its set must be fetched: the answer is the newer version, never "old".
  const res = await getKey(node1.url, key, 'r=3')
  expect(res.status).toBe(200)
  expect(await res.text()).toBe('new')
  await eventually('node1 and node3 repaired', async () => inStep(key), 50, 100)
})
