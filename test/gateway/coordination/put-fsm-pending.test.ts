import { afterAll, beforeAll, expect, test } from 'vitest'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { createLogger } from '../../../gateway/src/node/logger.js'
import { BackgroundWork } from '../../../gateway/src/coordination/background-work.js'
import { DeadlineWheel } from '../../../gateway/src/coordination/deadline-wheel.js'
import { PutFsm } from '../../../gateway/src/coordination/put-fsm.js'
import { ClusterReplicaAccess } from '../../../gateway/src/coordination/replica-access.js'
import { TRANSFER_CHECK_MS } from '../../../gateway/src/handoff/partition-transfer.js'
import { freePorts, sleep, waitUntil } from '../../support/process.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

// The put state machine's copy of a write to a ring transition's new (pending) replica, on four real
// in-process nodes (their own lsm-level directories, internode RPC over loopback, hinted handoff
// running). The machine is driven directly, with the pending replica named in the request, because
// in a real join the gap is hard to time: the write must land after the new replica streamed its
// partition, and the old owners' sweep and anti-entropy must not cover it. Here node4 stands for the
// pending replica: it is one of the key's replicas in the ring (hinted handoff delivers a hint only to an
// owner that replicates the key, in the current or the pending ring), left out of the write's targets;
// anti-entropy is off and both targets replicate the key, so nothing but the put machine's hint can bring
// node4 the write.

const GOSSIP_MS = 100
let dir: string
let nodes: TestNode[]

beforeAll(async () => {
  dir = makeTempDir('levelring-put-pending')
  await writeFile(join(dir, 'secret'), 'put-fsm-pending-test-secret-0123456789')
  const ports = await freePorts(4)
  const ids = ['node1', 'node2', 'node3', 'node4']
  nodes = await Promise.all(ids.map(async (id, i) => await startTestNode({
    nodeId: id,
    listen: { host: '127.0.0.1', port: ports[i]! },
    peers: ids.flatMap((other, j) => (j === i ? [] : [{ id: other, address: `127.0.0.1:${ports[j]!}` }])),
    replicas: 3,
    partitions: 16,
    clusterSecretFile: join(dir, 'secret'),
    gossipIntervalMs: GOSSIP_MS,
    antiEntropyIntervalMs: 0,
    enableFaultInjection: true
  }, join(dir, id))))
  await waitUntil('every node sees the others up', () => nodes.every((n) => ids.every((id) => n.cluster!.membership.isUp(id))), 10_000)
  // Each node's one sweep after start (it hands over keys it does not replicate) is behind us.
  await sleep(2 * TRANSFER_CHECK_MS + 2 * GOSSIP_MS)
}, 30_000)

afterAll(async () => {
  await Promise.all((nodes ?? []).map(async (n) => await n.stop({ keepData: true })))
  removeDir(dir)
})

test('a write whose copy to a pending replica fails is kept as a hint and delivered when that replica answers', async () => {
  const [coordinator] = nodes as [TestNode, ...TestNode[]]
  const ring = coordinator.cluster!.membership.ring()
  // A key replicated on node1 and node4: node4 stands for the pending ring's new replica, node1 and the
  // third replica are the write's targets.
  let key = ''
  let list: readonly string[] = []
  for (let i = 0; ; i++) {
    key = `pending-${i}`
    list = ring.preferenceList(ring.partitionOf(key), 3)
    if (list.includes('node4') && list.includes('node1')) break
  }
  const pending = nodes[3]!
  coordinator.cluster!.faults!.set(['node4'])
  const hints = coordinator.cluster!.membershipService.hints
  const access = new ClusterReplicaAccess('node1', coordinator.store, coordinator.cluster!.client, hints)
  const background = new BackgroundWork()
  const written = await new PutFsm({
    key,
    value: { value: Buffer.from('v1'), contentType: 'text/plain' },
    supersedes: 'current',
    counts: { w: 2, dw: 0, pw: 2, timeoutMs: 10_000 }, // room for a loaded machine: the test is not about deadlines
    targets: list.filter((node) => node !== 'node4').map((node) => ({ node, primary: true })),
    n: 3,
    stampHere: false,
    handoff: ['node4']
  }, { access, store: coordinator.store, liveness: coordinator.cluster!.membership, deadlines: new DeadlineWheel(), background, logger: createLogger('node1', 'silent') }).run()
  await background.drain(5_000)

  expect(await pending.store.read(key)).toBeUndefined()
  const hint = await hints.get('node4', key)
  expect(hint?.siblings.map((s) => Buffer.from(s.value.value).toString())).toEqual(['v1'])

  coordinator.cluster!.faults!.set([])
  await waitUntil('the hint reaches node4', async () => (await pending.store.read(key)) !== undefined, 40_000, 200)
  const delivered = await pending.store.read(key)
  expect(delivered?.siblings.map((s) => s.dot)).toEqual([written.dot])
  await waitUntil('the delivered hint is removed', async () => (await hints.get('node4', key)) === undefined, 10_000, 100)
}, 60_000)
