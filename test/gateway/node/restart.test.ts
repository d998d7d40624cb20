import { afterAll, expect, test } from 'vitest'
import { ContractClient, kvPath } from '../helpers/contract-client.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

const started: TestNode[] = []
afterAll(async () => { for (const n of started) await n.stop().catch(() => undefined) })

test('a restarted node keeps its values, identity, context secret and dot counter (lsm-level files)', async () => {
  const first = await startTestNode({ nodeId: 'keeper' })
  const dir = first.dataDir
  const c1 = new ContractClient(first.url)
  expect((await c1.put(kvPath('k'), { body: 'before', query: 'dw=1', headers: { 'Content-Type': 'text/plain' } })).status).toBe(204)
  await c1.put(kvPath('gone'), { body: 'x' })
  await c1.delete(kvPath('gone'), { query: 'dw=1' })
  const read = await c1.get(kvPath('k'))
  const actor = first.identity.actor
  await first.close()

  const second = await startTestNode({ nodeId: 'keeper' }, dir)
  started.push(second)
  expect(second.identity.actor).toBe(actor)
  const c2 = new ContractClient(second.url)
  const again = await c2.get(kvPath('k'))
  expect(again.body.toString()).toBe('before')
  expect(again.headers.etag).toBe(read.headers.etag)
  expect(again.headers['x-causal-context']).toBe(read.headers['x-causal-context'])
  const deleted = await c2.get(kvPath('gone'))
  expect(deleted.status).toBe(404)
  expect(deleted.headers['x-causal-context']).toBeDefined()
  // The context read before the restart still verifies and supersedes; the new dot is newer.
  const put = await c2.put(kvPath('k'), { body: 'after', headers: { 'X-Causal-Context': read.headers['x-causal-context']! } })
  expect(put.status).toBe(204)
  const counter = (etag: string): number => Number(/:(\d+)"$/.exec(etag)![1])
  expect(counter(put.headers.etag!)).toBeGreaterThan(counter(read.headers.etag!))
  const after = await c2.get(kvPath('k'))
  expect(after.status).toBe(200)
  expect(after.body.toString()).toBe('after')
})

test('a data directory refuses to start under another node id', async () => {
  const node = await startTestNode({ nodeId: 'owner' })
  await node.close()
  await expect(startTestNode({ nodeId: 'intruder' }, node.dataDir)).rejects.toThrow(/belongs to node "owner"/)
  const back = await startTestNode({ nodeId: 'owner' }, node.dataDir)
  started.push(back)
  expect(back.identity.nodeId).toBe('owner')
})
