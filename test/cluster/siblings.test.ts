import { afterAll, beforeAll, expect, test } from 'vitest'
import { liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { eventually, getKey, putText, siblingValues } from './helpers/http.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'

// Siblings across nodes. Four nodes with n=3, so every key has a node that
// is not one of its replicas: a write through that node is forwarded to a replica (the first of
// the preference list that is up), which stamps it and replicates it.

let cluster: TestCluster

beforeAll(async () => { cluster = await TestCluster.start({ size: 4, replicas: 3 }) })
afterAll(async () => { await cluster?.close() })

/** The actor part of an ETag ("node3@1a2b3c:10001" -> node3): which replica stamped the write. */
function stamper (res: Response): string {
  return /^"([^@]+)@/.exec(res.headers.get('etag') ?? '')?.[1] ?? '?'
}

function roles (key: string): { replicas: ClusterNode[], outsider: ClusterNode } {
  const list = cluster.preferenceList(key)
  return { replicas: list.map((id) => cluster.node(id)), outsider: cluster.nodes.find((n) => !list.includes(n.id))! }
}

test('two clients writing through different nodes from the same context make two siblings, seen from every node; writing back the merge resolves them everywhere', async () => {
  const key = 'cart-17'
  const { replicas, outsider } = roles(key)
  expect((await putText(replicas[1]!.url, key, 'milk', 'w=2')).status).toBe(204)
  const context = (await getKey(outsider.url, key, 'r=2')).headers.get('x-causal-context')!

  // Same context, concurrently: one through a node that is not a replica (forwarded), one through a replica.
  const [a, b] = await Promise.all([
    putText(outsider.url, key, 'milk,eggs', 'w=2', context),
    putText(replicas[2]!.url, key, 'milk,bread', 'w=2', context)
  ])
  expect([a.status, b.status]).toEqual([204, 204])
  expect(stamper(a)).toBe(replicas[0]!.id) // forwarded to the first replica of the preference list
  expect(stamper(b)).toBe(replicas[2]!.id) // a replica stamps its own writes

  let mergeContext = ''
  for (const node of cluster.nodes) {
    const read = await getKey(node.url, key, 'r=2')
    expect(read.status, `read through ${node.id}`).toBe(300)
    mergeContext = read.headers.get('x-causal-context')!
    expect(await siblingValues(read)).toEqual(['milk,bread', 'milk,eggs'])
  }

  expect((await putText(outsider.url, key, 'milk,eggs,bread', 'w=2', mergeContext)).status).toBe(204)
  for (const node of cluster.nodes) {
    const read = await getKey(node.url, key, 'r=2')
    expect(read.status, `read through ${node.id}`).toBe(200)
    expect(await read.text()).toBe('milk,eggs,bread')
  }
  // Every replica ends up holding only the resolved value (w=2: the third one a moment later).
  for (const replica of replicas) {
    await eventually(`${key} resolved on ${replica.id}`, async () => {
      const held = await cluster.replicaRead(replica, key)
      return held !== undefined && liveSiblings(held).length === 1 && Buffer.from(liveSiblings(held)[0]!.value.value).toString() === 'milk,eggs,bread'
    })
  }
  expect(await cluster.replicaRead(outsider, key)).toBeUndefined() // a coordinator that is not a replica keeps nothing
})

test('blind writes (no context) through every node all stay as siblings', async () => {
  const key = 'blind'
  await Promise.all(cluster.nodes.map((n) => putText(n.url, key, `from ${n.id}`, 'w=3')))
  const read = await getKey(cluster.nodes[0]!.url, key, 'r=3')
  expect(read.status).toBe(300)
  expect(await siblingValues(read)).toEqual(cluster.nodes.map((n) => `from ${n.id}`).sort())
})

test('a forwarded write skips a stopped first replica for the next one; reads and writes from a non-replica still meet r=2/w=2, r=3 through a fallback, not pr=3', async () => {
  const victim = cluster.nodes[3]!
  // Keys whose first replica is the victim, coordinated by a node that is not their replica.
  const keys = Array.from({ length: 400 }, (_, i) => `fwd-${i}`)
    .filter((k) => cluster.preferenceList(k)[0] === victim.id)
    .slice(0, 10)
  expect(keys.length).toBe(10)
  expect(await victim.stop()).toBe(0)
  for (const key of keys) {
    const { replicas, outsider } = roles(key)
    const res = await putText(outsider.url, key, `value of ${key}`, 'w=2')
    expect(res.status, `${key}: ${await res.clone().text()}`).toBe(204)
    expect(stamper(res)).toBe(replicas[1]!.id)
    const read = await getKey(outsider.url, key, 'r=2')
    expect(await read.text()).toBe(`value of ${key}`)
    // Sloppy quorum: the outsider stands in for the stopped primary and keeps the write as a
    // hint, so r=3 is met by two primaries and the fallback; pr=3 insists on primaries and cannot be.
    const all = await getKey(outsider.url, key, 'r=3')
    expect(all.status).toBe(200)
    expect(await all.text()).toBe(`value of ${key}`)
    const primaries = await getKey(outsider.url, key, 'r=3&pr=3')
    expect(primaries.status).toBe(503)
    expect(await primaries.json()).toMatchObject({ parameter: 'pr', needed: 3, answered: 2 })
  }
  await victim.start()
})
