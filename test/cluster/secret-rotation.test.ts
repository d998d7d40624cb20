import { afterAll, beforeAll, expect, test } from 'vitest'
import { PING_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { getKey, putText } from './helpers/http.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { sleep } from '../support/process.js'

// Rotating the cluster secret (docs/operations.md): nodes sign with the first secret of the file and
// accept any, so three rolling restarts take a cluster from [old] to [new] through [old, new] and
// [new, old] (the third only retires the old secret). At every moment in between, the nodes that run
// accept each other's calls: w=3 writes succeed whenever all three nodes run, and causal contexts
// issued by one node are taken by the others.

const OLD = `old-secret-${process.pid}-0123456789`
const NEW = `new-secret-${process.pid}-9876543210`
let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3, secret: OLD, defaults: { timeoutMs: 2_000 } })
})
afterAll(async () => { await cluster?.close() })

/** The windows in which one of the three nodes is not running or not yet seen up: w=3 cannot be met then. */
const outages: Array<{ from: number, to: number }> = []

async function restart (node: ClusterNode): Promise<void> {
  const outage = { from: Date.now(), to: Infinity }
  outages.push(outage)
  await node.stop()
  await node.start()
  await cluster.settled()
  outage.to = Date.now()
}

test('three rolling restarts rotate the secret while w=3 writes keep succeeding whenever every node runs, and contexts keep verifying', { timeout: 300_000 }, async () => {
  // A writer through every node in turn, all along: at most 3,000 writes.
  const failures: Array<{ at: number, started: number, status: number | string }> = []
  let stop = false
  let written = 0
  const writer = (async () => {
    for (let i = 0; i < 3_000 && !stop; i++) {
      const node = cluster.nodes[i % 3]!
      const started = Date.now()
      const res = await putText(node.url, `rotation-${i}`, `v${i}`, 'w=3').catch((err: Error) => err)
      if (res instanceof Error || res.status !== 204) failures.push({ at: Date.now(), started, status: res instanceof Error ? res.message : res.status })
      else written++
      await sleep(10)
    }
  })()

  // A context issued before the rotation, by node1.
  const first = await putText(cluster.nodes[0]!.url, 'ctx', 'before', 'w=3')
  let context = first.headers.get('x-causal-context')!
  for (const secrets of [[OLD, NEW], [NEW, OLD], [NEW]]) {
    await cluster.writeSecrets(secrets)
    for (const node of cluster.nodes) {
      await restart(node)
      // Every node, mixed secrets or not, takes the context another node issued, and issues one the others take.
      for (const other of cluster.nodes) {
        if (secrets.length === 1 && other === node) continue
        const res = await putText(other.url, 'ctx', `after ${node.id} ${secrets.length}`, 'w=3', context)
        expect(res.status, `a context at ${other.id} after ${node.id} restarted onto [${secrets.length === 1 ? 'new' : secrets[0] === OLD ? 'old, new' : 'new, old'}]`).toBe(204)
        context = res.headers.get('x-causal-context')!
      }
      await sleep(1_000) // the writer's turn, in this mixed state
    }
  }
  stop = true
  await writer
  const read = await getKey(cluster.nodes[2]!.url, 'ctx', 'r=3')
  expect(read.status).toBe(200) // one version: every write superseded the one before through its context

  const outside = failures.filter((f) => !outages.some((o) => f.at >= o.from && f.started <= o.to))
  const down = outages.reduce((ms, o) => ms + o.to - o.from, 0)
  console.log(`secret rotation (9 restarts, a node down or not yet seen up for ${(down / 1000).toFixed(1)} s in all): ` +
    `w=3 writes acknowledged ${written}, failed ${failures.length} (${failures.length - outside.length} of them while a node was restarting)`)
  expect(outside, `writes that failed while all three nodes ran (${written} succeeded, ${failures.length} failed in all)`).toEqual([])
  expect(written).toBeGreaterThan(100)

  // The old secret is retired: a call signed with it is refused everywhere.
  await cluster.writeSecrets([OLD])
  for (const node of cluster.nodes) expect((await cluster.internodeFetch(node, PING_PATH)).status).toBe(401)
  await cluster.writeSecrets([NEW])
  for (const node of cluster.nodes) expect((await cluster.internodeFetch(node, PING_PATH)).status).toBe(200)
})
