import { copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes, randomFillSync } from 'node:crypto'
import { cpus, totalmem, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Pool, request } from 'undici'
import { Progress, progressWanted } from '../cli-kit/progress.js'
import { partitionOf } from '../../../gateway/src/ring/partition.js'
import { Ring } from '../../../gateway/src/ring/ring.js'
import { directoryBytes, readCpuSeconds, readResidentBreakdown, readResidentBytes, type ResidentBreakdown } from './process-stats.js'
import { freePorts, ServerProcesses } from './server-processes.js'
import { assertFreeSpace, dropKeys, seedReplicas, type SeedReport } from './scale-seed.js'
import { withLaunchSettings } from '../../../gateway/src/node/process-memory.js'

// `npm run bench:scale`: what a node's memory and start-up cost as its key count grows. Three nodes
// on loopback (n=3, so every node holds every key) are loaded with N keys through the REST API with
// many requests in flight; each node's RSS is sampled from /proc all along (figures at N/2, at N and
// the peak), then: data on disk, a restart (until it serves reads, until its first anti-entropy round
// compared partitions with its peers), a repair round that finds nothing (time, internode requests
// and bytes, from the node's own report and metrics) and a wiped replica's full repair (time, bytes on
// the wire against its data) and a fourth node joining (keys and bytes it received against its share
// of the keys, and per source the partitions it read against those it gave up). The last stdout line is a JSON summary. `--keys`, `--value-size`,
// `--concurrency`, `--large` (10M keys of 1 KiB), `--no-join` (skip the join), `--bin` (another build's bin/levelring.js, for a
// before/after on the same machine), `--heap-snapshots DIR` (node1's heap, empty and loaded, for
// `node dist/tools/src/bench/heap-diff.js`: what grows with keys); arguments after `--` go to every node (`-- --block-cache-size 8388608`).
// Every node starts with the memory settings the launchers pass (gateway/src/node/process-memory.ts) unless
// `--no-launch-settings`; `--node-env ID:NAME=VALUE` changes one node's environment, to compare settings
// side by side under one load (each node's memory broken down at its peak, and the CPU it spent on the load).
// `--seed` (the default with `--large`): all but the last `--rest-keys` keys (1%) are written offline into
// the stopped nodes' directories (scale-seed.ts), the rest through the REST API; `--dir DIR`: where the
// nodes' data go (the OS temp directory by default); `--skip-wiped`: leave out the wiped replica's repair
// (at 10M keys it pulls 10 GiB through anti-entropy, hours on a small machine); `--seed-store DIR`: keep the
// seeded, stopped directories in DIR (tables hard-linked) and, when DIR already holds a seed of the same keys
// and value size, start from copies of it instead of seeding again (same ports and cluster secret, since the
// nodes' metadata names them), so two builds can be compared on one seed. With or without seeding, a phase with 100 keys
// missing on one replica measures what a repair of a small difference costs.

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..', '..')
/** How often every node's RSS is read. */
const SAMPLE_MS = 200
/** How often, during the load, every node's memory is broken down (smaps and /metrics: heavier than reading RSS). */
const BREAKDOWN_MS = 5_000
/** How long a phase waiting on a node (serving, first round, a repair) may take before the run fails (an hour at 10M keys on a shared machine). */
const PHASE_TIMEOUT_MS = (process.argv.includes('--large') ? 60 : 15) * 60_000
/**
 * The targets, the reference each figure is printed beside: peak RSS per node during the load
 * (300 MiB at 1M keys of 100 B, 512 MiB at 10M keys of 1 KiB: the `--large` budget when values are 1 KiB
 * or more), RSS at N over RSS at N/2, restart to serving and to the first repair round, a repair that
 * finds nothing (share of the data on the wire), a wiped replica's repair (wire bytes over its data) and
 * a join (keys the joiner received over its share; partition walks the sources began per partition sent).
 */
const TARGETS = {
  peakRssBytes: (valueBytes: number): number => (valueBytes >= 1024 ? 512 : 300) * 1024 * 1024,
  fullOverHalf: 1.15,
  servingMs: 3_000,
  firstRoundMs: 30_000,
  quietRepairMs: 30_000,
  quietWireOverData: 0.001,
  wipedWireOverData: 1.1,
  joinReceivedOverShare: 1,
  joinReadsPerPartition: 1
} as const

/** Attempts per PUT: a write refused under overload is retried, and counted as failed only after these. */
const PUT_ATTEMPTS = 5

const { values: flags, positionals: nodeArgs } = parseArgs({
  allowPositionals: true,
  options: {
    keys: { type: 'string' },
    'value-size': { type: 'string' },
    concurrency: { type: 'string', default: '48' },
    large: { type: 'boolean', default: false },
    bin: { type: 'string', default: join(root, 'bin', 'levelring.js') },
    'heap-snapshots': { type: 'string' },
    'no-join': { type: 'boolean', default: false },
    'no-launch-settings': { type: 'boolean', default: false },
    'node-env': { type: 'string', multiple: true, default: [] },
    seed: { type: 'boolean' },
    'skip-wiped': { type: 'boolean', default: false },
    'rest-keys': { type: 'string' },
    dir: { type: 'string', default: tmpdir() },
    'seed-store': { type: 'string' }
  }
})
const KEYS = positiveInteger('keys', flags.keys ?? (flags.large ? '10000000' : '1000000'))
const VALUE_BYTES = positiveInteger('value-size', flags['value-size'] ?? (flags.large ? '1024' : '100'))
const CONCURRENCY = positiveInteger('concurrency', flags.concurrency!)
const bin = flags.bin!
/** `--heap-snapshots DIR`: V8 heap snapshots of node1 there, empty and at N keys (compare them with heap-diff.js). */
const heapDir = flags['heap-snapshots']
/** `--no-join`: skip the last phase (a fourth node joining the loaded cluster). */
const JOIN = !flags['no-join']!
/** The nodes' environment: with the memory settings every launcher passes (node/process-memory.ts) unless `--no-launch-settings`. */
const NODE_ENV = flags['no-launch-settings'] === true ? process.env : withLaunchSettings(process.env)
/**
 * `--node-env ID:NAME=VALUE` (repeatable): one node's environment differs (an empty VALUE unsets NAME), so
 * settings are compared side by side under the very same load (`--node-env node1:LEVELRING_HEAP_GROWING_PERCENT=0`).
 */
