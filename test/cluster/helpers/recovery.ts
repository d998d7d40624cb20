// Helpers of the tests of a replica that lost acknowledged writes (wiped or restored from an
// earlier copy) and rebuilds: its recovery state, the strict reads that must never answer 404
// meanwhile, and its catching up once the replica holding the write is back.
import { expect } from 'vitest'
import { liveSiblings } from '../../../gateway/src/replica/stored-object.js'
import { eventually, getKey } from './http.js'
import type { ClusterNode, TestCluster } from './test-cluster.js'

/** The recovery section of a node's GET /v1/cluster. */
export interface RecoveryView { state: string, partitionsRebuilding: number }

export async function recovery (node: ClusterNode): Promise<RecoveryView> {
  return ((await (await fetch(`${node.url}/v1/cluster`)).json()) as { recovery: RecoveryView }).recovery
}

/**
 * Through each of `through`: a strict read of `key` (r=pr=2) answers `value` or 503 naming pr, never
 * 404; so does r=2 with notfound_ok=false (which gives r the same protection without pr).
 */
export async function expectStrictReadsNeverNotFound (through: readonly ClusterNode[], key: string, value: string): Promise<void> {
  for (const node of through) {
    const strict = await getKey(node.url, key, 'r=2&pr=2')
    expect([200, 503], `strict read through ${node.id}`).toContain(strict.status)
    if (strict.status === 200) expect(await strict.text()).toBe(value)
    else expect(await strict.json()).toMatchObject({ parameter: 'pr', needed: 2, answered: 1 })
    const guarded = await getKey(node.url, key, 'r=2&notfound_ok=false')
    expect([200, 503], `r=2&notfound_ok=false through ${node.id}`).toContain(guarded.status)
  }
}

/**
 * Start `holder` (the replica that kept the write) again and wait until `rebuilding` is current:
 * it then holds `key`'s `value` itself (replica read, which never repairs), and a strict read answers it.
 */
export async function expectCaughtUp (cluster: TestCluster, holder: ClusterNode, rebuilding: ClusterNode, key: string, value: string): Promise<void> {
  await holder.start()
  await cluster.settled()
  await eventually(`${rebuilding.id} current again`, async () => (await recovery(rebuilding)).state === 'current', 300, 100)
  const held = await cluster.replicaRead(rebuilding, key)
  expect(held).toBeDefined()
  expect(Buffer.from(liveSiblings(held!)[0]!.value.value).toString()).toBe(value)
  const after = await getKey(rebuilding.url, key, 'r=2&pr=2')
  expect(after.status).toBe(200)
  expect(await after.text()).toBe(value)
}
