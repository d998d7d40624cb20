import { afterAll, beforeAll, expect, test } from 'vitest'
import { CLUSTER_TOKEN_HEADER, InternodeAuth } from '../../gateway/src/internode/internode-auth.js'
import {
  encodeForwardedWrite, keyPath, OBJECT_MEDIA_TYPE, PING_PATH, REPLICAS_PATH, WRITE_MEDIA_TYPE, WRITES_PATH
} from '../../gateway/src/internode/internode-protocol.js'
import { encodeObject } from '../../gateway/src/replica/object-codec.js'
import { NOTHING_SEEN } from '../../gateway/src/version/dvv.js'
import { TestCluster } from './helpers/test-cluster.js'

// Internode endpoints answer only the cluster's own nodes: without the token derived from the
// cluster secret (or with a token of another secret, or with a client's bearer token) every one
// of them is a 401 and nothing is read or written. The public API keeps its own bearer tokens,
// which the nodes never need among themselves.

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

/** One call to every internode endpoint, with `headers`. */
function calls (headers: Record<string, string>): Array<[string, () => Promise<Response>]> {
  const url = cluster.nodes[0]!.url
  return [
    ['ping', () => fetch(url + PING_PATH, { headers })],
    ['replica read', () => fetch(url + keyPath(REPLICAS_PATH, 'victim'), { headers })],
    ['replica write', () => fetch(url + keyPath(REPLICAS_PATH, 'victim') + '?sync=1', {
      method: 'PUT', headers: { ...headers, 'Content-Type': OBJECT_MEDIA_TYPE }, body: encodeObject(object)
    })],
    ['forwarded write', () => fetch(url + keyPath(WRITES_PATH, 'victim'), {
      method: 'POST',
      headers: { ...headers, 'Content-Type': WRITE_MEDIA_TYPE },
      body: encodeForwardedWrite({
        value: { contentType: 'text/plain', value: Buffer.from('forged') }, supersedes: NOTHING_SEEN, counts: { w: 1, dw: 0, pw: 0, timeoutMs: 1000 }
      })
    })]
  ]
}

test('every internode endpoint answers 401 without the cluster token, with another cluster\'s, or with a client bearer token; nothing is written', async () => {
  const foreign = new InternodeAuth(Buffer.from('another cluster entirely, 0123456789'))
  const refusals: Array<Record<string, string>> = [
    {},
    { [CLUSTER_TOKEN_HEADER]: foreign.token },
    { [CLUSTER_TOKEN_HEADER]: 'x'.repeat(43) },
    { Authorization: `Bearer ${BEARER}` }
  ]
  for (const headers of refusals) {
    for (const [name, call] of calls(headers)) {
      const res = await call()
      expect(res.status, `${name} with ${JSON.stringify(Object.keys(headers))}`).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect(await res.json()).toMatchObject({ type: 'urn:levelring:problem:unauthorized', status: 401 })
    }
  }
  for (const node of cluster.nodes) expect(await cluster.replicaRead(node, 'victim')).toBeUndefined()
  const read = await fetch(`${cluster.nodes[1]!.url}/v1/kv/victim?r=2`, { headers: { Authorization: `Bearer ${BEARER}` } })
  expect(read.status).toBe(404)
})

test('with the token the endpoints answer; the public API still wants its bearer token and the cluster works behind it', async () => {
  const ping = await fetch(cluster.nodes[1]!.url + PING_PATH, { headers: cluster.internodeHeaders })
  expect(await ping.json()).toEqual({ node: cluster.nodes[1]!.id, ring: cluster.ring().digest() })
  // The cluster token is not a bearer token.
  expect((await fetch(`${cluster.nodes[0]!.url}/v1/kv/k`, { headers: cluster.internodeHeaders })).status).toBe(401)
  // Writes replicate between nodes without any bearer token among them.
  const write = await fetch(`${cluster.nodes[0]!.url}/v1/kv/k?w=2`, { method: 'PUT', body: 'v', headers: { Authorization: `Bearer ${BEARER}` } })
  expect(write.status).toBe(204)
  for (const node of cluster.nodes) expect(await cluster.replicaRead(node, 'k')).toBeDefined()
})