const NODE_ENV_CHANGES = new Map<string, Array<[string, string]>>()
for (const change of flags['node-env']!) {
  const match = /^([^:]+):([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(change)
  if (match === null) throw new Error(`--node-env takes ID:NAME=VALUE (node1:MALLOC_ARENA_MAX=2), not ${change}`)
  NODE_ENV_CHANGES.set(match[1]!, [...(NODE_ENV_CHANGES.get(match[1]!) ?? []), [match[2]!, match[3]!]])
}

/** The environment node `id` starts with. */
function envOf (id: string): NodeJS.ProcessEnv {
  const env = { ...NODE_ENV }
  for (const [name, value] of NODE_ENV_CHANGES.get(id) ?? []) {
    if (value === '') delete env[name]
    else env[name] = value
  }
  return env
}
/** Keys written offline before the nodes serve (0 without seeding); the rest go through the REST API. */
const SEEDED = (flags.seed ?? flags.large) === true
  ? Math.max(0, KEYS - positiveInteger('rest-keys', flags['rest-keys'] ?? String(Math.max(1, Math.ceil(KEYS / 100)))))
  : 0
/** `--seed-store DIR`: where a seed is kept for later runs, or taken from. */
const seedStore = flags['seed-store']

/** What a kept seed records beside the nodes' directories. */
interface StoredSeed { keys: number, valueBytes: number, ports: number[], report: SeedReport }

/** The seed kept in `seedStore` for this run's keys and value size, if there is one. */
function storedSeed (): StoredSeed | undefined {
  if (seedStore === undefined || !existsSync(join(seedStore, 'seed.json'))) return undefined
  const stored = JSON.parse(readFileSync(join(seedStore, 'seed.json'), 'utf8')) as StoredSeed
  if (stored.keys !== SEEDED || stored.valueBytes !== VALUE_BYTES) {
    throw new Error(`${seedStore} holds a seed of ${stored.keys} keys of ${stored.valueBytes} B, not ${SEEDED} of ${VALUE_BYTES} B: pass another --seed-store`)
  }
  return stored
}

/** Copy a stopped node's directory: tables are immutable, so they are hard-linked; the other files are copied. */
function copyDirectory (from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  for (const name of readdirSync(from)) {
    if (name.endsWith('.sst')) linkSync(join(from, name), join(to, name))
    else copyFileSync(join(from, name), join(to, name))
  }
}

/** Keys the difference phase removes from one replica. */
const DIFFERING_KEYS = 100

function positiveInteger (name: string, text: string): number {
  const n = Number(text.replaceAll('_', ''))
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, not ${text}`)
  return n
}

interface NodeHandle {
  readonly id: string
  readonly port: number
  readonly dataDir: string
  readonly args: readonly string[]
  address: string
  pid: number
  peakRss: number
  /** The breakdown with the largest RSS of those taken during the load. */
  peakBreakdown?: MemoryBreakdown
}

/**
 * A node's resident memory by kind (smaps) beside what the node reports in /metrics: its main V8 heap
 * (the engine's worker thread has its own isolate, which only `otherAnonymous` holds), the memory V8
 * counts outside its heap (buffers), and the engine's memtables and block cache (bytes, in those buffers).
 */
interface MemoryBreakdown extends ResidentBreakdown {
  v8HeapTotal: number
  v8HeapUsed: number
  v8NewSpace: number
  v8OldSpace: number
  external: number
  memtables: number
  blockCache: number
}

const dir = mkdtempSync(join(flags.dir!, 'levelring-bench-scale-'))
const servers = new ServerProcesses()
const MiB = 1024 * 1024

/** The key of the i-th loaded object: fixed width, so every key costs the same. */
const keyOf = (i: number): string => `k${String(i).padStart(10, '0')}`

/** Start (or restart) a node with its fixed arguments; the time from spawn to its listening line. */
async function launch (node: NodeHandle): Promise<number> {
  const started = performance.now()
  node.address = await servers.start(node.args, envOf(node.id))
  node.pid = servers.pid(node.address)!
  return performance.now() - started
}

function sampleRss (nodes: readonly NodeHandle[]): void {
  for (const n of nodes) {
    const rss = readResidentBytes(n.pid)
    if (rss !== null && rss > n.peakRss) n.peakRss = rss
  }
}

const rssOf = (nodes: readonly NodeHandle[]): number[] => nodes.map((n) => readResidentBytes(n.pid) ?? 0)

async function getJson (address: string, path: string, method: 'GET' | 'POST' = 'GET'): Promise<any> {
  const res = await request(`http://${address}${path}`, { method, headersTimeout: PHASE_TIMEOUT_MS, bodyTimeout: PHASE_TIMEOUT_MS })
  const text = await res.body.text()
  if (res.statusCode !== 200) throw new Error(`${method} ${path} on ${address}: ${res.statusCode} ${text}`)
  return JSON.parse(text)
}

/** Sum of a Prometheus counter's series whose labels match `filter`, from GET /metrics. */
async function counterSum (address: string, name: string, filter: (labels: string) => boolean = () => true): Promise<number> {
  const res = await request(`http://${address}/metrics`)
  const text = await res.body.text()
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const match = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line)
    if (match === null || match[1] !== name || !filter(match[2] ?? '')) continue
    total += Number(match[3])
  }
  return total
}

/** Every sample of GET /metrics, keyed by its name and labels as printed (`name{label="v"}`). */
async function metricSamples (address: string): Promise<Map<string, number>> {
  const res = await request(`http://${address}/metrics`)
  const samples = new Map<string, number>()
  for (const line of (await res.body.text()).split('\n')) {
    const match = /^([a-z_]+(?:\{[^}]*\})?) ([0-9.e+-]+)$/.exec(line)
    // Without the node label every series of a node carries: `nodejs_heap_space_size_total_bytes{space="new"}`.
    if (match !== null) samples.set(match[1]!.replace(/node="[^"]*",?/, '').replace(',}', '}').replace('{}', ''), Number(match[2]))
  }
  return samples
}

