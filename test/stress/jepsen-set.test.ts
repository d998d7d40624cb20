// `npm run stress`: a Jepsen-style checker. A real five-node loopback cluster (n=3, r=w=2, short
// tombstone grace, fast anti-entropy, internode fault injection on) takes operations from clients
// while a seeded nemesis breaks it, one fault at a time:
//
//   partition  split the members in two (fault injection on both sides), heal after a while
//   kill       SIGKILL a node, restart it
//   pause      SIGSTOP a node, SIGCONT it
//   skew       restart a node with its clock (the one it ages tombstones by) up to 8 s off
//   wipe       SIGKILL a node, delete its data directory, restart it empty (same id)
//   restore    SIGKILL a node, put back a copy of its data directory taken at an earlier kill, restart
//   replace    SIGKILL a node for good, start a new member through a seed, `replace old new`
//   join       a new member joins through a seed
//   leave      a member leaves (POST /v1/admin/leave) and exits
//
// Disk-losing faults (wipe, restore, replace) wait until every member reports its replicas current
// (GET /v1/cluster recovery), so no more than one disk is lost at a time, as the guarantees assume.
//
// Clients: each set key holds a 2P-set, {"adds": [...], "removes": [...]} (an element is present
// when added and never removed), updated by read-merge-write: read (r=2, siblings merged by union),
// add or remove one element, write with the read's causal context (w=2). Other keys are written
// once and later deleted (with the context of a read). Afterwards the nemesis heals everything,
// every member repairs (anti-entropy), and the checker reads every key (r=3):
//
//   lost         an acknowledged add (never removed) that is absent, or an acknowledged write of a
//                key never deleted that is gone
//   resurrected  an acknowledged removal whose element is present, or an acknowledged delete whose
//                key holds a value
//
// It prints operations, acknowledged, faults injected (by kind), lost and resurrected, and fails on
// any lost or resurrected. STRESS_SEED fixes the seed (printed on every run: the nemesis schedule
// and the clients' choices follow it; timing does not, so a failing seed is re-run to reproduce);
// STRESS_SECONDS bounds the nemesis phase (default 180); STRESS_TOMBSTONE_GRACE_MS sets the grace
// (default 10 s). Runs only under STRESS=1.
import { cp, rm } from 'node:fs/promises'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { FAULTS_PATH } from '../../gateway/src/internode/fault-injection.js'
import { joiningNode, reconfigure, viewOf } from '../cluster/helpers/membership.js'
import { TestCluster, type ClusterNode } from '../cluster/helpers/test-cluster.js'
import { sleep } from '../support/process.js'
import { seededRandom as prng } from '../support/random.mjs'

const SECONDS = Number(process.env.STRESS_SECONDS ?? 180)
const SEED = Number(process.env.STRESS_SEED ?? Math.floor(Math.random() * 2 ** 31))
/** STRESS_TOMBSTONE_GRACE_MS: the nodes' tombstone grace (short, so reaping happens during the run). */
const GRACE_MS = Number(process.env.STRESS_TOMBSTONE_GRACE_MS ?? 10_000)
const CLIENTS = 6
const SET_KEYS = 8
/** A node may take this long to start on a machine shared with other runs. */
const START_TIMEOUT_MS = 90_000
/** Every client request gives up after this (a paused node answers nothing). */
const REQUEST_TIMEOUT_MS = 8_000

let cluster: TestCluster
const extra: ClusterNode[] = []

beforeAll(async () => {
  cluster = await TestCluster.start({
    size: 5,
    replicas: 3,
    defaults: { r: 2, w: 2, timeoutMs: 3_000 },
    startTimeoutMs: START_TIMEOUT_MS,
    settings: {
      enableFaultInjection: true,
      gossipIntervalMs: 500,
      antiEntropyIntervalMs: 1_000,
      partitions: 64,
      tombstoneGraceMs: GRACE_MS,
      reapIntervalMs: 2_000
    }
  })
}, 120_000)
afterAll(async () => {
  await Promise.all(extra.map(async (n) => await n.stop()))
  await cluster?.close()
})

