// bench:scale's offline seed (tools/src/bench/scale-seed.ts) leaves each node's directory as a load through
// the REST API would: three real node processes started once, stopped, seeded with a few thousand keys and
// started again serve every key with its value and a version stamped by node1's actor, keep their actor
// epochs (a seeded directory looks like a clean stop), and find nothing to repair between them.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { seedReplicas } from '../../tools/src/bench/scale-seed.js'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { freePorts, waitUntil } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

const KEYS = 3000
const root = tempRoot('levelring-scale-seed')
const keyOf = (i: number): string => `k${String(i).padStart(10, '0')}`
const valueOf = (i: number): Uint8Array => Buffer.from(`value of key ${i}: ${'x'.repeat(i % 200)}`)

const running: NodeProcess[] = []
afterAll(async () => { await Promise.all(running.map(async (n) => await n.stop())) })

const IDS = ['node1', 'node2', 'node3']

async function startAll (ports: readonly number[], secretFile: string): Promise<NodeProcess[]> {
  const nodes = await Promise.all(IDS.map(async (id, i) => await startNodeProcess([
    '--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`, '--data', join(root, id), '--replicas', '3', '--cluster-secret-file', secretFile,
    '--peers', IDS.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(','), '--access-log', 'off'
  ])))
  running.push(...nodes)
  return nodes
}

async function json (url: string, method = 'GET'): Promise<any> {
  const res = await fetch(url, { method })
  expect(res.status, `${method} ${url}`).toBe(200)
  return await res.json()
}

async function stopAll (nodes: readonly NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map(async (n) => await n.stop()))
  for (const n of nodes) expect(n.child.exitCode, 'a clean stop').toBe(0)
}

const actorOf = (node: NodeProcess): string => node.lines.find((l) => /listening/.test(String(l.msg)))!.actor

test('seeded directories serve every key with its value and a dot of node1\'s actor, keep their epochs, and anti-entropy finds nothing to repair', async () => {
  const ports = await freePorts(3)
  const secretFile = join(root, 'secret')
  writeFileSync(secretFile, 'a cluster secret long enough for the test')
  const empty = await startAll(ports, secretFile)
  const actors = empty.map(actorOf)
  for (const n of empty) await waitUntil('anti-entropy ready', async () => ((await json(`${n.url}/v1/cluster`)) as any).antiEntropy.trees.state === 'ready', 30_000)
  await stopAll(empty)

  const report = await seedReplicas({ dataDirs: IDS.map((id) => join(root, id)), keys: KEYS, keyOf, valueOf })
  expect(report.actor).toBe(actors[0])
  expect(report.lastCounter - report.firstCounter + 1).toBe(KEYS)

  const nodes = await startAll(ports, secretFile)
  // Same actors as before the seed: each start found its own clean-stop record and marker.
  expect(nodes.map(actorOf)).toEqual(actors)
  for (const n of nodes) expect(n.lines.filter((l) => /new actor epoch|behind/.test(String(l.msg)))).toEqual([])

  const seen = new Set<number>()
  for (let i = 0; i < KEYS; i += 16) {
    await Promise.all(Array.from({ length: Math.min(16, KEYS - i) }, async (_, j) => {
      const k = i + j
      const res = await fetch(`${nodes[k % 3]!.url}/v1/kv/${keyOf(k)}`)
      expect(res.status, keyOf(k)).toBe(200)
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(valueOf(k))), keyOf(k)).toBe(true)
      expect(res.headers.get('content-type')).toBe('application/octet-stream')
      const match = /^"(.+):(\d+)"$/.exec(res.headers.get('etag') ?? '')
      expect(match?.[1], keyOf(k)).toBe(report.actor)
      const counter = Number(match![2])
      expect(counter).toBeGreaterThanOrEqual(report.firstCounter)
      expect(counter).toBeLessThanOrEqual(report.lastCounter)
      seen.add(counter)
    }))
  }
  expect(seen.size, 'every key its own dot').toBe(KEYS)

  for (const n of nodes) {
    const repair = await json(`${n.url}/v1/admin/repair`, 'POST')
    expect(repair.comparisons).toBeGreaterThan(0)
    expect(repair.keysDiffering, n.url).toBe(0)
    expect(repair.keysPulled + repair.keysPushed).toBe(0)
  }

  // A write after the seed gets a dot past every seeded one (the counter lease was moved past them).
  const put = await fetch(`${nodes[0]!.url}/v1/kv/${keyOf(0)}`, { method: 'PUT', body: 'new', headers: { 'content-type': 'text/plain' } })
  expect(put.status).toBe(204)
  const [, actor, counter] = /^"(.+):(\d+)"$/.exec(put.headers.get('etag')!)!
  expect(actor).toBe(report.actor)
  expect(Number(counter)).toBeGreaterThan(report.lastCounter)
  await stopAll(nodes)
}, 300_000)