/** `node`'s memory now, or undefined when it cannot be read (the process gone, /metrics not answering). */
async function memoryBreakdown (node: NodeHandle): Promise<MemoryBreakdown | undefined> {
  try {
    const m = await metricSamples(node.address)
    const resident = readResidentBreakdown(node.pid)
    if (resident === null) return undefined
    return {
      ...resident,
      v8HeapTotal: m.get('nodejs_heap_size_total_bytes') ?? 0,
      v8HeapUsed: m.get('nodejs_heap_size_used_bytes') ?? 0,
      v8NewSpace: m.get('nodejs_heap_space_size_total_bytes{space="new"}') ?? 0,
      v8OldSpace: m.get('nodejs_heap_space_size_total_bytes{space="old"}') ?? 0,
      external: m.get('nodejs_external_memory_bytes') ?? 0,
      memtables: m.get('levelring_engine_memtable_bytes') ?? 0,
      blockCache: m.get('levelring_engine_block_cache_bytes') ?? 0
    }
  } catch {
    return undefined
  }
}

/** Break every node's memory down, keeping per node the breakdown with the largest RSS. */
async function sampleBreakdowns (nodes: readonly NodeHandle[]): Promise<void> {
  for (const n of nodes) {
    const b = await memoryBreakdown(n)
    if (b !== undefined && b.rss > (n.peakBreakdown?.rss ?? 0)) n.peakBreakdown = b
  }
}

/** Anti-entropy internode calls (roots, segments, keys...) a node has made so far. */
const antiEntropyCalls = (address: string): Promise<number> =>
  counterSum(address, 'levelring_internode_calls_total', (labels) => labels.includes('endpoint="anti-entropy'))