interface SetState { adds: string[], removes: string[] }

interface ElementRecord { set: string, added: boolean, removeTried: boolean, removed: boolean }
interface KeyRecord { written: boolean, deleteTried: boolean, deleted: boolean }

class Checker {
  readonly elements = new Map<string, ElementRecord>()
  readonly keys = new Map<string, KeyRecord>()
  operations = 0
  acknowledged = 0
  readonly failures: Record<string, number> = {}

  fail (cause: string): void { this.failures[cause] = (this.failures[cause] ?? 0) + 1 }
}

async function request (url: string, init: RequestInit = {}): Promise<Response | undefined> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })
  } catch {
    return undefined
  }
}

/** Read a set key: the union of its siblings and the context to write back with; undefined when the read failed. */
async function readSet (node: ClusterNode, key: string, query: string): Promise<{ state: SetState, context?: string } | undefined> {
  const res = await request(`${node.url}/v1/kv/${key}?${query}`, { headers: { Accept: 'application/json' } })
  if (res === undefined) return undefined
  if (res.status === 404) { await res.body?.cancel(); return { state: { adds: [], removes: [] }, context: res.headers.get('x-causal-context') ?? undefined } }
  if (res.status !== 200 && res.status !== 300) { await res.body?.cancel(); return undefined }
  const body = await res.json() as { context: string, siblings: Array<{ value: string }> }
  const adds = new Set<string>()
  const removes = new Set<string>()
  for (const s of body.siblings) {
    const v = JSON.parse(Buffer.from(s.value, 'base64').toString('utf8')) as SetState
    for (const e of v.adds) adds.add(e)
    for (const e of v.removes) removes.add(e)
  }
  return { state: { adds: [...adds], removes: [...removes] }, context: body.context }
}

async function writeSet (node: ClusterNode, key: string, state: SetState, context: string | undefined): Promise<number | undefined> {
  const res = await request(`${node.url}/v1/kv/${key}?w=2`, {
    method: 'PUT', body: JSON.stringify(state), headers: { 'Content-Type': 'application/json', ...(context === undefined ? {} : { 'X-Causal-Context': context }) }
  })
  await res?.body?.cancel()
  return res?.status
}

async function client (id: number, random: () => number, members: () => ClusterNode[], checker: Checker, running: () => boolean): Promise<void> {
  let next = 0
  const pendingDeletes: string[] = []
  while (running()) {
    const nodes = members()
    const node = nodes[Math.floor(random() * nodes.length)]
    if (node === undefined) { await sleep(100); continue }
    const dice = random()
    checker.operations++
    if (dice < 0.65) {
      const set = `set-${Math.floor(random() * SET_KEYS)}`
      const element = `e${id}-${next++}`
      const record: ElementRecord = { set, added: false, removeTried: false, removed: false }
      checker.elements.set(element, record)
      const read = await readSet(node, set, 'r=2')
      if (read === undefined) { checker.fail('add: read failed'); continue }
      const status = await writeSet(node, set, { adds: [...read.state.adds, element], removes: read.state.removes }, read.context)
      if (status === 204) { record.added = true; checker.acknowledged++ } else checker.fail(`add: ${status ?? 'no answer'}`)
    } else if (dice < 0.8) {
      const candidates = [...checker.elements].filter(([e, r]) => r.added && !r.removeTried && e.startsWith(`e${id}-`))
      if (candidates.length === 0) continue
      const [element, record] = candidates[Math.floor(random() * candidates.length)]!
      record.removeTried = true
      const read = await readSet(node, record.set, 'r=2')
      if (read === undefined) { checker.fail('remove: read failed'); continue }
      const status = await writeSet(node, record.set, { adds: read.state.adds, removes: [...read.state.removes, element] }, read.context)
      if (status === 204) { record.removed = true; checker.acknowledged++ } else checker.fail(`remove: ${status ?? 'no answer'}`)
    } else if (dice < 0.92 || pendingDeletes.length === 0) {
      const key = `key-${id}-${next++}`
      const record: KeyRecord = { written: false, deleteTried: false, deleted: false }
      checker.keys.set(key, record)
      const res = await request(`${node.url}/v1/kv/${key}?w=2`, { method: 'PUT', body: `v-${key}`, headers: { 'Content-Type': 'text/plain' } })
      await res?.body?.cancel()
      if (res?.status === 204) { record.written = true; checker.acknowledged++; pendingDeletes.push(key) } else checker.fail(`write: ${res?.status ?? 'no answer'}`)
    } else {
      const key = pendingDeletes.splice(Math.floor(random() * pendingDeletes.length), 1)[0]!
      const record = checker.keys.get(key)!
      const read = await request(`${node.url}/v1/kv/${key}?r=2`)
      await read?.body?.cancel()
      const context = read?.headers.get('x-causal-context')
      if (read?.status !== 200 || context == null) { checker.fail(`delete: read ${read?.status ?? 'no answer'}`); pendingDeletes.push(key); continue }
      record.deleteTried = true
      const res = await request(`${node.url}/v1/kv/${key}?w=2`, { method: 'DELETE', headers: { 'X-Causal-Context': context } })
      await res?.body?.cancel()
      if (res?.status === 204) { record.deleted = true; checker.acknowledged++ } else checker.fail(`delete: ${res?.status ?? 'no answer'}`)
    }
  }
}

