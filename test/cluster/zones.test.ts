import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { getKey, putText } from './helpers/http.js'
import { TestCluster } from './helpers/test-cluster.js'
import { ContractClient } from '../gateway/helpers/contract-client.js'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import type { KeyReplicas } from '../../gateway/src/ring/placement.js'
import { sleep, waitUntil } from '../support/process.js'

// Six node processes in three zones (a: node1, node2; b: node3, node4; c: node5, node6), n = 3:
// every key has one replica per zone (GET /v1/placement/{key} and `levelring placement` show it);
// with 30 ms emulated between zones (fault injection's delayMs) zone-local quorums (lr, lw) answer at
// local latency while r = 2 and w = 2 pay the distance; a whole zone SIGKILLed under a writer loses
// nothing acknowledged, and w = 2 keeps being acknowledged.

const BIN = fileURLToPath(new URL('../../bin/levelring.js', import.meta.url))
const ZONES: Record<string, string> = { node1: 'a', node2: 'a', node3: 'b', node4: 'b', node5: 'c', node6: 'c' }
/** Emulated round trip between two zones, ms. */
const DISTANCE_MS = 30

let cluster: TestCluster

async function placement (url: string, key: string): Promise<KeyReplicas> {
  const res = await fetch(`${url}/v1/placement/${encodeURIComponent(key)}`)
  expect(res.status).toBe(200)
  return await res.json() as KeyReplicas
}

/** Every node routes by one ring, with no move under way, whose preference lists span the three zones. */
async function zonesSettled (): Promise<boolean> {
  const views = await Promise.all(cluster.nodes.filter((n) => n.running).map(async (n) => (await fetch(`${n.url}/v1/cluster`)).json() as Promise<{ ring: { digest?: string, pending?: unknown } }>))
  if (views.some((v) => v.ring.pending !== undefined) || new Set(views.map((v) => v.ring.digest)).size !== 1) return false
  const sample = await placement(cluster.nodes[0]!.url, 'zones-probe')
  return new Set(sample.replicas.map((r) => r.zone)).size === 3
}

async function setDelays (delayOf: (from: string, to: string) => number): Promise<void> {
  await Promise.all(cluster.nodes.map(async (node) => {
    const delayMs = Object.fromEntries(cluster.nodes.filter((o) => o !== node).map((o) => [o.id, delayOf(node.id, o.id)]))
    const res = await cluster.internodeFetch(node, FAULTS_PATH, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ blocked: [], delayMs }) })
    expect(res.status).toBe(200)
  }))
}

function p50 (samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y)
  return sorted[Math.floor(sorted.length / 2)]!
}

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 6, replicas: 3, settings: { enableFaultInjection: true }, nodeSettings: (id) => ({ zone: ZONES[id] }) })
  // The founders' ring knows no zones; the claimant re-plans once gossip has brought every member's zone.
  await waitUntil('a zone-aware ring on every node', zonesSettled, 40_000, 250)
}, 90_000)
afterAll(async () => { await cluster?.close() })