/** Poll `check` until it returns true; fails after PHASE_TIMEOUT_MS. */
async function until (what: string, check: () => Promise<boolean>, everyMs = 100): Promise<void> {
  const deadline = Date.now() + PHASE_TIMEOUT_MS
  for (;;) {
    try { if (await check()) return } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Have `node` write a heap snapshot into heapDir (SIGUSR2) and wait until it has: the file is there and the node answers again. */
async function heapSnapshot (node: NodeHandle): Promise<void> {
  const count = (): number => readdirSync(heapDir!).filter((f) => f.endsWith('.heapsnapshot')).length
  const before = count()
  process.kill(node.pid, 'SIGUSR2')
  await until('a heap snapshot', async () => {
    if (count() <= before) return false
    const res = await request(`http://${node.address}/v1/health`)
    await res.body.dump()
    return res.statusCode === 200
  }, 200)
}

/** PUT keys first..KEYS-1 through all nodes round-robin, CONCURRENCY in flight; RSS is taken at the half. */
async function load (nodes: NodeHandle[], first = 0): Promise<{ seconds: number, failed: number, rssHalf: number[] }> {
  const pools = nodes.map((n) => new Pool(`http://${n.address}`, { connections: Math.ceil(CONCURRENCY / nodes.length), pipelining: 1 }))
  // Values are slices of random bytes, so compression does not flatter the figures on disk.
  const pool = randomFillSync(Buffer.alloc(4 * MiB))
  const bar = Progress.start(progressWanted({}), `loading ${KEYS - first} keys`, KEYS - first)
  const half = Math.floor((KEYS - first) / 2)
  let rssHalf: number[] = []
  let next = first
  let done = 0
  let failed = 0
  const started = performance.now()
  const worker = async (): Promise<void> => {
    for (let i = next++; i < KEYS; i = next++) {
      const offset = (i * 7919) % (pool.length - VALUE_BYTES)
      const body = pool.subarray(offset, offset + VALUE_BYTES)
      let ok = false
      for (let attempt = 0; attempt < PUT_ATTEMPTS && !ok; attempt++) {
        try {
          const res = await pools[(i + attempt) % pools.length]!.request({ method: 'PUT', path: `/v1/kv/${keyOf(i)}`, body, headers: { 'content-type': 'application/octet-stream' } })
          await res.body.dump()
          ok = res.statusCode === 204
        } catch { /* retried */ }
      }
      if (!ok) failed++
      done++
      if (done === half) rssHalf = rssOf(nodes)
      if (done % 256 === 0) bar.set(done)
    }
  }
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  } finally {
    bar.stop()
    await Promise.all(pools.map((p) => p.close()))
  }
  return { seconds: (performance.now() - started) / 1000, failed, rssHalf }
}

/** The anti-entropy part of GET /v1/cluster. */
async function antiEntropyView (address: string): Promise<any> {
  const body = await getJson(address, '/v1/cluster')
  return body.antiEntropy ?? body.cluster?.antiEntropy
}

/** SIGTERM a node, wait until it is gone, optionally wipe its data, start it again; the phases' times. */
async function restart (node: NodeHandle, wipe: boolean): Promise<{ listenMs: number, servingMs: number, servingCpuMs: number }> {
  await servers.stop(node.address)
  if (wipe) rmSync(node.dataDir, { recursive: true, force: true })
  const started = performance.now()
  const listenMs = await launch(node)
  // Serving reads: a GET through this node of a key every replica holds answers 200 (a wiped node's reads are answered by its peers).
  await until('reads', async () => {
    const res = await request(`http://${node.address}/v1/kv/${keyOf(0)}`)
    await res.body.dump()
    return res.statusCode === 200
  }, 20)
  const servingMs = performance.now() - started
  // The CPU the node spent until then (all its threads): on a shared machine the wall time is mostly waiting for a core.
  return { listenMs, servingMs, servingCpuMs: (readCpuSeconds(node.pid) ?? 0) * 1000 }
}

/** Time from a (re)start until this node has finished an anti-entropy round that compared partitions with a peer. */
async function firstRound (node: NodeHandle, since: number): Promise<number> {
  await until('the first anti-entropy round', async () => {
    const view = await antiEntropyView(node.address)
    return view.rounds > 0 && (view.lastExchanges as any[]).some((r) => r.partitionsCompared > 0 && r.error === undefined)
  }, 100)
  return performance.now() - since
}

// --- offline seeding and the difference phase (scale-seed.ts) ---

/** Start the nodes once on empty directories, stop them cleanly, seed keys 0..SEEDED-1 into their directories, start them again. */
async function seedOffline (nodes: NodeHandle[]): Promise<SeedReport> {
  // Each node's anti-entropy has marked its (empty) key hash index complete before it stops.
  for (const n of nodes) await until('anti-entropy ready', async () => (await antiEntropyView(n.address)).trees.state === 'ready')
  for (const n of nodes) await servers.stop(n.address)
  await assertFreeSpace(dir, KEYS, VALUE_BYTES, nodes.length)
  // Random bytes, as the REST load's values, so compression does not flatter the figures on disk.
  const pool = randomFillSync(Buffer.alloc(4 * MiB))
  const valueOf = (i: number): Uint8Array => {
    const offset = (i * 7919) % (pool.length - VALUE_BYTES)
    return pool.subarray(offset, offset + VALUE_BYTES)
  }
  const seeded = await seedReplicas({ dataDirs: nodes.map((n) => n.dataDir), keys: SEEDED, keyOf, valueOf, bar: progressWanted({}) })
  process.stderr.write(`seeded ${SEEDED} keys offline as ${seeded.actor} in ${seeded.writeSeconds.toFixed(0)} s, copied to ${nodes.length - 1} more nodes in ${seeded.copySeconds.toFixed(0)} s\n`)
  if (seedStore !== undefined) {
    for (const n of nodes) copyDirectory(n.dataDir, join(seedStore, n.id))
    copyFileSync(join(dir, 'secret'), join(seedStore, 'secret'))
    const stored: StoredSeed = { keys: SEEDED, valueBytes: VALUE_BYTES, ports: nodes.map((n) => n.port), report: seeded }
    writeFileSync(join(seedStore, 'seed.json'), JSON.stringify(stored))
    progressNote(`seed kept in ${seedStore}`)
  }
  await Promise.all(nodes.map(launch))
  return seeded
}

/** Wait until a node's anti-entropy trees are all indexed and computed (after a start on many keys, they warm in the background). */
async function treesReady (node: NodeHandle): Promise<void> {
  await until(`${node.id}'s anti-entropy trees`, async () => (await antiEntropyView(node.address)).trees.state === 'ready', 500)
}

/** Anti-entropy bytes (sent and received) a node counted since it started. */
const antiEntropyBytes = (address: string): Promise<number> => counterSum(address, 'levelring_anti_entropy_bytes_total')

/**
 * Stop `node`, remove DIFFERING_KEYS keys from its directory, start it, and repair it: the anti-entropy
 * bytes every node counted from the stop until the repair is done (periodic rounds included), and the
 * repair's own report. A second repair then must find nothing.
 */
async function differencePhase (node: NodeHandle, others: readonly NodeHandle[]): Promise<Record<string, number>> {
  const before = (await Promise.all(others.map((n) => antiEntropyBytes(n.address)))).reduce((a, b) => a + b, 0)
  const dropped = Array.from({ length: DIFFERING_KEYS }, (_, j) => keyOf(Math.floor((j + 0.5) * KEYS / DIFFERING_KEYS)))
  await servers.stop(node.address)
  await dropKeys(node.dataDir, dropped)
  const started = performance.now()
  await launch(node)
  await until('reads', async () => {
    const res = await request(`http://${node.address}/v1/kv/${keyOf(0)}`)
    await res.body.dump()
    return res.statusCode === 200
  }, 20)
  // A repair compares only partitions whose trees are ready (the rest are skipped, not wrong): wait for them.
  await treesReady(node)
  const repair = await getJson(node.address, '/v1/admin/repair', 'POST')
  const windowMs = performance.now() - started
  const after = (await Promise.all([node, ...others].map((n) => antiEntropyBytes(n.address)))).reduce((a, b) => a + b, 0)
  const settled = await getJson(node.address, '/v1/admin/repair', 'POST')
  if (settled.keysDiffering !== 0 || settled.comparisons === 0) throw new Error(`after repairing ${DIFFERING_KEYS} missing keys, a second repair on ${node.id} still found ${settled.keysDiffering} differing in ${settled.comparisons} comparisons`)
  const differingBytes = DIFFERING_KEYS * (keyOf(0).length + VALUE_BYTES)
  return {
    keysRemoved: DIFFERING_KEYS,
    windowMs: Math.round(windowMs),
    windowWireBytes: after - before,
    repairDurationMs: repair.durationMs,
    repairKeysPulled: repair.keysPulled,
    repairRequests: repair.requests,
    repairWireBytes: repair.bytesSent + repair.bytesReceived,
    differingBytes,
    windowWireOverDiffering: Number(((after - before) / differingBytes).toFixed(2))
  }
}

/** A phase's figures on stderr as soon as they are known: a long run that fails later still leaves them. */
function progressNote (text: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`)
}

// --- end of offline seeding and the difference phase ---

const mib = (bytes: number): string => (bytes / MiB).toFixed(0)
const seconds = (ms: number): string => (ms / 1000).toFixed(1)

/** GET /v1/ring as a Ring (the production code), `pending` the ring keys are moving to during a join. */
async function ringOf (address: string): Promise<{ current: Ring, pending: Ring | undefined }> {
  const body = await getJson(address, '/v1/ring')
  const ring = (owners: number[]): Ring => Ring.fromJSON({ partitionCount: body.partitions, nodes: body.members, owners })
  return { current: ring(body.owners), pending: body.pending === undefined ? undefined : ring(body.pending.owners) }
}

/** GET /v1/cluster `transfers` (cumulative since the node started). */
async function transfersOf (address: string): Promise<Record<string, number>> {
  return (await getJson(address, '/v1/cluster')).transfers
}

/** What `after` minus `before` counted, field by field. */
const delta = (before: Record<string, number>, after: Record<string, number>): Record<string, number> =>
  Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]))

/**
 * What a join of `joiner` should move, from the rings before and after it and the keys loaded: the
 * partitions the joiner gains (with n replicas each gained partition has exactly one replica that
 * gives it up), their keys, and per old node the partitions it gives up and the keys in them.
 */
function joinShare (before: Ring, after: Ring, joiner: string, replicas: number, keys: number): { partitions: number, keys: number, bySource: Map<string, { partitions: number, keys: number }> } {
  const q = after.partitionCount
  const perPartition = new Uint32Array(q)
  for (let i = 0; i < keys; i++) perPartition[partitionOf(keyOf(i), q)]!++
  const bySource = new Map(before.nodes().map((id) => [id, { partitions: 0, keys: 0 }]))
  let partitions = 0
  let share = 0
  for (let p = 0; p < q; p++) {
    const now = after.preferenceList(p, replicas)
    if (!now.includes(joiner)) continue
    partitions++
    share += perPartition[p]!
    for (const old of before.preferenceList(p, replicas).filter((id) => !now.includes(id))) {
      const s = bySource.get(old)!
      s.partitions++
      s.keys += perPartition[p]!
    }
  }
  return { partitions, keys: share, bySource }
}

/**
 * A fourth node joins the loaded cluster through node1: until the ring has it with nothing pending and
 * it is ready (it streamed what it gains), then until every old node's sweep has dropped the keys of the
 * partitions it gave up. What the joiner received (streamed pages, hand-overs) is compared with its
 * share of the keys, and per source the partition walks it began with the partitions it gave up: each
 * partition a source sends is read once when the two are equal.
 */
async function joinPhase (nodes: readonly NodeHandle[], fourth: NodeHandle): Promise<Record<string, unknown>> {
  const [seed] = nodes as [NodeHandle]
  const { current: before } = await ringOf(seed.address)
  const countersBefore = await Promise.all(nodes.map((n) => transfersOf(n.address)))
  const started = performance.now()
  await launch(fourth)
  const joiner = fourth.id
  let after: Ring | undefined
  await until('the joined ring', async () => {
    const ring = await ringOf(seed.address)
    if (ring.pending !== undefined || !ring.current.nodes().includes(joiner)) return false
    const res = await request(`http://${fourth.address}/v1/ready`)
    await res.body.dump()
    after = ring.current
    return res.statusCode === 200
  }, 200)
  const joinedMs = performance.now() - started
  const share = joinShare(before, after!, joiner, 3, KEYS)
  // Settled: every old node dropped the keys of the partitions it gave up (a sweep retries what it could not hand over).
  await until('the old nodes\' sweeps', async () => {
    const now = await Promise.all(nodes.map((n) => transfersOf(n.address)))
    return nodes.every((n, i) => now[i]!.dropped! - countersBefore[i]!.dropped! >= share.bySource.get(n.id)!.keys)
  }, 500)
  const settledMs = performance.now() - started
  const received = await transfersOf(fourth.address)
  const sources = await Promise.all(nodes.map(async (n, i) => ({ id: n.id, moved: delta(countersBefore[i]!, await transfersOf(n.address)) })))
  const joinerDisk = directoryBytes(fourth.dataDir)
  return {
    node: joiner,
    joinedMs: Math.round(joinedMs),
    settledMs: Math.round(settledMs),
    partitions: after!.partitionCount,
    partitionsGained: share.partitions,
    keysExpected: share.keys,
    keysStreamed: received.streamed!,
    pagesFetched: received.pagesFetched!,
    bytesStreamed: received.bytesFetched!,
    keysHandedOverIn: received.handoverKeysReceived!,
    bytesHandedOverIn: received.handoverBytesReceived!,
    keysOfferedHeld: received.offeredKeysHeld ?? 0,
    keysOverShare: Number((received.streamed! / Math.max(1, share.keys)).toFixed(3)),
    diskBytes: joinerDisk,
    rssBytes: readResidentBytes(fourth.pid) ?? 0,
    sources: sources.map((s) => ({
      id: s.id,
      partitionsGivenUp: share.bySource.get(s.id)!.partitions,
      partitionsRead: s.moved.partitionsRead!,
      pagesServed: s.moved.pagesServed!,
      bytesServed: s.moved.bytesServed!,
      keysGivenUp: share.bySource.get(s.id)!.keys,
      keysDropped: s.moved.dropped!,
      keysOffered: s.moved.handoverKeysOffered ?? 0,
      keysSent: s.moved.handoverKeysSent ?? 0
    }))
  }
}

