import { afterAll, beforeAll, expect, test } from 'vitest'
import { InternodeAuth, SIGNED_HEADERS } from '../../gateway/src/internode/internode-auth.js'
import { PROVE_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { GOSSIP_PATH } from '../../gateway/src/membership/gossip-protocol.js'
import { ringStateToJSON } from '../../gateway/src/ring/ring-state.js'
import { ringStateOf, viewOf } from './helpers/membership.js'
import { httpAnswer, sendRaw, startRawPeer, statusOf, type CapturedRequest, type RawPeer } from './helpers/raw-peer.js'
import { TestCluster, type ClusterNode } from './helpers/test-cluster.js'
import { sleep } from '../support/process.js'

// An attacker on the network, as the threat model has it (docs/security.md): it can listen where a
// node is told to call (a seed given to POST /v1/admin/join, or the address of a member that is
// down), record what arrives, relay it, replay it, and answer what it likes, but it does not know
// the cluster secret. Nothing it records is a credential anywhere, and nothing it answers is used.

let cluster: TestCluster
const peers: RawPeer[] = []

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3, replicas: 3 })
})
afterAll(async () => {
  await Promise.all(peers.map(async (p) => p.close()))
  await cluster?.close()
})

/** What a node's GET /v1/cluster says about membership, the ring and its seeds: what an attacker would want to change. */
async function snapshot (node: ClusterNode): Promise<unknown> {
  const view = await viewOf(node) as Awaited<ReturnType<typeof viewOf>> & { gossip: { seeds: string[] } }
  return {
    peers: view.peers.map((p) => ({ id: p.id, address: p.address, memberStatus: p.memberStatus, generation: p.generation })),
    ring: { epoch: view.ring.epoch, digest: view.ring.digest, owners: view.ring.owners },
    seeds: view.gossip.seeds
  }
}

async function snapshots (): Promise<unknown[]> {
  return Promise.all(cluster.nodes.filter((n) => n.running).map(snapshot))
}

/** A gossip ACK from a node that does not know the secret: an absurd epoch and a member nobody added. */
async function forgedAck (): Promise<unknown> {
  const ring = ringStateToJSON(await ringStateOf(cluster, cluster.nodes[0]!))
  return {
    from: 'node3',
    entries: [{ id: 'intruder', address: '127.0.0.1:9', generation: 1, heartbeat: 1, version: 1, status: 'up', weight: 1000 }],
    requests: [],
    ring: { ...ring, epoch: Number.MAX_SAFE_INTEGER },
    wantRing: false
  }
}

/** Sign an answer as a node of another cluster would: well-formed, but not under this cluster's secret. */
const foreign = new InternodeAuth([Buffer.from('another cluster entirely, 0123456789')], 'node3')

