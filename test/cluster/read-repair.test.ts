import { afterAll, beforeAll, expect, test } from 'vitest'
import { isDeleted, liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { sameVersions } from '../../gateway/src/version/dvv.js'
import { eventually, getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'
import { sleep } from '../support/process.js'

// Read repair. Stop a node, write 100 keys with w=2, restart it, read them
// with r=3; then the restarted node holds every key, checked with the replica-level internode read
// (which never repairs). Deletes (tombstones) are repaired the same way.

let cluster: TestCluster

// Debug logs name the replicas each read repair sent to. Anti-entropy is off: it would repair the restarted node too.
beforeAll(async () => { cluster = await TestCluster.start({ size: 3, replicas: 3, settings: { logLevel: 'debug', antiEntropyIntervalMs: 0 } }) })
afterAll(async () => { await cluster?.close() })

test('a node that missed 100 writes holds all of them after one r=3 read of each, tombstones included', async () => {
  const [a, b, restarted] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  // Ten keys exist before the outage and are deleted during it: their tombstones must be repaired too.
  const doomed = Array.from({ length: 10 }, (_, i) => `doomed-${i}`)
  for (const key of doomed) expect((await putText(a.url, key, 'soon gone', 'w=3')).status).toBe(204)

  expect(await restarted.stop()).toBe(0)
  const keys = Array.from({ length: 100 }, (_, i) => `repair-${String(i).padStart(3, '0')}`)
  for (const [i, key] of keys.entries()) {
    expect((await putText(i % 2 === 0 ? a.url : b.url, key, `value ${i}`, 'w=2')).status).toBe(204)
  }
  for (const key of doomed) {
    const context = (await getKey(a.url, key, 'r=2')).headers.get('x-causal-context')!
    expect((await fetch(`${b.url}/v1/kv/${key}?w=2`, { method: 'DELETE', headers: { 'X-Causal-Context': context } })).status).toBe(204)
  }
  await restarted.start()

  // Before any read, the restarted node misses all of it (anti-entropy is off here, so only read repair can).
  for (const key of keys) expect(await cluster.replicaRead(restarted, key)).toBeUndefined()
  for (const key of doomed) expect(isDeleted((await cluster.replicaRead(restarted, key))!)).toBe(false)

  for (const [i, key] of keys.entries()) {
    const res = await getKey(cluster.nodes[i % 3]!.url, key, 'r=3')
    expect(res.status, key).toBe(200)
    expect(await res.text()).toBe(`value ${i}`)
  }
  for (const key of doomed) expect((await getKey(restarted.url, key, 'r=3')).status).toBe(404)

  // Read repair runs after the answer: wait (bounded) until the restarted node holds exactly what the others hold.
  for (const key of [...keys, ...doomed]) {
    await eventually(`${key} repaired on ${restarted.id}`, async () => {
      const [held, reference] = await Promise.all([cluster.replicaRead(restarted, key), cluster.replicaRead(a, key)])
      return held !== undefined && reference !== undefined && sameVersions(held, reference)
    }, 30, 100)
  }
  for (const [i, key] of keys.entries()) {
    const held = (await cluster.replicaRead(restarted, key))!
    expect(liveSiblings(held).map((s) => Buffer.from(s.value.value).toString())).toEqual([`value ${i}`])
  }
  for (const key of doomed) expect(isDeleted((await cluster.replicaRead(restarted, key))!)).toBe(true)
})

test('a replica holding a dominated version is repaired to the newer one; one that is up to date is left alone', async () => {
  const [a, b, c] = cluster.nodes as [typeof cluster.nodes[0], typeof cluster.nodes[0], typeof cluster.nodes[0]]
  const key = 'dominated'
  expect((await putText(a.url, key, 'old', 'w=3')).status).toBe(204)
  const context = (await getKey(a.url, key, 'r=3')).headers.get('x-causal-context')!
  expect(await c.stop()).toBe(0)
  expect((await putText(a.url, key, 'new', 'w=2', context)).status).toBe(204)
  await c.start()
  const stale = (await cluster.replicaRead(c, key))!
  expect(liveSiblings(stale).map((s) => Buffer.from(s.value.value).toString())).toEqual(['old'])

  // r=3 answers the merge (the new version dominates the old one), then repairs c.
  const res = await getKey(b.url, key, 'r=3')
  expect(await res.text()).toBe('new')
  await eventually('dominated version repaired', async () => {
    const held = (await cluster.replicaRead(c, key))!
    return liveSiblings(held).length === 1 && Buffer.from(liveSiblings(held)[0]!.value.value).toString() === 'new'
  })
  // The coordinator logs the repair once c acknowledged it; the line may trail c's answer a little.
  const repairs = (): Array<Record<string, any>> => b.lines.filter((l) => l.msg === 'read repair' && l.key === key)
  await eventually('the repair logged', async () => repairs().length > 0)
  expect(repairs().map((l) => l.replicas)).toEqual([[c.id]])

  // Everyone agrees now: another read repairs nothing.
  expect(await (await getKey(a.url, key, 'r=3')).text()).toBe('new')
  await sleep(300)
  expect(a.lines.filter((l) => l.msg === 'read repair' && l.key === key)).toEqual([])
})