/**
 * The join's targets: the keys the joiner received (streamed and handed over) over its share, which is
 * 1 when only its share moved to it; and the partition walks the sources began over the partitions
 * they gave up, which is 1 when each source read each partition it sent once.
 */
function joinTargets (join: any): Record<string, { measured: number, target: number, met: boolean }> {
  const received = Number(((join.keysStreamed + join.keysHandedOverIn) / Math.max(1, join.keysExpected)).toFixed(3))
  const walks = join.sources.reduce((sum: number, s: any) => sum + s.partitionsRead, 0)
  const readsPerPartition = Number((walks / Math.max(1, join.partitionsGained)).toFixed(3))
  const everySourceOnce = join.sources.every((s: any) => s.partitionsRead === s.partitionsGivenUp)
  return {
    joinKeysReceivedOverShare: { measured: received, target: TARGETS.joinReceivedOverShare, met: received === TARGETS.joinReceivedOverShare },
    joinReadsPerPartitionSent: { measured: readsPerPartition, target: TARGETS.joinReadsPerPartition, met: everySourceOnce && readsPerPartition === TARGETS.joinReadsPerPartition }
  }
}

/** How a figure is held to its target: most at most, the quiet repair's share below it, the join's exactly. */
const comparison = (figure: string): string => figure === 'quietRepairWireOverData' ? '<' : figure.startsWith('join') ? '=' : '<='

/** The join's lines of the report. */
function printJoin (join: any): void {
  process.stdout.write(`\njoin of ${join.node}: ring settled with it ready after ${seconds(join.joinedMs)} s, old nodes swept after ${seconds(join.settledMs)} s; ` +
    `it gains ${join.partitionsGained} of ${join.partitions} partitions holding ${join.keysExpected} keys (its share)\n`)
  process.stdout.write(`  received by streaming: ${join.keysStreamed} keys = ${join.keysOverShare} x its share, ${join.pagesFetched} pages, ${mib(join.bytesStreamed)} MiB; ` +
    `by the old nodes' hand-overs: ${join.keysHandedOverIn} keys, ${mib(join.bytesHandedOverIn)} MiB (${join.keysOfferedHeld} offered keys held already); data on disk then ${mib(join.diskBytes)} MiB, RSS ${mib(join.rssBytes)} MiB\n`)
  console.table(join.sources.map((s: any) => ({
    source: s.id,
    'partitions given up': s.partitionsGivenUp,
    'partition walks begun': s.partitionsRead,
    'pages served': s.pagesServed,
    'MiB served': mib(s.bytesServed),
    'keys given up': s.keysGivenUp,
    'keys dropped (handed over)': s.keysDropped,
    'keys offered (per replica)': s.keysOffered,
    'objects sent': s.keysSent
  })))
}

