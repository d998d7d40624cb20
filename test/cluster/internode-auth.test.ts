import { afterAll, beforeAll, expect, test } from 'vitest'
import { InternodeAuth, SIGNED_HEADERS, SIGNATURE_WINDOW_MS } from '../../gateway/src/internode/internode-auth.js'
import {
  encodeForwardedWrite, keyPath, OBJECT_MEDIA_TYPE, PING_PATH, REPLICAS_PATH, WRITE_MEDIA_TYPE, WRITES_PATH
} from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { NOTHING_SEEN } from '../../gateway/src/version/dvv.js'
import { TestCluster } from './helpers/test-cluster.js'

// Internode endpoints answer only the cluster's own nodes, call by call: a request must be signed
// with the cluster secret for the node it reaches, fresh, never seen before, with the body it
// carries. Without a signature, with another cluster's, with a client's bearer token, signed for
// another node, stale, replayed or with another body, every one of them is a 401 and nothing is
// read or written. Answers are signed too. The public API keeps its own bearer tokens, which the
// nodes never need among themselves.

const BEARER = 'client-token-0123456789'
let cluster: TestCluster

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 2, replicas: 2, bearerToken: BEARER })
})
afterAll(async () => { await cluster?.close() })

const object = {
  clock: new Map([['intruder@000000000000', { counter: 1, timestamp: 1 }]]),
  siblings: [{ dot: { actor: 'intruder@000000000000', counter: 1 }, value: { tombstone: false, contentType: 'text/plain', lastModified: 1, value: Buffer.from('forged') } }]
}

interface Call { readonly name: string, readonly method: string, readonly path: string, readonly type?: string, readonly body?: Buffer }

const CALLS: Call[] = [
  { name: 'ping', method: 'GET', path: PING_PATH },
  { name: 'replica read', method: 'GET', path: keyPath(REPLICAS_PATH, 'victim') },
  { name: 'replica write', method: 'PUT', path: keyPath(REPLICAS_PATH, 'victim') + '?sync=1', type: OBJECT_MEDIA_TYPE, body: encodeObject(object) },
  {
    name: 'forwarded write',
    method: 'POST',
    path: keyPath(WRITES_PATH, 'victim'),
    type: WRITE_MEDIA_TYPE,
    body: encodeForwardedWrite({ value: { contentType: 'text/plain', value: Buffer.from('forged') }, supersedes: NOTHING_SEEN, counts: { w: 1, dw: 0, pw: 0, timeoutMs: 1000 } })
  }
]

/** Send `call` to node1 with the headers `sign` makes for it (and `body` instead of the call's own, if given). */
async function send (call: Call, sign: (call: Call) => Record<string, string>, body = call.body): Promise<Response> {
  return fetch(cluster.nodes[0]!.url + call.path, {
    method: call.method, body, headers: { ...sign(call), ...(call.type === undefined ? {} : { 'Content-Type': call.type }) }
  })
}

async function expectRefused (res: Response, what: string): Promise<void> {
  expect(res.status, what).toBe(401)
  expect(res.headers.get('content-type')).toBe('application/problem+json')
  expect(await res.json()).toMatchObject({ type: 'urn:levelring:problem:unauthorized', status: 401 })
}

async function expectNothingWritten (): Promise<void> {
  for (const node of cluster.nodes) expect(await cluster.replicaRead(node, 'victim')).toBeUndefined()
  const read = await fetch(`${cluster.nodes[1]!.url}/v1/kv/victim?r=2`, { headers: { Authorization: `Bearer ${BEARER}` } })
  expect(read.status).toBe(404)
}

test('every internode endpoint answers 401 without a signature, with another cluster\'s, with a forged one, or with a client bearer token; nothing is written', async () => {
  const foreign = new InternodeAuth([Buffer.from('another cluster entirely, 0123456789')], 'node2')
  const node1 = cluster.nodes[0]!.id
  const refusals: Array<[string, (call: Call) => Record<string, string>]> = [
    ['no headers', () => ({})],
    ['another cluster\'s secret', (c) => foreign.signRequest(c.method, c.path, c.body, node1)],
    ['a forged signature', (c) => ({ ...cluster.signer('node2').signRequest(c.method, c.path, c.body, node1), [SIGNED_HEADERS.signature]: 'x'.repeat(43) })],
    ['a client bearer token', () => ({ Authorization: `Bearer ${BEARER}` })]
  ]
  for (const [what, sign] of refusals) {
    for (const call of CALLS) await expectRefused(await send(call, sign), `${call.name} with ${what}`)
  }
  await expectNothingWritten()
})