/** Cut every internode link between the two groups (fault injection on each side); [] heals. */
async function split (all: readonly ClusterNode[], groups: ReadonlyArray<readonly ClusterNode[]>): Promise<void> {
  await Promise.all(all.filter((n) => n.running).map(async (node) => {
    const mine = groups.find((g) => g.includes(node)) ?? []
    const blocked = groups.length === 0 ? [] : all.filter((n) => !mine.includes(n)).map((n) => n.id)
    const res = await cluster.internodeFetch(node, FAULTS_PATH, { method: 'PUT', body: JSON.stringify({ blocked }) }).catch(() => undefined)
    await res?.body?.cancel()
  }))
}

/** True when every running member says its replicas are current and sees one ring with no move pending. */
async function calm (nodes: readonly ClusterNode[]): Promise<boolean> {
  try {
    const views = await Promise.all(nodes.map(async (n) => await (await fetch(`${n.url}/v1/cluster`, { signal: AbortSignal.timeout(3_000) })).json() as
      { recovery?: { state: string }, ring: { digest?: string, pending?: unknown } }))
    return new Set(views.map((v) => v.ring.digest)).size === 1 && views.every((v) => v.ring.pending === undefined && v.recovery?.state === 'current')
  } catch {
    return false
  }
}

/**
 * Start a node; on a loaded machine it may take longer than the harness waits, and the process
 * keeps starting: the run goes on (clients use it once it answers) and says so.
 */
/** Starts refused because the directory went back in time further than the grace (restored, or crashed and down that long). */
let staleStartsRefused = 0

async function start (node: ClusterNode): Promise<void> {
  node.startTimeoutMs = START_TIMEOUT_MS
  try {
    await node.start()
  } catch (err) {
    if (!node.running && /longer than the tombstone grace/.test(node.stderr)) {
      // As an operator is told to: the node starts on an empty directory and rebuilds from its peers.
      staleStartsRefused++
      await rm(node.dataDir, { recursive: true, force: true })
      await start(node)
      return
    }
    console.log(`jepsen-set: ${(err as Error).message.split('\n')[0]!}; going on (running: ${String(node.running)})`)
  }
}

async function until (what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(500)
  }
  console.log(`jepsen-set: gave up waiting (${timeoutMs} ms) for: ${what}`)
  return false
}