/** Each node's memory at the largest RSS its breakdowns caught during the load. */
function printBreakdowns (nodes: readonly NodeHandle[], loadCpu: readonly number[]): void {
  const sampled = nodes.filter((n) => n.peakBreakdown !== undefined)
  if (sampled.length === 0) return
  process.stdout.write(`memory at each node's largest RSS of those broken down during the load (every ${BREAKDOWN_MS / 1000} s, and at its end; MiB): ` +
    'other anonymous = both V8 heaps (main and engine worker), malloc\'s large mmapped blocks, thread stacks; malloc\'s arenas and V8\'s external hold the buffers\n')
  console.table(sampled.map((n) => {
    const b = n.peakBreakdown!
    return {
      node: n.id,
      ...(NODE_ENV_CHANGES.size === 0 ? {} : { env: (NODE_ENV_CHANGES.get(n.id) ?? []).map(([k, v]) => `${k}=${v}`).join(' ') }),
      'CPU in load s': loadCpu[nodes.indexOf(n)]!.toFixed(1),
      RSS: mib(b.rss),
      'file-backed (code)': mib(b.fileBacked),
      'malloc main arena': mib(b.mallocMainArena),
      'malloc thread arenas': `${mib(b.mallocThreadArenas)} (${b.threadArenas})`,
      'other anonymous': mib(b.otherAnonymous),
      'V8 main heap (used)': `${mib(b.v8HeapTotal)} (${mib(b.v8HeapUsed)})`,
      'new / old space': `${mib(b.v8NewSpace)} / ${mib(b.v8OldSpace)}`,
      external: mib(b.external),
      memtables: mib(b.memtables),
      'block cache': mib(b.blockCache)
    }
  }))
}