describe('six nodes in three zones', () => {
  test('the replicas of 200 keys span the three zones, the same from every node, and levelring placement shows them', async () => {
    const client = new ContractClient(cluster.nodes[0]!.url)
    for (let i = 0; i < 200; i++) {
      const key = `placed-${i}`
      const res = await client.get(`/v1/placement/${key}`)
      expect(res.status).toBe(200)
      const body = res.json as KeyReplicas
      expect(body.key).toBe(key)
      expect(body.replicas.map((r) => r.zone).sort()).toEqual(['a', 'b', 'c'])
      for (const r of body.replicas) {
        expect(ZONES[r.node]).toBe(r.zone)
        expect(r.address).toBe(cluster.node(r.node).address)
      }
    }
    for (const node of cluster.nodes) expect(await placement(node.url, 'placed-7')).toEqual(await placement(cluster.nodes[0]!.url, 'placed-7'))
    // Gossip carries every member's zone: GET /v1/cluster (and levelring members) shows them.
    const view = (await client.get('/v1/cluster')).json as { node: { id: string, zone: string }, peers: Array<{ id: string, zone: string }> }
    for (const m of [view.node, ...view.peers]) expect(m.zone).toBe(ZONES[m.id])
    expect((await client.get('/v1/placement/a%ZZ')).status).toBe(400)

    const { stdout } = await promisify(execFile)(process.execPath, [BIN, 'placement', 'placed-7', '--node', cluster.nodes[2]!.url, '--json'])
    const printed = JSON.parse(stdout) as KeyReplicas
    expect(printed.replicas).toEqual((await placement(cluster.nodes[0]!.url, 'placed-7')).replicas)
  })

  test('lr and lw beyond the zone\'s replicas are refused: above n a 400, above the zone\'s share a 503 before anything is sent', async () => {
    const url = cluster.node('node1').url
    for (const [res, parameter] of [[await getKey(url, 'k', 'lr=4'), 'lr'], [await putText(url, 'k', 'x', 'lw=4'), 'lw']] as const) {
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ type: 'urn:levelring:problem:invalid-parameter', parameter })
    }
    // With 3 zones and n = 3, each zone holds one replica of a key: two cannot answer from zone a.
    for (const [res, parameter] of [[await getKey(url, 'k', 'lr=2'), 'lr'], [await putText(url, 'never-written', 'x', 'lw=2'), 'lw']] as const) {
      expect(res.status).toBe(503)
      expect(await res.json()).toMatchObject({ parameter, needed: 2, answered: 1 })
    }
    expect((await getKey(url, 'never-written', 'r=3')).status).toBe(404)
    // The emulated distance is checked like every fault setting.
    const bad = await cluster.internodeFetch(cluster.node('node1'), FAULTS_PATH, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"delayMs": {"node3": -5}}' })
    expect(bad.status).toBe(400)
  })

  test(`with ${DISTANCE_MS} ms between zones, lr and lw answer at local latency while r=2 and w=2 pay the distance`, async () => {
    await setDelays((from, to) => (ZONES[from] === ZONES[to] ? 0 : DISTANCE_MS))
    try {
      const url = cluster.node('node1').url
      const timed = async (fn: () => Promise<Response>): Promise<number> => {
        const start = performance.now()
        const res = await fn()
        expect(res.status).toBeLessThan(300)
        await res.arrayBuffer()
        return performance.now() - start
      }
      const lw: number[] = []
      const w2: number[] = []
      const lr: number[] = []
      const r2: number[] = []
      for (let i = 0; i < 30; i++) {
        lw.push(await timed(async () => putText(url, `far-${i}`, `v${i}`, 'lw=1')))
        w2.push(await timed(async () => putText(url, `far-w2-${i}`, `v${i}`, 'w=2')))
      }
      for (let i = 0; i < 30; i++) {
        lr.push(await timed(async () => getKey(url, `far-${i}`, 'lr=1')))
        r2.push(await timed(async () => getKey(url, `far-${i}`, 'r=2')))
      }
      process.stdout.write(`zone-local quorums, ${DISTANCE_MS} ms between zones, p50 from node1 (zone a): ` +
        `lr=1 ${p50(lr).toFixed(1)} ms, r=2 ${p50(r2).toFixed(1)} ms; lw=1 ${p50(lw).toFixed(1)} ms, w=2 ${p50(w2).toFixed(1)} ms\n`)
      expect(p50(r2)).toBeGreaterThanOrEqual(DISTANCE_MS)
      expect(p50(w2)).toBeGreaterThanOrEqual(DISTANCE_MS)
      expect(p50(lr)).toBeLessThan(p50(r2) - DISTANCE_MS / 2)
      expect(p50(lw)).toBeLessThan(p50(w2) - DISTANCE_MS / 2)
      // A zone-local write still reaches every zone.
      for (let i = 0; i < 30; i += 10) expect(await (await getKey(url, `far-${i}`, 'r=3')).text()).toBe(`v${i}`)
    } finally {
      await setDelays(() => 0)
    }
  })

  test('a whole zone SIGKILLed under a writer: every acknowledged write readable with r=2, >= 95% of w=2 writes acknowledged, none lost after it returns', async () => {
    const writers = cluster.nodes.filter((n) => ZONES[n.id] !== 'c')
    const acknowledged = new Map<string, string>()
    let attempts = 0
    let writing = true
    const writer = (async () => {
      for (let i = 0; writing && i < 2_000; i++) {
        const key = `outage-${i}`
        const value = `value-${i}`
        attempts++
        try {
          const res = await putText(writers[i % writers.length]!.url, key, value, 'w=2')
          if (res.status === 204) acknowledged.set(key, value)
        } catch { /* a refused request is simply not acknowledged */ }
      }
    })()
    await sleep(1_000)
    const before = attempts
    await Promise.all([cluster.node('node5').stop('SIGKILL'), cluster.node('node6').stop('SIGKILL')])
    await sleep(6_000)
    writing = false
    await writer
    const during = attempts - before
    const ackedDuring = [...acknowledged.keys()].filter((k) => Number(k.slice('outage-'.length)) >= before).length
    process.stdout.write(`zone c down: ${ackedDuring} of ${during} w=2 writes acknowledged (${(100 * ackedDuring / during).toFixed(1)}%), ${acknowledged.size} in all\n`)
    expect(during).toBeGreaterThan(20)
    expect(ackedDuring / during).toBeGreaterThanOrEqual(0.95)

    // Still during the outage: every acknowledged write reads back with r=2, through any live node.
    for (const [i, [key, value]] of [...acknowledged].entries()) {
      const res = await getKey(writers[i % writers.length]!.url, key, 'r=2')
      expect(res.status, key).toBe(200)
      expect(await res.text()).toBe(value)
    }

    await Promise.all([cluster.node('node5').start(), cluster.node('node6').start()])
    await cluster.settled()
    for (const [i, [key, value]] of [...acknowledged].entries()) {
      const res = await getKey(cluster.nodes[i % cluster.nodes.length]!.url, key, 'r=3')
      expect(res.status, key).toBe(200)
      expect(await res.text()).toBe(value)
    }
  }, 120_000)
})