test(`set-add and delete under a seeded nemesis (seed ${SEED}, ${SECONDS} s): nothing acknowledged lost, nothing deleted back`, async () => {
  const random = prng(SEED)
  const members: ClusterNode[] = [...cluster.nodes]
  const gone = new Set<ClusterNode>() // removed or left: never started again
  const paused = new Set<ClusterNode>()
  const snapshots = new Map<string, string>()
  const faults: Record<string, number> = {}
  const live = (): ClusterNode[] => members.filter((n) => n.running && !gone.has(n) && !paused.has(n))
  const checker = new Checker()
  let running = true
  const clients = Array.from({ length: CLIENTS }, async (_, i) => { await client(i, prng(SEED + 1 + i), live, checker, () => running) })
  let spares = 6
  let joined = false
  let left = false
  let replaced = false

  const started = Date.now()
  while (Date.now() - started < SECONDS * 1000) {
    await sleep(1_000 + random() * 2_000)
    const active = members.filter((n) => !gone.has(n))
    const dice = random()
    const victim = active[Math.floor(random() * active.length)]!
    if (dice < 0.22) {
      const shuffled = [...active].sort(() => random() - 0.5)
      const cut = 1 + Math.floor(random() * (shuffled.length - 1))
      await split(active, [shuffled.slice(0, cut), shuffled.slice(cut)])
      faults.partition = (faults.partition ?? 0) + 1
      await sleep(2_000 + random() * 6_000)
      await split(active, [])
    } else if (dice < 0.4) {
      await victim.stop('SIGKILL')
      if (random() < 0.5) { await rm(`${victim.dataDir}.snapshot`, { recursive: true, force: true }); await cp(victim.dataDir, `${victim.dataDir}.snapshot`, { recursive: true }); snapshots.set(victim.id, `${victim.dataDir}.snapshot`) }
      faults.kill = (faults.kill ?? 0) + 1
      await sleep(1_000 + random() * 5_000)
      await start(victim)
    } else if (dice < 0.52) {
      victim.pause()
      paused.add(victim)
      faults.pause = (faults.pause ?? 0) + 1
      await sleep(1_000 + random() * 4_000)
      victim.resume()
      paused.delete(victim)
    } else if (dice < 0.6) {
      await victim.stop()
      await reconfigure(cluster, victim, { clockOffsetMs: Math.round((random() - 0.5) * 16_000) })
      faults.skew = (faults.skew ?? 0) + 1
      await start(victim)
    } else if (dice < 0.68) {
      if (!await until('replicas current before a wipe', async () => await calm(active), 60_000)) continue
      await victim.stop('SIGKILL')
      await rm(victim.dataDir, { recursive: true, force: true })
      faults.wipe = (faults.wipe ?? 0) + 1
      await sleep(1_000 + random() * 3_000)
      await start(victim)
    } else if (dice < 0.77) {
      // Restore a node that has a copy (taken at one of its kills).
      const restorable = active.filter((n) => snapshots.has(n.id))
      if (restorable.length === 0) continue
      const victim = restorable[Math.floor(random() * restorable.length)]!
      const snapshot = snapshots.get(victim.id)!
      if (!await until('replicas current before a restore', async () => await calm(active), 60_000)) continue
      await victim.stop('SIGKILL')
      await rm(victim.dataDir, { recursive: true, force: true })
      await cp(snapshot, victim.dataDir, { recursive: true })
      snapshots.delete(victim.id)
      faults.restore = (faults.restore ?? 0) + 1
      await start(victim)
    } else if (dice < 0.84 && !joined) {
      const node = await joiningNode(cluster, `node${spares++}`, [active[0]!])
      extra.push(node)
      await start(node)
      members.push(node)
      joined = true
      faults.join = (faults.join ?? 0) + 1
      await until('the join settled', async () => await calm(members.filter((n) => !gone.has(n))), 120_000)
    } else if (dice < 0.91 && !left && active.length > 4) {
      const res = await request(`${victim.url}/v1/admin/leave`, { method: 'POST' })
      await res?.body?.cancel()
      if (res?.status !== 202) continue
      gone.add(victim)
      left = true
      faults.leave = (faults.leave ?? 0) + 1
      await until(`${victim.id} left`, async () => !victim.running, 180_000)
    } else if (!replaced && active.length > 3) {
      if (!await until('replicas current before a replace', async () => await calm(active), 60_000)) continue
      await victim.stop('SIGKILL')
      gone.add(victim)
      const node = await joiningNode(cluster, `node${spares++}`, [active.find((n) => n !== victim)!])
      extra.push(node)
      await start(node)
      members.push(node)
      const asked = active.find((n) => n !== victim)!
      const ok = await until('the replacement is known and the old member down', async () => {
        const view = await viewOf(asked).catch(() => undefined)
        return view?.peers.find((p) => p.id === node.id)?.status === 'up' && view.peers.find((p) => p.id === victim.id)?.status === 'down'
      }, 30_000)
      if (ok) {
        const res = await request(`${asked.url}/v1/admin/replace`, { method: 'POST', body: JSON.stringify({ old: victim.id, new: node.id }), headers: { 'Content-Type': 'application/json' } })
        if (res?.status !== 202) console.log(`jepsen-set: replace answered ${res?.status ?? 'nothing'}: ${await res?.text()}`)
      }
      replaced = true
      faults.replace = (faults.replace ?? 0) + 1
      await until('the replace settled', async () => await calm(members.filter((n) => !gone.has(n))), 120_000)
    }
  }

  // Heal: no cut, nothing paused, everything running; then stop the clients and let the cluster converge.
  const survivors = members.filter((n) => !gone.has(n))
  for (const n of paused) n.resume()
  for (const n of survivors) if (!n.running) await start(n)
  await split(survivors, [])
  running = false
  await Promise.all(clients)
  await until('one ring, nothing pending, every replica current', async () => await calm(survivors), 180_000)
  await until('hints drained', async () => (await Promise.all(survivors.map(viewOf))).every((v) => v.hints.pending === 0), 120_000)
  for (let round = 0; round < 2; round++) {
    for (const n of survivors) {
      const res = await request(`${n.url}/v1/admin/repair`, { method: 'POST' })
      await res?.body?.cancel()
    }
  }

  // Check.
  const reader = survivors[0]!
  const finalSets = new Map<string, SetState>()
  for (let s = 0; s < SET_KEYS; s++) {
    const read = await readSet(reader, `set-${s}`, 'r=3')
    if (read === undefined) throw new Error(`final read of set-${s} failed`)
    finalSets.set(`set-${s}`, read.state)
  }
  const lost: string[] = []
  const resurrected: string[] = []
  for (const [element, r] of checker.elements) {
    const state = finalSets.get(r.set)!
    const present = state.adds.includes(element) && !state.removes.includes(element)
    if (r.added && !r.removeTried && !present) lost.push(`${element} (${r.set})`)
    if (r.removed && present) resurrected.push(`${element} (${r.set})`)
  }
  for (const [key, r] of checker.keys) {
    if (!r.written) continue
    const res = await request(`${reader.url}/v1/kv/${key}?r=3`)
    const status = res?.status
    await res?.body?.cancel()
    if (status === undefined || (status !== 200 && status !== 404)) throw new Error(`final read of ${key}: ${status ?? 'no answer'}`)
    if (r.deleted && status === 200) resurrected.push(key)
    if (!r.deleteTried && status === 404) lost.push(key)
  }
  console.log(`jepsen-set seed ${SEED}, ${SECONDS} s, grace ${GRACE_MS} ms: operations ${checker.operations}, acknowledged ${checker.acknowledged}, ` +
    `faults injected ${JSON.stringify(faults)}, starts refused as stale (then empty) ${staleStartsRefused}, lost ${lost.length}, resurrected ${resurrected.length}; ` +
    `unacknowledged ${JSON.stringify(checker.failures)}` +
    (lost.length + resurrected.length > 0 ? `\n  lost: ${lost.slice(0, 20).join(', ')}\n  resurrected: ${resurrected.slice(0, 20).join(', ')}` : ''))
  expect({ lost: lost.length, resurrected: resurrected.length }).toEqual({ lost: 0, resurrected: 0 })
}, (SECONDS + 900) * 1000)
