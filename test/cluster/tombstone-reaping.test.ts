import { afterAll, beforeAll, expect, test } from 'vitest'
import { isDeleted } from '../../gateway/src/replica/stored-object.js'
import { eventually, getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'
import { sleep } from '../support/process.js'

// A cluster member reaps a tombstone only when every other replica of the key answers and holds no
// live version: a replica that missed the delete still holds the old value, and reaping the
// tombstone elsewhere would let the next read bring the deleted value back. Grace 1 ms and a pass
// every 100 ms here, so reaping would happen at once if nothing held it back. Anti-entropy is off
// (it would carry the tombstone to the missed replica by itself: test/cluster/partition.test.ts).

let cluster: TestCluster

beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { tombstoneGraceMs: 1, reapIntervalMs: 100, antiEntropyIntervalMs: 0 } }) })
afterAll(async () => { await cluster?.close() })

test('a delete missed by a stopped replica is not reaped until that replica holds the tombstone; then every replica reaps it and it stays deleted', async () => {
  const [a, b, missed] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  expect((await putText(a.url, 'ghost', 'deleted value', 'w=3')).status).toBe(204)
  const context = (await getKey(a.url, 'ghost', 'r=3')).headers.get('x-causal-context')!
  expect(await missed.stop()).toBe(0)
  expect((await fetch(`${b.url}/v1/kv/ghost?w=2`, { method: 'DELETE', headers: { 'X-Causal-Context': context } })).status).toBe(204)

  // Many reaper passes later the tombstone is still there: the missed replica cannot be asked.
  await sleep(1_000)
  for (const node of [a, b]) {
    const held = await cluster.replicaRead(node, 'ghost')
    expect(held, `${node.id} kept the tombstone`).toBeDefined()
    expect(isDeleted(held!)).toBe(true)
  }

  // Back, but holding the old value: still no reaping.
  await missed.start()
  await cluster.settled()
  await sleep(1_000)
  for (const node of [a, b]) expect(isDeleted((await cluster.replicaRead(node, 'ghost'))!)).toBe(true)
  expect(isDeleted((await cluster.replicaRead(missed, 'ghost'))!)).toBe(false)

  // A read merges (the tombstone dominates the old value) and repairs the missed replica; then all reap.
  expect((await getKey(missed.url, 'ghost', 'r=3')).status).toBe(404)
  for (const node of cluster.nodes) {
    await eventually(`ghost reaped on ${node.id}`, async () => (await cluster.replicaRead(node, 'ghost')) === undefined)
  }
  const after = await getKey(a.url, 'ghost', 'r=3')
  expect(after.status).toBe(404)
  expect(after.headers.get('x-causal-context')).toBeNull() // nothing at all is left, not even a tombstone
})
