// `npm run stress`: what a StatefulSet and its autoscaler do to levelring, driven by hand. Nodes are
// started as the pods are (the same --seeds list of the first three, no --peers, one data directory
// per ordinal kept across scale-downs like a PersistentVolumeClaim): 3 nodes found the cluster, a
// writer runs throughout, then 3 -> 5 (two pods start) and 5 -> 3 (the highest ordinals go: the
// preStop hook's `levelring leave --wait`, then SIGTERM), twice. After every step every acknowledged
// write must be on each of its n = 3 replicas of the current ring (replica reads, which never
// repair); and at 3 nodes a scale-down is refused (and says so). The figures are printed.
import { mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, test } from 'vitest'
import { InternodeAuth } from '../../gateway/src/internode/internode-auth.js'
import { keyPath, REPLICAS_PATH } from '../../gateway/src/internode/internode-protocol.js'
import { RING_PATH } from '../../gateway/src/membership/gossip-protocol.js'
import { decodeObject } from '../../gateway/src/replica/object-codec.js'
import { liveSiblings } from '../../gateway/src/replica/stored-object.js'
import { ringStateFromJSON, waitingFor, type RingStateJSON } from '../../gateway/src/ring/ring-state.js'
import type { Ring } from '../../gateway/src/ring/ring.js'
import { startNodeProcess, type NodeProcess } from '../support/node-process.js'
import { levelring } from '../support/levelring-command.js'
import { freePorts, sleep, waitUntil } from '../support/process.js'
import { tempRoot } from '../support/temp-dir.js'

const N = 3
/** Ring partitions (AUTOSCALE_PARTITIONS; the node default otherwise). */
const Q = process.env.AUTOSCALE_PARTITIONS
/** Where each node's log and ring state go when the test fails, and when it passes too if AUTOSCALE_LOG_DIR names it (else a directory under the system's tmp). */
const LOG_DIR = process.env.AUTOSCALE_LOG_DIR ?? join(tmpdir(), `levelring-autoscale-logs-${process.pid}`)
const SECRET = `autoscale-secret-${process.pid}-0123456789`
const root = tempRoot('levelring-autoscale')
const running = new Map<string, NodeProcess>()
/** Every process started, stopped ones too (for their logs). */
const started: Array<{ id: string, node: NodeProcess }> = []
afterAll(async () => { await Promise.all([...running.values()].map(async (n) => { await n.stop() })) })

const auth = new InternodeAuth([Buffer.from(SECRET)], 'test-harness')
async function internode (node: NodeProcess, id: string, path: string): Promise<Response> {
  return await fetch(node.url + path, { headers: auth.signRequest('GET', path, undefined, id) })
}