const nodes: NodeHandle[] = []
let sampler: NodeJS.Timeout | undefined
// A long run interrupted (Ctrl-C) takes its nodes and their data with it.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    clearInterval(sampler)
    void servers.stopAll().finally(() => { rmSync(dir, { recursive: true, force: true }); process.exit(130) })
  })
}
try {
  if (heapDir !== undefined) mkdirSync(heapDir, { recursive: true })
  const reused = storedSeed()
  const secretFile = join(dir, 'secret')
  if (reused === undefined) writeFileSync(secretFile, randomBytes(32).toString('base64url'))
  else copyFileSync(join(seedStore!, 'secret'), secretFile)
  const ids = ['node1', 'node2', 'node3']
  // A kept seed's nodes listen where they were seeded: their metadata names those addresses.
  const ports = reused === undefined ? await freePorts(4) : [...reused.ports, ...(await freePorts(4)).filter((p) => !reused.ports.includes(p))].slice(0, 4)
  /** A node of this run: the founding three name each other as --peers, a later one gets --seeds. */
  const handle = (id: string, port: number, membership: readonly string[]): NodeHandle => {
    const dataDir = join(dir, id)
    return {
      id,
      port,
      dataDir,
      address: '',
      pid: 0,
      peakRss: 0,
      args: [...(heapDir === undefined ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapDir}`]), bin, 'start', '--node-id', id, '--listen', `127.0.0.1:${port}`, '--data', dataDir,
        ...membership, '--replicas', '3', '--cluster-secret-file', secretFile, '--log-level', 'info', '--access-log', 'off', ...nodeArgs]
    }
  }
  for (const [i, id] of ids.entries()) {
    nodes.push(handle(id, ports[i]!, ['--peers', ids.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(',')]))
  }
  if (reused !== undefined) {
    if (seedStore !== undefined) mkdirSync(seedStore, { recursive: true })
    for (const n of nodes) copyDirectory(join(seedStore!, n.id), n.dataDir)
    progressNote(`nodes start on copies of the seed in ${seedStore!} (RSS empty is then their RSS on it)`)
  }
  await Promise.all(nodes.map(launch))
  sampler = setInterval(() => sampleRss(nodes), SAMPLE_MS)
  const rssEmpty = rssOf(nodes)
  if (heapDir !== undefined) await heapSnapshot(nodes[0]!)

  if (seedStore !== undefined) mkdirSync(seedStore, { recursive: true })
  const seeded = SEEDED === 0 ? undefined : reused !== undefined ? reused.report : await seedOffline(nodes)
  const rssSeeded = seeded === undefined ? undefined : rssOf(nodes)
  if (rssSeeded !== undefined) progressNote(`nodes serving on the seeded keys; RSS ${rssSeeded.map(mib).join(' / ')} MiB`)
  // Breakdowns during the load and at its end only: the largest RSS they catch explains the load's peak.
  let breaking: Promise<void> | undefined
  const cpuBeforeLoad = nodes.map((n) => readCpuSeconds(n.pid) ?? 0)
  const breakdowns = setInterval(() => { breaking ??= sampleBreakdowns(nodes).finally(() => { breaking = undefined }) }, BREAKDOWN_MS)
  const loaded = await load(nodes, SEEDED).finally(() => clearInterval(breakdowns))
  await breaking
  await sampleBreakdowns(nodes)
  // The CPU each node spent on the load (all its threads): what a setting compared with --node-env costs.
  const loadCpu = nodes.map((n, i) => (readCpuSeconds(n.pid) ?? 0) - cpuBeforeLoad[i]!)
  progressNote(`loaded ${KEYS - SEEDED} keys through the API in ${loaded.seconds.toFixed(0)} s; peak RSS so far ${nodes.map((n) => mib(n.peakRss)).join(' / ')} MiB`)
  const rssFull = rssOf(nodes)
  const loadPeak = nodes.map((n) => n.peakRss)
  const diskBytes = nodes.map((n) => directoryBytes(n.dataDir))
  if (heapDir !== undefined) await heapSnapshot(nodes[0]!)

  // A repair that finds nothing: every replica has every key (anti-entropy may have caught a straggler already).
  const readyWait = performance.now()
  for (const n of nodes) await treesReady(n)
  if (seeded !== undefined) progressNote(`every node's anti-entropy trees ready ${seconds(performance.now() - readyWait)} s after the load`)
  const [first, second, third] = nodes as [NodeHandle, NodeHandle, NodeHandle]
  await getJson(first.address, '/v1/admin/repair', 'POST')
  const callsBefore = await antiEntropyCalls(first.address)
  const quiet = await getJson(first.address, '/v1/admin/repair', 'POST')
  const quietCalls = await antiEntropyCalls(first.address) - callsBefore
  progressNote(`repair finding nothing: ${quiet.durationMs} ms, ${quiet.bytesSent + quiet.bytesReceived} B`)

  // Restart of an intact node: until it serves reads, until its first round with its peers.
  const restartStarted = performance.now()
  const restarted = await restart(third, false)
  const firstRoundMs = await firstRound(third, restartStarted)
  const rssRestarted = readResidentBytes(third.pid) ?? 0
  progressNote(`restart of ${third.id}: listening ${seconds(restarted.listenMs)} s, serving ${seconds(restarted.servingMs)} s, first round ${seconds(firstRoundMs)} s; peak RSS so far ${nodes.map((n) => mib(n.peakRss)).join(' / ')} MiB`)

  // A small difference: DIFFERING_KEYS keys missing on one replica.
  const difference = await differencePhase(third, [first, second])
  progressNote(`${DIFFERING_KEYS} keys missing: ${JSON.stringify(difference)}`)

  // A wiped replica restored by one repair round of its own.
  const dataBytes = directoryBytes(third.dataDir)
  const wipe = async (): Promise<{ wiped: any, wipedCalls: number, wireBytes: number, windowWireBytes: number, currentMs: number }> => {
    // Periodic rounds restore part of the replica before the repair starts: the wire bytes of the whole restore are every node's anti-entropy bytes from the wipe on.
    const othersBefore = (await Promise.all([first, second].map((n) => antiEntropyBytes(n.address)))).reduce((a, b) => a + b, 0)
    const restarted = performance.now()
    await restart(third, true)
    const wipeCallsBefore = await antiEntropyCalls(third.address)
    const wiped = await getJson(third.address, '/v1/admin/repair', 'POST')
    // Restored once every partition is current again (its replies count toward pr): the repair, or the periodic rounds after it.
    await until(`${third.id} current`, async () => (await getJson(third.address, '/v1/cluster')).recovery?.state === 'current', 200)
    const currentMs = performance.now() - restarted
    const windowWireBytes = (await Promise.all(nodes.map((n) => antiEntropyBytes(n.address)))).reduce((a, b) => a + b, 0) - othersBefore
    return { wiped, wipedCalls: await antiEntropyCalls(third.address) - wipeCallsBefore, wireBytes: (wiped.bytesSent as number) + (wiped.bytesReceived as number), windowWireBytes, currentMs }
  }
  const wipedPhase = flags['skip-wiped'] === true ? undefined : await wipe()
  const quietBytes = (quiet.bytesSent as number) + (quiet.bytesReceived as number)
  clearInterval(sampler)
  sampleRss(nodes)

  let joined: Record<string, unknown> | undefined
  if (JOIN) {
    // The wiped node answers as rebuilding until anti-entropy compared its partitions; a join streams from it only once it is current.
    await until(`${third.id} current`, async () => (await getJson(third.address, '/v1/cluster')).recovery?.state === 'current', 500)
    joined = await joinPhase(nodes, handle('node4', ports[3]!, ['--seeds', first.address]))
  }

  const logicalBytes = KEYS * (keyOf(0).length + VALUE_BYTES)
  const results = {
    load: { seconds: Number(loaded.seconds.toFixed(1)), keysPerSecond: Math.round((KEYS - SEEDED) / loaded.seconds), failed: loaded.failed },
    ...(seeded === undefined ? {} : { seed: { keys: SEEDED, restKeys: KEYS - SEEDED, ...seeded, rssAfterStartBytes: rssSeeded } }),
    difference,
    nodes: nodes.map((n, i) => ({
      id: n.id,
      rssEmptyBytes: rssEmpty[i]!,
      rssHalfBytes: loaded.rssHalf[i]!,
      rssFullBytes: rssFull[i]!,
      rssPeakLoadBytes: loadPeak[i]!,
      rssPeakBytes: n.peakRss,
      diskBytes: diskBytes[i]!,
      ...(NODE_ENV_CHANGES.has(n.id) ? { env: Object.fromEntries(NODE_ENV_CHANGES.get(n.id)!) } : {}),
      loadCpuSeconds: Number(loadCpu[i]!.toFixed(1)),
      ...(n.peakBreakdown === undefined ? {} : { memoryAtPeakSample: n.peakBreakdown })
    })),
    rssFullOverHalf: Number((Math.max(...rssFull) / Math.max(...loaded.rssHalf)).toFixed(2)),
    restart: { node: third.id, listenMs: Math.round(restarted.listenMs), servingMs: Math.round(restarted.servingMs), servingCpuMs: Math.round(restarted.servingCpuMs), firstRoundMs: Math.round(firstRoundMs), rssBytes: rssRestarted },
    quietRepair: {
      node: first.id,
      durationMs: quiet.durationMs as number,
      comparisons: quiet.comparisons as number,
      keysExchanged: quiet.keysExchanged as number,
      requests: quiet.requests as number,
      internodeCalls: quietCalls,
      wireBytes: quietBytes,
      wireOverData: Number((quietBytes / dataBytes).toFixed(5))
    },
    wipedRepair: wipedPhase === undefined
      ? undefined
      : {
          node: third.id,
          durationMs: wipedPhase.wiped.durationMs as number,
          restartToCurrentMs: Math.round(wipedPhase.currentMs),
          keysPulled: wipedPhase.wiped.keysPulled as number,
          requests: wipedPhase.wiped.requests as number,
          internodeCalls: wipedPhase.wipedCalls,
          wireBytes: wipedPhase.wireBytes,
          dataBytes,
          wireOverData: Number((wipedPhase.wireBytes / dataBytes).toFixed(3)),
          wireOverLogical: Number((wipedPhase.wireBytes / logicalBytes).toFixed(3)),
          windowWireBytes: wipedPhase.windowWireBytes,
          windowWireOverData: Number((wipedPhase.windowWireBytes / dataBytes).toFixed(3))
        },
    ...(joined === undefined ? {} : { join: joined })
  }

  const peak = Math.max(...loadPeak)
  const targets = {
    peakRssInLoad: { measured: peak, target: TARGETS.peakRssBytes(VALUE_BYTES), met: peak <= TARGETS.peakRssBytes(VALUE_BYTES) },
    rssFullOverHalf: { measured: results.rssFullOverHalf, target: TARGETS.fullOverHalf, met: results.rssFullOverHalf <= TARGETS.fullOverHalf },
    restartServingMs: { measured: results.restart.servingMs, target: TARGETS.servingMs, met: results.restart.servingMs <= TARGETS.servingMs },
    restartFirstRoundMs: { measured: results.restart.firstRoundMs, target: TARGETS.firstRoundMs, met: results.restart.firstRoundMs <= TARGETS.firstRoundMs },
    quietRepairMs: { measured: results.quietRepair.durationMs, target: TARGETS.quietRepairMs, met: results.quietRepair.durationMs <= TARGETS.quietRepairMs },
    quietRepairWireOverData: { measured: results.quietRepair.wireOverData, target: TARGETS.quietWireOverData, met: results.quietRepair.wireOverData < TARGETS.quietWireOverData },
    ...(results.wipedRepair === undefined
      ? {}
      : { wipedRepairWireOverData: { measured: results.wipedRepair.windowWireOverData, target: TARGETS.wipedWireOverData, met: results.wipedRepair.windowWireOverData <= TARGETS.wipedWireOverData } }),
    ...(joined === undefined ? {} : joinTargets(joined))
  }

  process.stdout.write(`\nbench:scale — ${KEYS} keys of ${VALUE_BYTES} B per node (3 nodes, n=3), ${CONCURRENCY} in flight, ` +
    `${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, node ${process.version}\n`)
  if (seeded !== undefined) {
    process.stdout.write(`seeded offline: ${SEEDED} keys as ${seeded.actor} (dots ${seeded.firstCounter}..${seeded.lastCounter}), written in ${seeded.writeSeconds.toFixed(0)} s, ` +
      `copied to the other nodes in ${seeded.copySeconds.toFixed(0)} s; RSS after starting on them ${rssSeeded!.map(mib).join(' / ')} MiB; then ${KEYS - SEEDED} keys through the REST API:\n`)
  }
  process.stdout.write(`load: ${results.load.seconds} s, ${results.load.keysPerSecond} keys/s, ${loaded.failed} failed\n`)
  console.table(results.nodes.map((n) => ({
    node: n.id,
    'RSS empty MiB': mib(n.rssEmptyBytes),
    [`RSS at ${SEEDED + Math.floor((KEYS - SEEDED) / 2)} MiB`]: mib(n.rssHalfBytes),
    [`RSS at ${KEYS} MiB`]: mib(n.rssFullBytes),
    'peak in load MiB': mib(n.rssPeakLoadBytes),
    'peak MiB': mib(n.rssPeakBytes),
    'disk MiB': mib(n.diskBytes)
  })))
  process.stdout.write(`RSS at N / RSS at N/2 (largest node): ${results.rssFullOverHalf}\n`)
  printBreakdowns(nodes, loadCpu)
  process.stdout.write(`restart ${third.id}: listening ${seconds(restarted.listenMs)} s, serving reads ${seconds(restarted.servingMs)} s (${seconds(restarted.servingCpuMs)} s of CPU), ` +
    `first anti-entropy round ${seconds(firstRoundMs)} s, then RSS ${mib(rssRestarted)} MiB\n`)
  process.stdout.write(`repair finding nothing (${first.id}): ${seconds(quiet.durationMs)} s, ${quiet.requests} requests (${quietCalls} anti-entropy calls in metrics), ` +
    `${quietBytes} B on the wire = ${(results.quietRepair.wireOverData * 100).toFixed(3)}% of the data, ${quiet.keysExchanged} keys exchanged\n`)
  process.stdout.write(`${DIFFERING_KEYS} keys missing on ${third.id}: restart and repair in ${seconds(difference.windowMs)} s, ${difference.windowWireBytes} B of anti-entropy traffic on all nodes ` +
    `(${difference.windowWireOverDiffering} x the ${difference.differingBytes} B of those keys and values); the repair itself ${seconds(difference.repairDurationMs)} s, ` +
    `${difference.repairKeysPulled} keys pulled, ${difference.repairRequests} requests, ${difference.repairWireBytes} B\n`)
  if (wipedPhase === undefined || results.wipedRepair === undefined) {
    process.stdout.write(`wiped replica's repair: skipped (--skip-wiped)\n`)
  } else {
    const { wiped } = wipedPhase
    process.stdout.write(`wiped replica's repair (${third.id}): restart -> every partition current ${seconds(wipedPhase.currentMs)} s; the repair ${seconds(wiped.durationMs)} s, ${wiped.keysPulled} keys pulled, ${wiped.requests} requests, ` +
      `${mib(wipedPhase.wireBytes)} MiB on the wire = ${results.wipedRepair.wireOverData} x its data on disk (${mib(dataBytes)} MiB), ${results.wipedRepair.wireOverLogical} x keys + values; ` +
      `from the wipe on, periodic rounds included, ${mib(wipedPhase.windowWireBytes)} MiB of anti-entropy traffic on all nodes = ${results.wipedRepair.windowWireOverData} x its data\n`)
  }
  if (joined !== undefined) printJoin(joined)
  process.stdout.write('\nagainst the targets (the RSS target is the one for 1M keys of 100 B, or 10M of 1 KiB with --large values):\n')
  console.table(Object.entries(targets).map(([figure, t]) => ({
    figure,
    measured: figure.startsWith('peakRss') ? `${mib(t.measured)} MiB` : String(t.measured),
    target: figure.startsWith('peakRss') ? `<= ${mib(t.target)} MiB` : `${comparison(figure)} ${t.target}`,
    met: t.met ? 'met' : 'NOT met'
  })))
  process.stdout.write(JSON.stringify({
    bench: 'scale', date: new Date().toISOString().slice(0, 10), cores: cpus().length, node: process.version,
    keys: KEYS, valueBytes: VALUE_BYTES, concurrency: CONCURRENCY, nodeArgs, results, targets
  }) + '\n')
  if (loaded.failed > 0) process.exitCode = 1
} finally {
  clearInterval(sampler)
  await servers.stopAll()
  rmSync(dir, { recursive: true, force: true })
}
