import { Writable } from 'node:stream'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { ContractClient, kvPath, type CheckedResponse } from '../helpers/contract-client.js'
import { startTestNode, type TestNode } from '../helpers/test-node.js'

let node: TestNode
let c: ContractClient
const logLines: Array<{ level: number, msg: string, key?: string, siblings?: number }> = []

beforeAll(async () => {
  const sink = new Writable({ write (chunk, _enc, done) { logLines.push(JSON.parse(String(chunk))); done() } })
  node = await startTestNode({}, undefined, pino({ level: 'warn' }, sink))
  c = new ContractClient(node.url)
})
afterAll(async () => { await node?.stop() })

const JSON_FORM = { Accept: 'application/json' }

/** Read a key in the JSON form: its context and its sibling values (decoded), sorted. */
async function read (key: string): Promise<{ context: string, values: string[], res: CheckedResponse }> {
  const res = await c.get(kvPath(key), { headers: JSON_FORM })
  expect([200, 300]).toContain(res.status)
  const values = (res.json.siblings as Array<{ value: string }>).map((s) => Buffer.from(s.value, 'base64').toString()).sort()
  expect(res.status).toBe(values.length > 1 ? 300 : 200)
  return { context: res.json.context, values, res }
}

async function write (key: string, value: string, context?: string): Promise<CheckedResponse> {
  const res = await c.put(kvPath(key), { body: value, headers: { 'Content-Type': 'text/plain', ...(context === undefined ? {} : { 'X-Causal-Context': context }) } })
  expect(res.status).toBe(204)
  return res
}

describe('sibling semantics', () => {
  test('same context twice: two siblings; write back with the merged context: one; stale context after that: a sibling again', async () => {
    await write('k1', 'v0')
    const { context: ctx0 } = await read('k1')
    await write('k1', 'alice', ctx0)
    await write('k1', 'bob', ctx0)
    const merged = await read('k1')
    expect(merged.values).toEqual(['alice', 'bob'])
    await write('k1', 'alice+bob', merged.context)
    expect((await read('k1')).values).toEqual(['alice+bob'])
    await write('k1', 'late', ctx0)
    expect((await read('k1')).values).toEqual(['alice+bob', 'late'])
    // A blind write never overwrites either.
    await write('k1', 'blind')
    expect((await read('k1')).values).toEqual(['alice+bob', 'blind', 'late'])
  })

  test('the context a write answers covers that write only, never a concurrent sibling it did not see', async () => {
    await write('k2', 'base')
    const { context } = await read('k2')
    await write('k2', 'other client') // concurrent with what follows
    const mine = await write('k2', 'mine', context)
    expect((await read('k2')).values).toEqual(['mine', 'other client'])
    await write('k2', 'mine, edited', mine.headers['x-causal-context'])
    expect((await read('k2')).values).toEqual(['mine, edited', 'other client'])
  })

  test('a write concurrent with a delete wins; a delete with the full context removes everything', async () => {
    await write('k3', 'v1')
    const { context } = await read('k3')
    await write('k3', 'concurrent', context)
    expect((await c.delete(kvPath('k3'), { headers: { 'X-Causal-Context': context } })).status).toBe(204)
    const after = await read('k3')
    expect(after.values).toEqual(['concurrent'])
    expect((await c.delete(kvPath('k3'), { headers: { 'X-Causal-Context': after.context } })).status).toBe(204)
    expect((await c.get(kvPath('k3'))).status).toBe(404)
  })

  test('10 interleaved read-modify-write clients leave exactly the writes no other write had read', async () => {
    const key = 'contended'
    const observed = new Set<string>()
    const written: string[] = []
    const clients = Array.from({ length: 10 }, (_, id) => (async () => {
      for (let round = 0; round < 15; round++) {
        const { context, values } = await read(key).catch(() => ({ context: undefined, values: [] as string[] }))
        await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)))
        const value = `c${id}-r${round}`
        await write(key, value, context)
        for (const v of values) observed.add(v)
        written.push(value)
      }
    })())
    await write(key, 'seed')
    written.push('seed')
    await Promise.all(clients)
    const final = await read(key)
    const expected = written.filter((v) => !observed.has(v)).sort()
    expect(final.values).toEqual(expected)
    expect(final.values.length).toBeLessThanOrEqual(10)
    expect(final.values.length).toBeGreaterThan(0)
    // Resolving with the context of that read leaves one value.
    await write(key, 'resolved', final.context)
    expect((await read(key)).values).toEqual(['resolved'])
  })

  test('sibling cap: a warning at 25, a 409 past 100, and resolving is always allowed', async () => {
    for (let i = 1; i <= 100; i++) await write('crowded', `s${i}`)
    const warned = logLines.filter((l) => l.key === 'crowded' && l.level === 40)
    expect(warned.length).toBeGreaterThan(0)
    expect(warned[0]!.siblings).toBe(25)
    const refused = await c.put(kvPath('crowded'), { body: 's101', headers: { 'Content-Type': 'text/plain' } })
    expect(refused.status).toBe(409)
    expect(refused.json).toMatchObject({ type: 'urn:levelring:problem:too-many-siblings', siblings: 101, limit: 100, key: 'crowded' })
    const all = await read('crowded')
    expect(all.values).toHaveLength(100)
    expect(all.values).not.toContain('s101')
    await write('crowded', 'one', all.context)
    expect((await read('crowded')).values).toEqual(['one'])
  })
})