test('3 -> 5 -> 3 twice under a writer: every acknowledged write on its n replicas after each step; a scale-down below n refused', async () => {
  await writeFile(join(root, 'secret'), SECRET)
  const ports = await freePorts(5)
  const ids = ports.map((_, i) => `levelring-${i}`)
  const address = (i: number): string => `127.0.0.1:${ports[i]!}`
  const seeds = [0, 1, 2].map(address).join(',')
  const start = async (i: number): Promise<void> => {
    const node = await startNodeProcess(['--node-id', ids[i]!, '--listen', address(i), '--data-dir', join(root, ids[i]!), '--seeds', seeds,
      '--cluster-secret-file', join(root, 'secret'), '--gossip-interval-ms', '500', ...(Q === undefined ? [] : ['--partitions', Q])])
    running.set(ids[i]!, node)
    started.push({ id: ids[i]!, node })
  }
  /** On failure: every node's log lines and the running nodes' ring states and cluster views, in LOG_DIR. */
  const dumpLogs = async (): Promise<void> => {
    await mkdir(LOG_DIR, { recursive: true })
    await Promise.all(started.map(async ({ id, node }, i) => { await writeFile(join(LOG_DIR, `${i}-${id}.log`), node.lines.map((l) => JSON.stringify(l)).join('\n') + '\n') }))
    await Promise.all([...running].map(async ([id, node]) => {
      const ring = await (await internode(node, id, RING_PATH)).text().catch((err: Error) => err.message)
      const cluster = await (await fetch(`${node.url}/v1/cluster`)).text().catch((err: Error) => err.message)
      await writeFile(join(LOG_DIR, `${id}.state.json`), `{"ring": ${ring},\n"cluster": ${cluster}}\n`)
    }))
    console.log(`autoscale: node logs and states in ${LOG_DIR}`)
  }

  /** Every running node routes by one ring whose owners are exactly `owners`, with nothing moving. */
  const settledRing = async (owners: string[]): Promise<Ring> => {
    let ring: Ring | undefined
    let seen = ''
    await waitUntil(`one settled ring owned by ${owners.join(', ')}`, async () => {
      const states = await Promise.all([...running.entries()].map(async ([id, n]) => ringStateFromJSON(await (await internode(n, id, RING_PATH)).json() as RingStateJSON)))
      seen = states.map((s, i) => `${[...running.keys()][i]!} at epoch ${s.epoch}` +
        (s.pending === undefined ? '' : ` (pending ${s.pending.plan.members.map((m) => m.id).join('+')}, waiting for ${waitingFor(s, N).join('+') || 'the claimant'})`)).join('; ')
      const same = new Set(states.map((s) => s.digest)).size === 1
      const s = states[0]!
      ring = s.current.ring
      return same && s.pending === undefined && s.current.members.map((m) => m.id).join() === [...owners].sort().join()
    }, 180_000, 500).catch((err: Error) => { throw new Error(`${err.message}: ${seen}`) })
    return ring!
  }

  // The writer: fresh keys through the nodes clients may use (a terminating pod leaves the endpoints first).
  const targets = new Set<string>()
  const acknowledged = new Map<string, string>()
  let attempted = 0
  let failed = 0
  let writing = true
  const writer = async (w: number): Promise<void> => {
    for (let i = 0; writing; i++) {
      const pool = [...targets].map((id) => running.get(id)).filter((n): n is NodeProcess => n !== undefined)
      if (pool.length === 0) { await sleep(50); continue }
      const node = pool[Math.floor(Math.random() * pool.length)]!
      const key = `as-${w}-${i}`
      attempted++
      try {
        const res = await fetch(`${node.url}/v1/kv/${key}?w=2`, { method: 'PUT', body: `v-${key}`, headers: { 'Content-Type': 'text/plain' } })
        await res.arrayBuffer()
        if (res.status === 204) acknowledged.set(key, `v-${key}`)
        else failed++
      } catch {
        failed++
        await sleep(20)
      }
    }
  }

  /** The copies (key on node) of `copies` that do not hold the key's acknowledged value; a read that fails counts as missing. */
  const missingOf = async (copies: ReadonlyArray<{ key: string, id: string }>): Promise<Array<{ key: string, id: string, status: string }>> => {
    const missing: Array<{ key: string, id: string, status: string }> = []
    let next = 0
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < copies.length) {
        const { key, id } = copies[next++]!
        let status: string
        try {
          const res = await internode(running.get(id)!, id, keyPath(REPLICAS_PATH, key))
          const held = res.status === 200 ? liveSiblings(decodeObject(key, new Uint8Array(await res.arrayBuffer()))).map((s) => Buffer.from(s.value.value).toString()) : (await res.arrayBuffer(), [])
          if (held.includes(acknowledged.get(key)!)) continue
          status = String(res.status)
        } catch (err) {
          status = (err as Error).message
        }
        missing.push({ key, id, status })
      }
    }))
    return missing
  }

  /**
   * Every acknowledged write is held by each of its n replicas in `ring`. Hints and hand-overs may still be
   * finishing when the ring settles, so copies missing at one pass are read again at the next, and once
   * none is missing every copy is read once more. Bounded: 120 s after the first whole pass, which reads
   * every copy (tens of thousands of reads) and alone takes minutes on a shared, loaded machine.
   */
  const everyWriteOnItsReplicas = async (ring: Ring, step: string): Promise<number> => {
    const keys = [...acknowledged.keys()]
    const all = keys.flatMap((key) => ring.preferenceList(ring.partitionOf(key), N).map((id) => ({ key, id })))
    const began = performance.now()
    let missing = await missingOf(all)
    const deadline = performance.now() + 120_000
    console.log(`autoscale: ${step}: ${missing.length} of ${all.length} copies missing at the first pass (${((performance.now() - began) / 1000).toFixed(1)} s)`)
    for (let whole = missing.length === 0; !whole;) {
      if (performance.now() > deadline) {
        const sample = missing.slice(0, 10).map(({ key, id, status }) => `${key} (partition ${ring.partitionOf(key)}) on ${id} (${status})`)
        throw new Error(`not within 120000 ms of the first pass: ${step}: every acknowledged write on its ${N} replicas: ${missing.length} of ${all.length} copies missing, e.g. ${sample.join(', ')}`)
      }
      await sleep(2_000)
      missing = await missingOf(missing)
      if (missing.length === 0) {
        missing = await missingOf(all)
        whole = missing.length === 0
      }
    }
    return keys.length
  }

  try {
    const t0 = performance.now()
    await Promise.all([0, 1, 2].map(start))
    for (const id of ids.slice(0, 3)) targets.add(id)
    await settledRing(ids.slice(0, 3))
    const writers = Promise.all(Array.from({ length: 4 }, async (_, w) => { await writer(w) }))
    const figures: string[] = []
    const step = async (name: string, owners: string[], began: number): Promise<void> => {
      const ring = await settledRing(owners)
      const settled = performance.now() - began
      const [tried, notAcknowledged] = [attempted, failed]
      const checked = await everyWriteOnItsReplicas(ring, name)
      figures.push(`${name}: ring settled ${(settled / 1000).toFixed(1)} s after the step began; all ${checked} writes acknowledged by then on their ${N} replicas ` +
        `(${tried} attempted, ${notAcknowledged} not acknowledged)`)
    }

    for (let cycle = 1; cycle <= 2; cycle++) {
      await sleep(2_000)
      // Scale up: two pods start (a restarted pod of the first cycle rejoins with its old data directory).
      const up = performance.now()
      await Promise.all([3, 4].map(start))
      for (const id of ids.slice(3)) targets.add(id)
      await step(`cycle ${cycle}: 3 -> 5`, ids, up)

      // Scale down, highest ordinal first, one at a time: out of the endpoints, preStop leave --wait, SIGTERM.
      const down = performance.now()
      for (const i of [4, 3]) {
        const id = ids[i]!
        targets.delete(id)
        const left = await levelring(['leave', '--node', running.get(id)!.url, '--wait', '--wait-timeout', '600000'], { timeoutMs: 700_000 })
        expect(left.code, left.stderr).toBe(0)
        await running.get(id)!.stop()
        running.delete(id)
      }
      await step(`cycle ${cycle}: 5 -> 3`, ids.slice(0, 3), down)

      // A scale-down below n is refused, says why, and changes nothing.
      const refused = await levelring(['leave', '--node', running.get(ids[2]!)!.url, '--wait'], { timeoutMs: 700_000 })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toMatch(/cannot leave: 2 members would remain for n=3/)
      expect(running.get(ids[2]!)!.child.exitCode).toBe(null)
    }
    writing = false
    await writers
    const ring = await settledRing(ids.slice(0, 3))
    await everyWriteOnItsReplicas(ring, 'end')
    for (const f of figures) console.log(`autoscale: ${f}`)
    console.log(`autoscale: ${acknowledged.size} acknowledged of ${attempted} writes, ${failed} not acknowledged, 0 acknowledged lost, in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  } catch (err) {
    writing = false
    await dumpLogs()
    throw err
  }
  if (process.env.AUTOSCALE_LOG_DIR !== undefined) await dumpLogs()
  // An hour: a whole run takes from 5 to 30 minutes on two shared cores, by what else runs there.
}, 3_600_000)
