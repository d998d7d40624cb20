// Helpers of the gossip, failure-detection, hinted-handoff and join/leave tests: views
// of /v1/cluster, the ring a node routes by, extra nodes that join through seeds, and a write load
// that records every acknowledged write.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Ring } from '../../../gateway/src/ring/ring.js'
import { ringStateFromJSON, type RingState, type RingStateJSON } from '../../../gateway/src/ring/ring-state.js'
import { RING_PATH } from '../../../gateway/src/membership/gossip-protocol.js'
import { liveSiblings } from '../../../gateway/src/replica/stored-object.js'
import { putText } from './http.js'
import { freePorts, sleep } from '../../support/process.js'
import { ClusterNode, type TestCluster } from './test-cluster.js'

/** A member as GET /v1/cluster shows it. */
export interface PeerView {
  id: string
  address: string
  status: string
  memberStatus: string
  alive: boolean
  phi: number
  heartbeat: number
  generation: number
  lastSeen?: string
}

/** GET /v1/cluster of a gossip member (the parts these tests read). */
export interface MembershipView {
  node: { id: string, address: string, status: string }
  peers: PeerView[]
  ring: { partitions: number, replicas: number, owners: Array<{ id: string, partitions: number }>, digest?: string, epoch?: number, pending?: { waitingFor: string[] } }
  hints: { pending: number, delivered: number, owners: Array<{ id: string, pending: number }> }
  gossip: { generation: number, heartbeat: number, synced: boolean, claimant: boolean }
  transfers: { streamed: number, dropped: number }
}

export async function viewOf (node: ClusterNode): Promise<MembershipView> {
  const res = await fetch(`${node.url}/v1/cluster`, { signal: AbortSignal.timeout(5_000) })
  if (res.status !== 200) throw new Error(`GET /v1/cluster at ${node.id}: ${res.status} ${await res.text()}`)
  return await res.json() as MembershipView
}

/** True when every view shows one ring (same digest), no move pending, and exactly `owners` owning partitions. */
export function settledOn (views: readonly MembershipView[], owners: readonly string[]): boolean {
  const digests = new Set(views.map((v) => v.ring.digest))
  return digests.size === 1 && views.every((v) => v.ring.pending === undefined &&
    v.ring.owners.filter((o) => o.partitions > 0).map((o) => o.id).sort().join() === [...owners].sort().join())
}

/** How `observer` rates `peer` now: its `status` in the observer's view ('missing' when not listed). */
export async function statusSeenBy (observer: ClusterNode, peer: string): Promise<string> {
  return (await viewOf(observer)).peers.find((p) => p.id === peer)?.status ?? 'missing'
}

/** The ring state `node` routes by (the internode ring endpoint, signed with the cluster secret). */
export async function ringStateOf (cluster: TestCluster, node: ClusterNode): Promise<RingState> {
  const res = await cluster.internodeFetch(node, RING_PATH)
  if (res.status !== 200) throw new Error(`ring of ${node.id}: ${res.status} ${await res.text()}`)
  return ringStateFromJSON(await res.json() as RingStateJSON)
}

/** The key's replicas (preference list) in `ring`. */
export function replicasOf (ring: Ring, key: string, n: number): string[] {
  return ring.preferenceList(ring.partitionOf(key), n)
}

/**
 * A node started after the cluster, joining through `seeds` (no --peers): its own config file and
 * data directory inside the cluster's directory, the cluster's secret.
 */
export async function joiningNode (cluster: TestCluster, id: string, seeds: readonly ClusterNode[], settings: Record<string, unknown> = {}): Promise<ClusterNode> {
  const [port] = await freePorts(1)
  const address = `127.0.0.1:${port!}`
  const model = JSON.parse(await readFile(join(cluster.dir, `${cluster.nodes[0]!.id}.json`), 'utf8')) as Record<string, unknown>
  const config = { ...model, nodeId: id, listen: address, dataDir: join(cluster.dir, id), peers: [], seeds: seeds.map((s) => s.address), ...settings }
  const file = join(cluster.dir, `${id}.json`)
  await writeFile(file, JSON.stringify(config))
  return new ClusterNode(id, address, config.dataDir as string, file)
}

/** Change settings in a node's config file (takes effect at its next start). */
export async function reconfigure (cluster: TestCluster, node: ClusterNode, settings: Record<string, unknown>): Promise<void> {
  const file = join(cluster.dir, `${node.id}.json`)
  const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  await writeFile(file, JSON.stringify({ ...config, ...settings }))
}

/** What a write load did, Jepsen-style. */
export interface LoadReport {
  attempted: number
  acknowledged: number
  failed: number
  /** Failures by cause: HTTP status and problem type, or the connection error. */
  causes: Record<string, number>
}

/**
 * Writers that each PUT fresh keys (`prefix-writer-i`, value `v-<key>`) through a node picked at
 * random from `targets()` (re-read per write, so a test can take nodes out), w=2, and record every
 * acknowledged key. Runs until stop(); bounded per request by the node's deadline.
 */
export class WriteLoad {
  readonly acknowledged = new Map<string, string>()
  readonly #targets: () => readonly ClusterNode[]
  readonly #prefix: string
  #attempted = 0
  #failed = 0
  readonly #causes: Record<string, number> = {}
  #running = true
  readonly #done: Promise<void>

  constructor (targets: () => readonly ClusterNode[], options: { writers: number, prefix: string, query?: string }) {
    this.#targets = targets
    this.#prefix = options.prefix
    this.#done = Promise.all(Array.from({ length: options.writers }, async (_, w) => { await this.#writer(w, options.query ?? 'w=2') })).then(() => {})
  }

  async #writer (w: number, query: string): Promise<void> {
    for (let i = 0; this.#running; i++) {
      const nodes = this.#targets()
      const node = nodes[Math.floor(Math.random() * nodes.length)]!
      const key = `${this.#prefix}-${w}-${i}`
      this.#attempted++
      try {
        const res = await putText(node.url, key, `v-${key}`, query)
        const body = await res.text()
        if (res.status === 204) this.acknowledged.set(key, `v-${key}`)
        else this.#fail(`${res.status} ${(/"type":"([^"]+)"/.exec(body)?.[1] ?? '').replace('urn:levelring:problem:', '')}`)
      } catch (err) {
        this.#fail(`no answer (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`) // the node went away mid-request: not acknowledged
        await sleep(20)
      }
    }
  }

  #fail (cause: string): void {
    this.#failed++
    this.#causes[cause] = (this.#causes[cause] ?? 0) + 1
  }

  /** Stop writing; resolves with the counts once every writer returned. */
  async stop (): Promise<LoadReport> {
    this.#running = false
    await this.#done
    return { attempted: this.#attempted, acknowledged: this.acknowledged.size, failed: this.#failed, causes: this.#causes }
  }
}

/** The live values a replica holds for `key`, as text, sorted ([] when it holds nothing). */
export async function heldValues (cluster: TestCluster, node: ClusterNode, key: string): Promise<string[]> {
  const held = await cluster.replicaRead(node, key)
  return held === undefined ? [] : liveSiblings(held).map((s) => Buffer.from(s.value.value).toString()).sort()
}

/** Run `fn` over items, `concurrency` at a time. */
export async function forEachLimited<T> (items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await fn(items[next++]!)
  }))
}
