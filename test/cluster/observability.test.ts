import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { keyPath, OBJECT_MEDIA_TYPE, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { eventually, getKey, putText } from './helpers/http.js'
import { joiningNode, statusSeenBy } from './helpers/membership.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { parseExposition, sampleValue, type Family } from '../support/prometheus-text.js'
import { waitUntil } from '../support/process.js'

// Watching a real cluster: three node processes on loopback (n = 2, so a key has a third node to
// fall back to; anti-entropy off, so only the requests below move the counters).
//  - One request is followed by its X-Request-Id through the access logs of its coordinator and
//    of the replicas it reached, across a forwarded write.
//  - /metrics after a known workload (writes, reads, a read with siblings, a read repair, quorum
//    failures, a node killed so hints pile up on its fallback, then delivered) moved by exactly
//    the workload, parsed by the strict parser.
//  - /v1/ready of a joining node is 503 with the reason, then 200, then 503 while it stops.

let cluster: TestCluster
let node1: ClusterNode
let node2: ClusterNode
let node3: ClusterNode
let joiner: ClusterNode | undefined

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 2, settings: { antiEntropyIntervalMs: 0, gossipIntervalMs: 500 } })
  ;[node1, node2, node3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
})

afterAll(async () => {
  await joiner?.stop()
  await cluster?.close()
})

/** `count` fresh keys whose preference list is exactly `owners` (in that order); throws when 10,000 tries find too few. */
function keysOwnedBy (owners: readonly string[], count: number, prefix: string): string[] {
  const ring = cluster.ring()
  const keys: string[] = []
  for (let i = 0; keys.length < count; i++) {
    if (i === 10_000) throw new Error(`no ${count} keys with preference list ${owners.join()}`)
    const key = `${prefix}-${i}`
    if (ring.preferenceList(ring.partitionOf(key), cluster.replicas).join() === owners.join()) keys.push(key)
  }
  return keys
}

async function scrape (node: ClusterNode): Promise<Map<string, Family>> {
  const res = await fetch(`${node.url}/metrics`)
  expect(res.status).toBe(200)
  return parseExposition(await res.text())
}

/** The access log lines of `node` naming request `id`. */
function linesOf (node: ClusterNode, id: string): Array<Record<string, any>> {
  return node.lines.filter((l) => l.msg === 'request' && l.reqId === id)
}