test('a call signed for another node, outside the time window, with another body, or delivered twice is refused; nothing is written', async () => {
  const node1 = cluster.nodes[0]!.id
  const skew = SIGNATURE_WINDOW_MS + 1_000
  const past = cluster.signer('node2', () => Date.now() - skew)
  const future = cluster.signer('node2', () => Date.now() + skew)
  for (const call of CALLS) {
    await expectRefused(await send(call, (c) => cluster.signer('node2').signRequest(c.method, c.path, c.body, cluster.nodes[1]!.id)), `${call.name} signed for node2`)
    await expectRefused(await send(call, (c) => past.signRequest(c.method, c.path, c.body, node1)), `${call.name} signed ${skew} ms ago`)
    await expectRefused(await send(call, (c) => future.signRequest(c.method, c.path, c.body, node1)), `${call.name} signed ${skew} ms ahead`)
    // The path and query are signed: the same headers on another path are refused.
    await expectRefused(await send({ ...call, path: call.path + (call.path.includes('?') ? '&' : '?') + 'hints=1' },
      () => cluster.signer('node2').signRequest(call.method, call.path, call.body, node1)), `${call.name} on another path`)
  }
  // The body is signed: the signed headers of one write carrying another body.
  const write = CALLS.find((c) => c.name === 'replica write')!
  const other = encodeObject({ ...object, siblings: [{ ...object.siblings[0]!, value: { ...object.siblings[0]!.value, value: Buffer.from('swapped') } }] })
  await expectRefused(await send(write, (c) => cluster.signer('node2').signRequest(c.method, c.path, c.body, node1), other), 'a replica write with another body')
  await expectNothingWritten()

  // A ping signed once: the first delivery is answered, the same bytes again are a replay.
  const ping = CALLS[0]!
  const headers = cluster.signer('node2').signRequest(ping.method, ping.path, undefined, node1)
  expect((await send(ping, () => headers)).status).toBe(200)
  await expectRefused(await send(ping, () => headers), 'a ping delivered twice')
})

test('with a signature the endpoints answer, and sign their answers; the public API still wants its bearer token and the cluster works behind it', async () => {
  const [node1, node2] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0]]
  const ping = await cluster.internodeFetch(node2, PING_PATH)
  const body = Buffer.from(await ping.arrayBuffer())
  expect(JSON.parse(body.toString('utf8'))).toEqual({ node: node2.id, ring: cluster.ring().digest() })
  // The answer is signed by node2 over the request's nonce: it cannot pass for another call's answer, or another node's.
  const signer = cluster.signer('node1')
  const headers = signer.signRequest('GET', PING_PATH, undefined, node2.id)
  const answer = await fetch(node2.url + PING_PATH, { headers })
  const answerBody = Buffer.from(await answer.arrayBuffer())
  const signature = answer.headers.get(SIGNED_HEADERS.signature)
  expect(signer.answerIsFrom(node2.id, 200, 'GET', PING_PATH, headers[SIGNED_HEADERS.nonce]!, answerBody, signature)).toBe(true)
  expect(signer.answerIsFrom(node1.id, 200, 'GET', PING_PATH, headers[SIGNED_HEADERS.nonce]!, answerBody, signature)).toBe(false)
  expect(signer.answerIsFrom(node2.id, 200, 'GET', PING_PATH, InternodeAuth.nonce(), answerBody, signature)).toBe(false)
  expect(signer.answerIsFrom(node2.id, 200, 'GET', PING_PATH, headers[SIGNED_HEADERS.nonce]!, Buffer.from('{}'), signature)).toBe(false)
  // Internode signatures are not bearer tokens.
  expect((await fetch(`${node1.url}/v1/kv/k`, { headers: signer.signRequest('GET', '/v1/kv/k', undefined, node1.id) })).status).toBe(401)
  // Writes replicate between nodes without any bearer token among them.
  const write = await fetch(`${node1.url}/v1/kv/k?w=2`, { method: 'PUT', body: 'v', headers: { Authorization: `Bearer ${BEARER}` } })
  expect(write.status).toBe(204)
  for (const node of cluster.nodes) expect(await cluster.replicaRead(node, 'k')).toBeDefined()
})