async function post (node: ClusterNode, path: string, body: unknown): Promise<Response> {
  return fetch(node.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
}

test('a join through a seed that cannot prove it knows the secret fails with a clear error, changes nothing, and hands it nothing it can replay', async () => {
  const ack = await forgedAck()
  const fake = await startRawPeer({
    reply: (r) => httpAnswer(200, r.requestLine.includes(PROVE_PATH) ? { node: 'node2' } : ack, { [SIGNED_HEADERS.signature]: 'A'.repeat(43) })
  })
  peers.push(fake)
  const before = await snapshots()
  const res = await post(cluster.nodes[0]!, '/v1/admin/join', { seed: fake.address })
  expect(res.status).toBe(502)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  const problem = await res.json() as { type: string, detail: string }
  expect(problem.type).toBe('urn:levelring:problem:peer-unreachable')
  expect(problem.detail).toMatch(/could not prove it knows the cluster secret/)
  expect(await snapshots()).toEqual(before)

  // All the fake seed ever got is the challenge: no signature, no credential of any kind.
  expect(fake.captured.length).toBeGreaterThan(0)
  for (const request of fake.captured) {
    expect(request.requestLine).toBe(`GET ${PROVE_PATH} HTTP/1.1`)
    expect(request.headers[SIGNED_HEADERS.signature]).toBeUndefined()
  }
  // Replayed to a real node, the challenge earns a proof bound to a nonce nobody waits for, and changes nothing.
  for (const node of cluster.nodes) expect(statusOf(await sendRaw(node.address, fake.captured[0]!.bytes))).toBe(200)
  expect(await snapshots()).toEqual(before)
})

test('bytes captured from a signed call are refused by every node, the one they were meant for included; nothing changes', async () => {
  const [node1, node2, node3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  // A relay in front of node2 records a real exchange: node2 proves itself, node1 signs its gossip for node2.
  const relay = await startRawPeer({ relayTo: node2.address })
  peers.push(relay)
  const res = await post(node1, '/v1/admin/join', { seed: relay.address })
  expect(res.status).toBe(200) // node1 is a member already: one gossip exchange with the seed
  const signed = relay.captured.filter((r) => r.headers[SIGNED_HEADERS.signature] !== undefined)
  expect(signed.map((r) => r.requestLine)).toContain(`POST ${GOSSIP_PATH} HTTP/1.1`)
  expect(signed.every((r) => r.headers['x-levelring-target'] === node2.id)).toBe(true)

  const before = await snapshots()
  const replay = async (request: CapturedRequest, node: ClusterNode): Promise<void> => {
    const answer = await sendRaw(node.address, request.bytes)
    expect(statusOf(answer), `${request.requestLine} replayed to ${node.id}`).toBe(401)
    expect(answer.toString('utf8')).toMatch(/urn:levelring:problem:unauthorized/)
  }
  for (const request of signed) {
    await replay(request, node2) // the target: it has seen the nonce
    await replay(request, node3) // another node: not the target
    await replay(request, node1) // the caller itself: not the target either
  }
  expect(await snapshots()).toEqual(before)
})

test('a fake peer at a member\'s address, without the secret, answering gossip with an absurd epoch and unknown members changes nothing', { timeout: 120_000 }, async () => {
  const [node1, node2, node3] = cluster.nodes as [ClusterNode, ClusterNode, ClusterNode]
  await node3.stop()
  const port = Number(node3.address.split(':')[1])
  const ack = await forgedAck()
  // Answers every call, unsigned or signed with another cluster's secret (alternately).
  let n = 0
  const fake = await startRawPeer({
    reply: (r) => {
      const body = r.requestLine.includes(GOSSIP_PATH) ? ack : { node: 'node3', ring: null }
      const nonce = r.headers['x-levelring-nonce'] ?? InternodeAuth.nonce()
      const [method, path] = r.requestLine.split(' ') as [string, string]
      const signature = foreign.signAnswer(200, method, path, nonce, Buffer.from(JSON.stringify(body)))
      return httpAnswer(200, body, n++ % 2 === 0 ? {} : { [SIGNED_HEADERS.signature]: signature })
    }
  }, port)
  peers.push(fake)
  const before = await Promise.all([node1, node2].map(snapshot))
  // Gossip calls a member it takes for down now and then: wait (bounded) until several reached the fake.
  for (let i = 0; i < 200 && fake.captured.filter((r) => r.requestLine.includes(GOSSIP_PATH)).length < 4; i++) await sleep(100)
  expect(fake.captured.filter((r) => r.requestLine.includes(GOSSIP_PATH)).length).toBeGreaterThanOrEqual(4)
  const after = await Promise.all([node1, node2].map(snapshot))
  expect(after).toEqual(before)
  expect([...node1.lines, ...node2.lines].some((l) => l.msg === 'ignored an internode answer not signed with the cluster secret')).toBe(true)
  for (const view of await Promise.all([node1, node2].map(viewOf))) {
    expect(view.peers.map((p) => p.id)).not.toContain('intruder')
    expect(view.ring.epoch).toBeLessThan(1_000)
  }

  // What the fake recorded was signed for node3: refused by node2, and by node3 itself once it is back.
  const recorded = fake.captured.find((r) => r.headers[SIGNED_HEADERS.signature] !== undefined)!
  expect(recorded.headers['x-levelring-target']).toBe('node3')
  expect(statusOf(await sendRaw(node2.address, recorded.bytes))).toBe(401)
  await fake.close()
  await node3.start()
  await cluster.settled()
  expect(statusOf(await sendRaw(node3.address, recorded.bytes))).toBe(401) // signed before node3 started
  expect((await viewOf(node3)).peers.map((p) => p.id)).not.toContain('intruder')
})

test('a gossiped ring state from a node that knows the secret is still refused when its epoch is further ahead than the claimant can have gone', async () => {
  const [node1] = cluster.nodes as [ClusterNode]
  const before = await snapshot(node1)
  const state = ringStateToJSON(await ringStateOf(cluster, node1))
  const ack2 = { from: 'node2', entries: [], ring: { ...state, epoch: state.epoch + 5_000 } }
  const res = await cluster.internodeFetch(node1, '/internal/v1/gossip/entries', {
    method: 'POST', caller: 'node2', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ack2)
  })
  expect(res.status).toBe(204) // accepted as a call, its ring state ignored (and logged)
  const logged = (): boolean => node1.lines.some((l) => l.msg === 'ignored a ring state gossiped by a peer' && /more than 4096 ahead/.test(String(l.err)))
  for (let i = 0; i < 50 && !logged(); i++) await sleep(100) // the log arrives through a pipe, after the answer
  expect(logged()).toBe(true)
  expect(await snapshot(node1)).toEqual(before)
})
