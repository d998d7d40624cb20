// Helpers of the anti-entropy and partition tests: the fault-injection switch (nodes started with
// enableFaultInjection), POST /v1/admin/repair, the anti-entropy part of GET /v1/cluster, and the
// Merkle roots every replica holds (read over the internode endpoint, which changes nothing).
import { merkleShapeFor } from '../../../gateway/src/anti-entropy/merkle-shape.js'
import {
  ANTI_ENTROPY_MEDIA_TYPE, decodeObjectsAnswer, decodeRootsAnswer, encodeKeys, encodeMergeRequest, encodeRootsRequest, MERGE_PATH,
  OBJECTS_PATH, ROOTS_PATH
} from '../../../gateway/src/anti-entropy/anti-entropy-protocol.js'
import type { AntiEntropyView, RepairReport } from '../../../gateway/src/anti-entropy/anti-entropy-service.js'
import { FAULTS_PATH } from '../../../gateway/src/internode/fault-injection.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import type { ClusterNode, TestCluster } from './test-cluster.js'

/** Cut the cluster into these sides: every node drops internode traffic with every node of another side. */
export async function cut (cluster: TestCluster, sides: ReadonlyArray<readonly string[]>): Promise<void> {
  await Promise.all(sides.flatMap((side) => side.map(async (id) => {
    const blocked = cluster.nodes.map((n) => n.id).filter((other) => !side.includes(other))
    await setBlocked(cluster, cluster.node(id), blocked)
  })))
}

/** Heal every cut. */
export async function heal (cluster: TestCluster): Promise<void> {
  await Promise.all(cluster.nodes.filter((n) => n.running).map(async (n) => setBlocked(cluster, n, [])))
}

async function setBlocked (cluster: TestCluster, node: ClusterNode, blocked: readonly string[]): Promise<void> {
  const res = await cluster.internodeFetch(node, FAULTS_PATH, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked })
  })
  if (res.status !== 200) throw new Error(`faults at ${node.id}: ${res.status} ${await res.text()}`)
}

/** POST /v1/admin/repair on `node`; its report. */
export async function repair (node: ClusterNode): Promise<RepairReport> {
  const res = await fetch(`${node.url}/v1/admin/repair`, { method: 'POST' })
  if (res.status !== 200) throw new Error(`repair at ${node.id}: ${res.status} ${await res.text()}`)
  return await res.json() as RepairReport
}

/** The anti-entropy section of the node's GET /v1/cluster. */
export async function antiEntropyView (node: ClusterNode): Promise<AntiEntropyView> {
  const res = await fetch(`${node.url}/v1/cluster`)
  return (await res.json() as { antiEntropy: AntiEntropyView }).antiEntropy
}

/** The node's Merkle roots of `partitions` (hex; 'not-ready' / 'not-replica' where it has none to compare). */
export async function roots (cluster: TestCluster, node: ClusterNode, partitions: readonly number[]): Promise<string[]> {
  const res = await cluster.internodeFetch(node, ROOTS_PATH, {
    method: 'POST',
    headers: { 'content-type': ANTI_ENTROPY_MEDIA_TYPE },
    body: encodeRootsRequest({ shape: merkleShapeFor(cluster.partitions), partitions })
  })
  if (res.status !== 200) throw new Error(`roots at ${node.id}: ${res.status} ${await res.text()}`)
  return decodeRootsAnswer(new Uint8Array(await res.arrayBuffer()), partitions.length).map((r) => typeof r === 'string' ? r : r.toString('hex'))
}

/**
 * Partitions whose running replicas hold different Merkle roots (or whose trees are not ready):
 * empty when every replica of every partition holds the same versions of the same keys.
 */
export async function divergentPartitions (cluster: TestCluster): Promise<number[]> {
  const ring = cluster.ring()
  const running = cluster.nodes.filter((n) => n.running)
  const held = new Map<string, Map<number, string>>()
  await Promise.all(running.map(async (node) => {
    const mine = Array.from({ length: ring.partitionCount }, (_, p) => p).filter((p) => ring.preferenceList(p, cluster.replicas).includes(node.id))
    const answer = await roots(cluster, node, mine)
    held.set(node.id, new Map(mine.map((p, i) => [p, answer[i]!])))
  }))
  const divergent: number[] = []
  for (let p = 0; p < ring.partitionCount; p++) {
    const seen = new Set(ring.preferenceList(p, cluster.replicas).filter((id) => held.has(id)).map((id) => held.get(id)!.get(p)!))
    if (seen.size > 1 || seen.has('not-ready')) divergent.push(p)
  }
  return divergent
}

/** What `node` stores for each of `keys`, in order (batched internode reads, which never repair). */
export async function storedObjects (cluster: TestCluster, node: ClusterNode, keys: readonly string[]): Promise<Array<StoredObject | undefined>> {
  const out: Array<StoredObject | undefined> = []
  for (let i = 0; i < keys.length; i += 500) {
    const batch = keys.slice(i, i + 500)
    const res = await cluster.internodeFetch(node, OBJECTS_PATH, {
      method: 'POST', headers: { 'content-type': ANTI_ENTROPY_MEDIA_TYPE }, body: encodeKeys(batch)
    })
    if (res.status !== 200) throw new Error(`objects at ${node.id}: ${res.status} ${await res.text()}`)
    out.push(...decodeObjectsAnswer(new Uint8Array(await res.arrayBuffer()), batch))
  }
  return out
}

/** The actor of seeded versions: an incarnation no node of a test cluster ever has. */
export const SEED_ACTOR = 'seed@000000000000'

/**
 * Store `values` on `nodes` directly, as a replica receives what another replica sends (the
 * internode merge endpoint, 1,000 keys a call): one version per key, dots SEED_ACTOR:1.., the same
 * bytes on every node. Loads tens of thousands of keys in seconds where client writes would take
 * a minute on a shared 2-core machine; the client path has its own tests.
 */
export async function seed (cluster: TestCluster, nodes: readonly ClusterNode[], values: ReadonlyArray<{ key: string, value: string }>): Promise<void> {
  const now = Date.now()
  const objects = values.map(({ key, value }, i) => ({
    key,
    object: {
      clock: new Map([[SEED_ACTOR, { counter: i + 1, timestamp: now }]]),
      siblings: [{ dot: { actor: SEED_ACTOR, counter: i + 1 }, value: { tombstone: false, contentType: 'text/plain', lastModified: now, value: Buffer.from(value) } }]
    } satisfies StoredObject
  }))
  for (let i = 0; i < objects.length; i += 1_000) {
    const body = encodeMergeRequest(objects.slice(i, i + 1_000))
    await Promise.all(nodes.map(async (node) => {
      const res = await cluster.internodeFetch(node, MERGE_PATH, { method: 'POST', headers: { 'content-type': ANTI_ENTROPY_MEDIA_TYPE }, body })
      if (res.status !== 204) throw new Error(`seeding ${node.id}: ${res.status} ${await res.text()}`)
    }))
  }
}