test('one request is followed by its id through the access logs of its coordinator and of the replicas it reached', async () => {
  // node1 is not a replica of this key: it forwards the write to node2, which stamps it and replicates it to node3.
  const [key] = keysOwnedBy(['node2', 'node3'], 1, 'traced')
  const id = `trace-${randomUUID()}`
  const put = await fetch(`${node1.url}/v1/kv/${key!}`, { method: 'PUT', body: 'followed', headers: { 'X-Request-Id': id } })
  expect(put.status).toBe(204)
  expect(put.headers.get('x-request-id')).toBe(id)
  await eventually('every hop logged the write', async () => linesOf(node1, id).length === 1 && linesOf(node2, id).length === 1 && linesOf(node3, id).length === 1)
  const [coordinator, stamper, replica] = [linesOf(node1, id)[0]!, linesOf(node2, id)[0]!, linesOf(node3, id)[0]!]
  expect(coordinator).toMatchObject({ node: 'node1', method: 'PUT', status: 204, level: 30 })
  expect(coordinator.path).toMatch(/^\/v1\/kv\/#[0-9a-f]{16}$/)
  expect(typeof coordinator.ms).toBe('number')
  expect(stamper).toMatchObject({ node: 'node2', method: 'POST', status: 200, caller: 'node1' })
  expect(replica).toMatchObject({ node: 'node3', method: 'PUT', status: 204, caller: 'node2' })
  // The key is hashed alike on every node, and never logged as it is.
  const hash = coordinator.path.slice('/v1/kv/'.length)
  expect(stamper.path).toBe(`/internal/v1/writes/${hash}`)
  expect(replica.path).toBe(`/internal/v1/replicas/${hash}`)
  for (const node of cluster.nodes) expect(JSON.stringify(node.lines)).not.toContain(key)

  // A read: the coordinator asks both replicas; each logs the same id.
  const readId = `trace-${randomUUID()}`
  const got = await fetch(`${node1.url}/v1/kv/${key!}`, { headers: { 'X-Request-Id': readId } })
  expect(await got.text()).toBe('followed')
  await eventually('both replicas logged the read', async () => linesOf(node2, readId).length === 1 && linesOf(node3, readId).length === 1)
  expect(linesOf(node2, readId)[0]).toMatchObject({ method: 'GET', status: 200, caller: 'node1', path: `/internal/v1/replicas/${hash}` })

  // A request without an id gets one, answered in X-Request-Id and logged.
  const anonymous = await fetch(`${node1.url}/v1/cluster`)
  const made = anonymous.headers.get('x-request-id')!
  expect(made).toMatch(/^[0-9a-f-]{36}$/)
  await eventually('the made id is logged', async () => linesOf(node1, made).length === 1)
  // Probes and scrapes are not logged.
  expect((await fetch(`${node1.url}/v1/ready`)).headers.get('x-request-id')).toBeNull()
  expect(node1.lines.some((l) => l.msg === 'request' && ['/v1/health', '/v1/ready', '/metrics'].includes(String(l.path)))).toBe(false)
  // Background internode calls (gossip) carry no id and are not logged.
  expect(node2.lines.some((l) => l.msg === 'request' && String(l.path).startsWith('/internal/v1/gossip'))).toBe(false)
})

test('/metrics after a known workload: requests, siblings, read repair, quorum failures, internode calls and hints moved by exactly the workload', async () => {
  const local = keysOwnedBy(['node1', 'node2'], 9, 'local')
  const [siblings, stale] = [local[7]!, local[8]!]
  const written = local.slice(0, 5)
  // (Three equal nodes take partitions in turn, so node3's keys that node1 also replicates are listed node3 first.)
  const withNode3 = keysOwnedBy(['node3', 'node1'], 6, 'hinted')
  const [before1, before2] = await Promise.all([scrape(node1), scrape(node2)])

  for (const key of written) expect((await putText(node1.url, key, `v-${key}`)).status).toBe(204)
  for (const key of written) expect((await getKey(node1.url, key)).status).toBe(200)
  // Two blind writes: two siblings, read as a 300.
  for (const value of ['a', 'b']) expect((await putText(node1.url, siblings, value)).status).toBe(204)
  expect((await getKey(node1.url, siblings)).status).toBe(300)
  // A version only node2 holds: the read answers it and repairs node1.
  const object = (await cluster.replicaRead(node1, written[0]!))!
  const planted = await cluster.internodeFetch(node2, keyPath(REPLICAS_PATH, stale), { method: 'PUT', body: encodeObject(object), headers: { 'content-type': OBJECT_MEDIA_TYPE } })
  expect(planted.status).toBe(204)
  expect((await getKey(node1.url, stale)).status).toBe(200)
  await eventually('node1 was repaired', async () => (await cluster.replicaRead(node1, stale)) !== undefined)

  // node3 dies: writes of keys it replicates go to node2 as hints for it (sloppy quorum); pr=2 and pw=2 cannot be met.
  await node3.stop('SIGKILL')
  await waitUntil('node1 takes node3 for down', async () => await statusSeenBy(node1, 'node3') === 'down', 15_000)
  for (const key of withNode3) expect((await putText(node1.url, key, `h-${key}`)).status).toBe(204)
  expect((await getKey(node1.url, withNode3[0]!, 'pr=2')).status).toBe(503)
  expect((await putText(node1.url, withNode3[1]!, 'refused', 'pw=2')).status).toBe(503)

  const [after1, after2] = await Promise.all([scrape(node1), scrape(node2)])
  const on = (before: Map<string, Family>, after: Map<string, Family>) =>
    (name: string, labels: Record<string, string> = {}): number => sampleValue(after, name, labels) - sampleValue(before, name, labels)
  const d1 = on(before1, after1)
  // node2 coordinated nothing: it served replica calls and kept hints, none of which counts as a client request.
  const d2 = on(before2, after2)
  for (const operation of ['get', 'put', 'delete']) expect(d2('levelring_http_requests_total', { operation })).toBe(0)
  expect(d2('levelring_read_repairs_total')).toBe(0)
  expect(d2('levelring_quorum_failures_total')).toBe(0)
  expect(d1('levelring_http_requests_total', { operation: 'put', status: '204' })).toBe(5 + 2 + withNode3.length)
  expect(d1('levelring_http_requests_total', { operation: 'put', status: '503' })).toBe(1)
  expect(d1('levelring_http_requests_total', { operation: 'get', status: '200' })).toBe(5 + 1)
  expect(d1('levelring_http_requests_total', { operation: 'get', status: '300' })).toBe(1)
  expect(d1('levelring_http_requests_total', { operation: 'get', status: '503' })).toBe(1)
  expect(d1('levelring_read_siblings_count')).toBe(7)
  expect(d1('levelring_read_siblings_sum')).toBe(5 + 2 + 1)
  expect(d1('levelring_read_siblings_bucket', { le: '1' })).toBe(6)
  expect(d1('levelring_read_repairs_total')).toBe(1)
  expect(d1('levelring_quorum_failures_total', { parameter: 'pr' })).toBe(1)
  expect(d1('levelring_quorum_failures_total', { parameter: 'pw' })).toBe(1)
  for (const parameter of ['r', 'w', 'dw']) expect(d1('levelring_quorum_failures_total', { parameter })).toBe(0)
  // node1 stamped every write of its keys and sent each to node2; it asked node2 for its digest on each read of
  // them, and for its set only where the digests differed (the version only node2 held).
  expect(d1('levelring_internode_calls_total', { peer: 'node2', endpoint: 'replica_write', outcome: 'ok' })).toBe(5 + 2)
  expect(d1('levelring_internode_calls_total', { peer: 'node2', endpoint: 'replica_digest', outcome: 'ok' })).toBe(5 + 1 + 1)
  expect(d1('levelring_internode_calls_total', { peer: 'node2', endpoint: 'replica_read', outcome: 'ok' })).toBe(1)
  expect(d1('levelring_internode_calls_total', { peer: 'node2', endpoint: 'hint_write', outcome: 'ok' })).toBe(withNode3.length)
  expect(d1('levelring_internode_call_duration_seconds_count', { peer: 'node2', endpoint: 'replica_digest' })).toBe(7)
  expect(sampleValue(after1, 'levelring_members', { status: 'down' })).toBe(1)
  expect(sampleValue(after1, 'levelring_members', { status: 'up' })).toBe(2)
  expect(sampleValue(after1, 'levelring_ring_epoch')).toBe(0)
  expect(sampleValue(after1, 'levelring_ring_partitions_owned', { ring: 'current' })).toBeGreaterThan(100)
  expect(after1.get('levelring_member_phi')!.samples.map((x) => x.labels.peer).sort()).toEqual(['node2', 'node3'])
  expect(d1('levelring_gossip_rounds_total')).toBeGreaterThan(0)
  // The hints pile up on node2, for node3 only.
  expect(sampleValue(after2, 'levelring_hints_pending', { owner: 'node3' })).toBe(withNode3.length)
  expect(sampleValue(after2, 'levelring_hints_pending')).toBe(withNode3.length)

  // node3 comes back: node2 hands the hints off.
  await node3.start()
  await eventually('node2 delivered every hint', async () => {
    const now = await scrape(node2)
    return sampleValue(now, 'levelring_hints_pending') === 0 && sampleValue(now, 'levelring_hints_delivered_total') - sampleValue(before2, 'levelring_hints_delivered_total') === withNode3.length
  }, 150, 100)
  for (const key of withNode3) expect((await cluster.replicaRead(node3, key)) !== undefined, key).toBe(true)
})

test('/v1/ready: 503 with the reason while a node joins, 200 once it serves, 503 (stopping) while it stops; members are ready', async () => {
  for (const node of cluster.nodes) expect((await fetch(`${node.url}/v1/ready`)).status).toBe(200)
  joiner = await joiningNode(cluster, 'node4', [node1], { readinessDrainMs: 2_000 })
  await joiner.start()
  const reasons = new Set<string>()
  await waitUntil('node4 is ready', async () => {
    const res = await fetch(`${joiner!.url}/v1/ready`)
    if (res.status === 200) return true
    expect(res.status).toBe(503)
    expect(res.headers.get('content-type')).toBe('application/problem+json')
    const problem = await res.json() as { type: string, reason: string, detail: string }
    expect(problem.type).toBe('urn:levelring:problem:not-ready')
    expect(problem.detail).toContain('node4')
    reasons.add(problem.reason)
    return false
  }, 60_000, 50)
  // It was seen not ready while joining, for a joining reason only.
  expect(reasons.size).toBeGreaterThan(0)
  for (const reason of reasons) expect(['no-ring', 'joining', 'receiving-partitions']).toContain(reason)
  // Liveness stays 200 throughout; readiness turns 503 as soon as the node stops.
  expect((await fetch(`${joiner.url}/v1/health`)).status).toBe(200)
  const stopped = joiner.stop()
  await waitUntil('node4 says it is stopping', async () => {
    const res = await fetch(`${joiner!.url}/v1/ready`)
    return res.status === 503 && (await res.json() as { reason: string }).reason === 'stopping'
  }, 1_500, 20)
  expect(await stopped).toBe(0)
})
