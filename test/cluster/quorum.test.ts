import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { eventually, getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'
import { ContractClient } from '../gateway/helpers/contract-client.js'
import { liveSiblings } from '../../gateway/src/replica/stored-object.js'

// A 3-node cluster (n=3) where any node coordinates any request; a write
// with w=2 is readable with r=2 from every node; with one node stopped r=2/w=2 still succeed and
// r=3/w=3 answer 503 with the counts.

let cluster: TestCluster

beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3 }) })
afterAll(async () => { await cluster?.close() })

const put = putText
const get = getKey

describe('three nodes, all up', () => {
  test('a write with w=2 through any node is readable with r=2 from every node, and reaches all three replicas', async () => {
    for (const [i, writer] of cluster.nodes.entries()) {
      for (let k = 0; k < 5; k++) {
        const key = `w2-${writer.id}-${k}`
        expect((await put(writer.url, key, `value ${i}.${k}`, 'w=2')).status).toBe(204)
        for (const reader of cluster.nodes) {
          const res = await get(reader.url, key, 'r=2')
          expect(res.status, `${key} from ${reader.id}`).toBe(200)
          expect(await res.text()).toBe(`value ${i}.${k}`)
        }
        // w=2 answers after two acknowledgements; the third replica gets the write all the same.
        for (const replica of cluster.nodes) {
          await eventually(`${key} on ${replica.id}`, async () => {
            const held = await cluster.replicaRead(replica, key)
            return held !== undefined && liveSiblings(held).length === 1
          })
        }
      }
    }
  })

  test('an overwrite with the context of a read replaces the value on every node; a delete leaves a 404 everywhere', async () => {
    const key = 'rmw'
    const [a, b, c] = cluster.nodes
    expect((await put(a!.url, key, 'one', 'w=2')).status).toBe(204)
    const read = await get(b!.url, key, 'r=2')
    const context = read.headers.get('x-causal-context')!
    expect((await put(c!.url, key, 'two', 'w=2', context)).status).toBe(204)
    for (const node of cluster.nodes) expect(await (await get(node.url, key, 'r=2')).text()).toBe('two')
    const again = (await get(a!.url, key, 'r=2')).headers.get('x-causal-context')!
    expect((await fetch(`${b!.url}/v1/kv/${key}?w=2`, { method: 'DELETE', headers: { 'X-Causal-Context': again } })).status).toBe(204)
    for (const node of cluster.nodes) expect((await get(node.url, key, 'r=2')).status).toBe(404)
  })

  test('r or w above n is a 400 naming the parameter', async () => {
    const url = cluster.nodes[0]!.url
    for (const [res, parameter] of [[await get(url, 'k', 'r=4'), 'r'], [await put(url, 'k', 'x', 'w=4'), 'w'],
      [await put(url, 'k', 'x', 'dw=5'), 'dw'], [await get(url, 'k', 'pr=4'), 'pr']] as const) {
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ type: 'urn:levelring:problem:invalid-parameter', parameter })
    }
  })

  test('GET /v1/cluster: every node sees the same ring, shared evenly, and its peers up', async () => {
    // ContractClient checks every answer against openapi/levelring.yaml.
    const views = await Promise.all(cluster.nodes.map(async (n) => (await new ContractClient(n.url).get('/v1/cluster')).json))
    for (const [i, view] of views.entries()) {
      const node = cluster.nodes[i]!
      expect(view.node).toEqual({ id: node.id, address: node.address, status: 'up', zone: 'default' })
      expect(view.peers.map((p: any) => p.id).sort()).toEqual(cluster.nodes.filter((n) => n !== node).map((n) => n.id))
      expect(view.ring.partitions).toBe(cluster.partitions)
      expect(view.ring.replicas).toBe(3)
      expect(view.ring.digest).toBe(cluster.ring().digest())
      expect(view.ring.owners.reduce((s: number, o: any) => s + o.partitions, 0)).toBe(cluster.partitions)
      for (const owner of view.ring.owners) expect(Math.abs(owner.partitions - cluster.partitions / 3)).toBeLessThanOrEqual(1)
    }
    await eventually('every peer seen up', async () => {
      const again = await Promise.all(cluster.nodes.map(async (n) => (await fetch(`${n.url}/v1/cluster`)).json() as Promise<any>))
      return again.every((v) => v.peers.every((p: any) => p.status === 'up' && typeof p.lastSeen === 'string'))
    })
  })
})

describe('one node stopped', () => {
  test('r=2 and w=2 still succeed through either live node; r=3 and w=3 answer 503 with needed and answered', async () => {
    const stopped = cluster.nodes[2]!
    expect(await stopped.stop()).toBe(0)
    const live = cluster.nodes.filter((n) => n !== stopped)
    // Keys whose first primary is the stopped node, too: a write forwarded to it goes to the next replica.
    const keys = Array.from({ length: 30 }, (_, i) => `down-${i}`)
    expect(keys.some((k) => cluster.preferenceList(k)[0] === stopped.id)).toBe(true)
    for (const [i, key] of keys.entries()) {
      const writer = live[i % 2]!
      const res = await put(writer.url, key, `v${i}`, 'w=2')
      expect(res.status, `${key} through ${writer.id}: ${await res.clone().text()}`).toBe(204)
      for (const reader of live) expect(await (await get(reader.url, key, 'r=2')).text()).toBe(`v${i}`)
    }
    for (const node of live) {
      const checked = await new ContractClient(node.url).get(`/v1/kv/${keys[0]!}`, { query: 'r=3' })
      expect(checked.status).toBe(503) // a documented problem document
      const read = await get(node.url, keys[0]!, 'r=3')
      expect(read.status).toBe(503)
      expect(await read.json()).toMatchObject({ type: 'urn:levelring:problem:quorum-unavailable', parameter: 'r', needed: 3, answered: 2, replicas: 3 })
      const write = await put(node.url, keys[1]!, 'all three', 'w=3')
      expect(write.status).toBe(503)
      expect(await write.json()).toMatchObject({ type: 'urn:levelring:problem:quorum-unavailable', parameter: 'w', needed: 3, answered: 2, replicas: 3 })
      const durable = await put(node.url, keys[1]!, 'fsynced', 'w=2&dw=3')
      expect(await durable.json()).toMatchObject({ parameter: 'dw', needed: 3, answered: 2 })
      // pr/pw count primaries (every replica is one here: with all nodes up no fallback is used).
      expect(await (await get(node.url, keys[0]!, 'r=1&pr=3')).json()).toMatchObject({ parameter: 'pr', needed: 3, answered: 2 })
      expect(await (await put(node.url, keys[1]!, 'primaries', 'w=1&pw=3')).json()).toMatchObject({ parameter: 'pw', needed: 3, answered: 2 })
      expect((await get(node.url, keys[0]!, 'r=1&pr=2')).status).toBe(200)
    }
    const view = (await new ContractClient(live[0]!.url).get('/v1/cluster')).json
    expect(view.peers.find((p: any) => p.id === stopped.id).status).toBe('down')
    expect(view.peers.find((p: any) => p.id === live[1]!.id).status).toBe('up')
  })
})
