import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { freePorts, sleep, waitUntil } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

// Five nodes started the way a StatefulSet starts them: every node with the same --seeds list (the
// first three nodes' addresses) and no --peers. They must form one cluster in which all five own
// partitions, and take w=3 writes, within 60 s; also when the first seed (the lowest id, the
// founder) starts last.

const dir = tempRoot('levelring-seed-founding')
let nodes: NodeProcess[] = []

afterEach(async () => {
  await Promise.all(nodes.map(async (n) => { await n.stop() }))
  nodes = []
})

interface View { ring: { digest?: string, owners: Array<{ id: string, partitions: number }> }, node: { status: string } }

async function formsOneCluster (name: string, order: (ids: string[]) => string[][]): Promise<void> {
  const secret = join(dir, `${name}-secret`)
  await writeFile(secret, `seed-founding-secret-${name}-0123456789\n`)
  const ports = await freePorts(5)
  const ids = ports.map((_, i) => `s${i + 1}`)
  const seeds = ports.slice(0, 3).map((p) => `127.0.0.1:${p}`).join(',')
  const started = performance.now()
  const byId = new Map<string, NodeProcess>()
  const waves = order(ids)
  for (const [w, wave] of waves.entries()) {
    if (w > 0) await sleep(4_000) // the later wave starts after the others have gossiped for a while
    const launched = await Promise.all(wave.map(async (id) => {
      const i = ids.indexOf(id)
      return await startNodeProcess(['--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`, '--data-dir', join(dir, name, id),
        '--seeds', seeds, '--cluster-secret-file', secret, '--gossip-interval-ms', '500', '--anti-entropy-interval-ms', '0'])
    }))
    for (const [k, node] of launched.entries()) { byId.set(wave[k]!, node); nodes.push(node) }
  }
  const all = ids.map((id) => byId.get(id)!)
  const formedMs = await waitUntil('all five nodes own partitions in one ring, as every node sees it', async () => {
    const views = await Promise.all(all.map(async (n) => await (await fetch(`${n.url}/v1/cluster`)).json() as View))
    return new Set(views.map((v) => v.ring.digest)).size === 1 && views.every((v) => v.node.status === 'up' &&
      v.ring.owners.filter((o) => o.partitions > 0).length === 5)
  }, 60_000, 250)
  let written = 0
  await waitUntil('w=3 writes succeed through every node', async () => {
    for (const [i, n] of all.entries()) {
      const res = await fetch(`${n.url}/v1/kv/founded-${name}-${i}?w=3`, { method: 'PUT', body: `v${i}`, headers: { 'Content-Type': 'text/plain' } })
      if (res.status !== 204) return false
      written++
    }
    return true
  }, 60_000 - (performance.now() - started), 250)
  const totalMs = performance.now() - started
  console.log(`seeds-only founding (${name}): one ring of 5 owners after ${Math.round(formedMs)} ms of waiting, w=3 writes through every node after ${Math.round(totalMs)} ms in all`)
  expect(totalMs).toBeLessThan(60_000)
  expect(written).toBeGreaterThanOrEqual(5)
  // The founder said what it did; a node that waited said what for.
  expect(all.some((n) => n.lines.some((l) => /founding the cluster/.test(String(l.msg))))).toBe(true)
  expect(all.every((n) => n.lines.some((l) => typeof l.waitingFor === 'string'))).toBe(true)
  for (const [i, n] of all.entries()) expect(await (await fetch(`${n.url}/v1/kv/founded-${name}-${(i + 1) % 5}?r=3`)).text()).toBe(`v${(i + 1) % 5}`)
}

test('five nodes with the same seeds list and no --peers form one cluster and take w=3 writes within 60 s', async () => {
  await formsOneCluster('together', (ids) => [ids])
}, 90_000)

test('the same when the first seed (the founder) starts last', async () => {
  await formsOneCluster('founder-last', (ids) => [ids.slice(1), [ids[0]!]])
}, 90_000)
