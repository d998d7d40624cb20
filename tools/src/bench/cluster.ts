import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { cpus, totalmem, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EtcdCluster, etcdFill, etcdPutBody, etcdRangeBody, etcdVersion, findEtcd } from './etcd.js'
import { CA_CERT_FILE, certFile, keyFile, makeCertificates } from '../commands/certs/certificate-authority.js'
import { fill, median, ms, PLAIN_HTTP, runLoad, VALUE_BYTES, type LoadFigures, type LoadRequest, type Transport } from './http-load.js'
import { readCpuSeconds } from './process-stats.js'
import { freePorts, ServerProcesses } from './server-processes.js'
import { withLaunchSettings } from '../../../gateway/src/node/process-memory.js'

// `npm run bench:cluster`: levelring's 3-node cluster beside a 3-member etcd cluster, one levelring
// node alone and a bare node:http ceiling, in one run, with the same load generator, connections and
// keys: durable PUTs of fresh keys (levelring `w=2&dw=2`: fsynced on two replicas; etcd fsyncs every
// write on a Raft quorum), PUTs without fsync (`w=2`), and GETs over preloaded keys (levelring `r=2`,
// etcd's default linearizable read). Values of 10 KiB; 16 connections spread round-robin over a
// cluster's members (6+5+5). Every process on loopback with its files in a temp directory. The targets
// alternate within each workload for ROUNDS rounds and medians are reported, so the drift of a shared
// machine falls on all alike. With LEVELRING_BENCH_TLS=1 the same cluster over HTTPS with mutual TLS
// between its nodes (certificates from `levelring certs`) joins, so TLS's cost shows beside plain HTTP.

/** Keys the GETs read (written before the run). */
const READ_KEYS = 2000
/** Seconds per measured phase (env LEVELRING_BENCH_SECONDS overrides, 1..60). */
const DURATION_S = Math.min(60, Math.max(1, Number(process.env.LEVELRING_BENCH_SECONDS ?? 10)))
/** Alternations of the targets in each workload. */
const ROUNDS = Math.min(9, Math.max(1, Number(process.env.LEVELRING_BENCH_ROUNDS ?? 3)))
/** Unmeasured seconds of load per target and workload before its first round. */
const WARMUP_S = 2
/** Concurrent connections, as in bench:gateway. */
const CONNECTIONS = 16
/** Dynamo's production bar: 99.9% of requests within this (ms). */
const DYNAMO_P999_MS = 300
/** What the cluster is to reach against etcd: durable PUTs, GETs. */
const GOAL = { 'put-durable': 3, get: 2 } as const

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..', '..')
const bin = join(root, 'bin', 'levelring.js')
const ceilingScript = join(here, 'map-http-server.js')
/**
 * Another build's `bin/levelring.js` (env LEVELRING_BENCH_BASELINE_BIN): its 3-node cluster joins the
 * alternation as one more target, so two builds are measured side by side in one run.
 */
const baselineBin = process.env.LEVELRING_BENCH_BASELINE_BIN === '' ? undefined : process.env.LEVELRING_BENCH_BASELINE_BIN
/** Add the cluster over HTTPS with mutual TLS as a target (env LEVELRING_BENCH_TLS=1). */
const withTls = process.env.LEVELRING_BENCH_TLS === '1'
/** `--no-etcd` leaves etcd out (for a quick A/B of two builds). */
const withEtcd = !process.argv.includes('--no-etcd')
const dir = mkdtempSync(join(tmpdir(), 'levelring-bench-cluster-'))
const servers = new ServerProcesses()
/** levelring nodes run with the memory settings every launcher passes (gateway/src/node/process-memory.ts). */
const NODE_ENV = withLaunchSettings()

type Workload = 'put-durable' | 'put' | 'get'
const ALL_WORKLOADS: readonly Workload[] = ['put-durable', 'put', 'get']
/** env LEVELRING_BENCH_WORKLOADS (comma-separated) runs only some of them, e.g. while profiling one. */
const WORKLOADS = process.env.LEVELRING_BENCH_WORKLOADS === undefined
  ? ALL_WORKLOADS
  : ALL_WORKLOADS.filter((w) => process.env.LEVELRING_BENCH_WORKLOADS!.split(',').includes(w))
/**
 * env LEVELRING_BENCH_PROFILE=DIR: the 3-node cluster's processes write V8 CPU profiles there when they
 * stop, a baseline build's in DIR/baseline (summarise one with `node dist/tools/src/bench/profile-summary.js FILE`).
 */
const profileDir = process.env.LEVELRING_BENCH_PROFILE
const TITLES: Record<Workload, string> = {
  'put-durable': 'PUT, durable (levelring dw=2: fsynced on two replicas; etcd: every write)',
  put: 'PUT, no fsync (levelring w=2)',
  get: `GET over ${READ_KEYS} preloaded keys (levelring r=2; etcd linearizable)`
}

interface Target {
  readonly name: string
  readonly kind: 'ceiling' | 'levelring' | 'etcd'
  readonly addresses: readonly string[]
  readonly transport: Transport
  /** Query of levelring PUTs/GETs (quorums that fit the target's n). */
  readonly put?: string
  readonly putDurable?: string
  readonly get?: string
  /** The target's process ids where they are not the bench's own servers (etcd's members). */
  readonly pids?: () => readonly number[]
}
/** `cpuUs`: CPU time all the target's processes used per request answered (µs); NaN where it cannot be read (no /proc). */
interface Phase extends LoadFigures { readonly target: string, readonly workload: Workload, readonly cpuUs: number, readonly loaderCpuUs: number }

let putSerial = 0

/** What one connection sends for `workload` on `target`: each PUT a fresh key, GETs cycling over the loaded keys. */
function requestsFor (target: Target, workload: Workload, valueBase64: string): LoadRequest[] {
  let gets = 0
  const freshKey = () => `w-${putSerial++}`
  if (target.kind === 'etcd') {
    if (workload === 'get') return [{ method: 'POST', path: () => '/v3/kv/range', body: () => etcdRangeBody(`hot-${gets++ % READ_KEYS}`) }]
    return [{ method: 'POST', path: () => '/v3/kv/put', body: () => etcdPutBody(freshKey(), valueBase64) }]
  }
  if (workload === 'get') return [{ method: 'GET', path: () => `/v1/kv/hot-${gets++ % READ_KEYS}${target.get ?? ''}` }]
  const query = workload === 'put-durable' ? target.putDurable : target.put
  return [{ method: 'PUT', path: () => `/v1/kv/${freshKey()}${query ?? ''}` }]
}

async function phase (target: Target, workload: Workload, body: Buffer, valueBase64: string, seconds = DURATION_S): Promise<Phase> {
  const cpu = (): number | null => {
    let total = 0
    const pids = target.pids?.() ?? target.addresses.map((address) => servers.pid(address))
    for (const pid of pids) {
      const seconds = pid === undefined ? null : readCpuSeconds(pid)
      if (seconds === null) return null
      total += seconds
    }
    return total
  }
  const before = cpu()
  // The load generator shares the machine's cores with the target: its CPU per request says how much of them it takes.
  const loaderBefore = process.cpuUsage()
  const from = process.hrtime.bigint() / 1000n
  const figures = await runLoad(target.addresses, requestsFor(target, workload, valueBase64), body, CONNECTIONS, seconds, target.transport)
  const to = process.hrtime.bigint() / 1000n
  const after = cpu()
  const loader = process.cpuUsage(loaderBefore)
  const loaderCpuUs = figures.requests === 0 ? NaN : (loader.user + loader.system) / figures.requests
  const cpuUs = before === null || after === null || figures.requests === 0 ? NaN : (after - before) * 1e6 / figures.requests
  if (profileDir !== undefined && target.kind === 'levelring' && target.addresses.length > 1) {
    // The phase's window on the monotonic clock V8 profiles are timed by: profile-summary --window takes it.
    process.stdout.write(`profiled: ${target.name}, ${workload}: --window ${from}-${to} --requests ${figures.requests} --cpu-us ${cpuUs.toFixed(0)}\n`)
  }
  return { target: target.name, workload, ...figures, cpuUs, loaderCpuUs }
}

async function startCeiling (): Promise<Target> {
  return { name: 'node:http ceiling (Map)', kind: 'ceiling', addresses: [await servers.start([ceilingScript])], transport: PLAIN_HTTP }
}

async function startSingle (): Promise<Target> {
  const address = await servers.start([bin, 'start', '--node-id', 'single', '--listen', '127.0.0.1:0', '--data', join(dir, 'single'), '--log-level', 'info', '--access-log', 'off'], NODE_ENV)
  return { name: 'levelring, one node (n=1)', kind: 'levelring', addresses: [address], transport: PLAIN_HTTP, put: '?w=1', putDurable: '?w=1&dw=1', get: '?r=1' }
}

async function startCluster (name: string, levelring: string, subdir: string, tls = false): Promise<Target> {
  const secretFile = join(dir, `${subdir}-secret`)
  writeFileSync(secretFile, randomBytes(32).toString('base64url'))
  const ports = await freePorts(3)
  const ids = ['node1', 'node2', 'node3']
  const tlsDir = join(dir, `${subdir}-tls`)
  if (tls) await makeCertificates(tlsDir, { nodes: ids })
  // A baseline build's profiles go to a folder of their own, so both builds are profiled under the same load.
  const profile = profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${levelring === bin ? profileDir : join(profileDir, subdir)}`]
  const addresses = await Promise.all(ids.map((id, i) => servers.start([...profile, levelring, 'start', '--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`,
    '--data', join(dir, subdir, id), '--peers', ids.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(','),
    '--replicas', '3', '--cluster-secret-file', secretFile, '--log-level', 'info',
    // Access log lines would go down the pipe this process reads, a cost on every request: off for every
    // build alike, so an A/B compares the builds, not their logging (a baseline build must know --access-log).
    '--access-log', 'off',
    ...(tls ? ['--tls-cert', join(tlsDir, certFile(id)), '--tls-key', join(tlsDir, keyFile(id)), '--tls-ca', join(tlsDir, CA_CERT_FILE)] : [])], NODE_ENV)))
  const transport: Transport = tls ? { scheme: 'https', ca: readFileSync(join(tlsDir, CA_CERT_FILE)) } : PLAIN_HTTP
  return { name, kind: 'levelring', addresses, transport, put: '?w=2', putDurable: '?w=2&dw=2', get: '?r=2' }
}

interface Row { target: string, rps: number, cpuUs: number, loaderCpuUs: number, p50: number, p99: number, p999: number, rounds: number[], failed: number }

function rows (targets: readonly Target[], all: readonly Phase[], workload: Workload): Row[] {
  return targets.flatMap((t) => {
    const runs = all.filter((p) => p.target === t.name && p.workload === workload)
    if (runs.length === 0) return []
    return [{
      target: t.name,
      rps: median(runs.map((p) => p.rps)),
      cpuUs: median(runs.map((p) => p.cpuUs)),
      loaderCpuUs: median(runs.map((p) => p.loaderCpuUs)),
      p50: median(runs.map((p) => p.p50)),
      p99: median(runs.map((p) => p.p99)),
      p999: median(runs.map((p) => p.p999)),
      rounds: runs.map((p) => Math.round(p.rps)),
      failed: runs.reduce((n, p) => n + p.errors + p.non2xx, 0)
    }]
  })
}

const CLUSTER = 'levelring, 3 nodes (n=3)'
const ETCD = 'etcd, 3 members'

function report (targets: readonly Target[], all: readonly Phase[], version: string | undefined): void {
  process.stdout.write(`\nbench:cluster — ${VALUE_BYTES / 1024} KiB values, ${CONNECTIONS} connections, medians of ${ROUNDS} rounds of ${DURATION_S} s, ` +
    `${cpus().length} cores, ${Math.round(totalmem() / 1024 ** 3)} GiB, node ${process.version}${version === undefined ? ', etcd skipped' : `, etcd ${version}`}\n`)
  const summary: Record<string, Record<string, unknown>> = {}
  for (const workload of WORKLOADS) {
    const table = rows(targets, all, workload)
    const etcd = table.find((r) => r.target === ETCD) ?? (workload === 'put' ? rows(targets, all, 'put-durable').find((r) => r.target === ETCD) : undefined)
    process.stdout.write(`\n${TITLES[workload]}\n`)
    console.table(table.map((r) => ({
      target: r.target,
      'req/s': r.rps.toFixed(0),
      'CPU µs/req': Number.isNaN(r.cpuUs) ? '–' : r.cpuUs.toFixed(0),
      'load gen µs/req': r.loaderCpuUs.toFixed(0),
      'p50 ms': ms(r.p50),
      'p99 ms': ms(r.p99),
      'p99.9 ms': ms(r.p999),
      'req/s per round': r.rounds.join(' '),
      'vs etcd': etcd === undefined ? '–' : (r.rps / etcd.rps).toFixed(2),
      errors: r.failed
    })))
    summary[workload] = Object.fromEntries(table.map((r) => [r.target, { rps: Math.round(r.rps), ...(Number.isNaN(r.cpuUs) ? {} : { cpuUs: Math.round(r.cpuUs) }), loaderCpuUs: Math.round(r.loaderCpuUs), p50: r.p50, p99: r.p99, p999: r.p999 }]))
  }
  const ratios: Record<string, number> = {}
  for (const workload of ['put-durable', 'get'] as const) {
    const table = rows(targets, all, workload)
    const cluster = table.find((r) => r.target === CLUSTER)
    const etcd = table.find((r) => r.target === ETCD)
    if (cluster === undefined || etcd === undefined) continue
    ratios[workload] = Number((cluster.rps / etcd.rps).toFixed(2))
    process.stdout.write(`${workload}: levelring ${cluster.rps.toFixed(0)}/s = ${ratios[workload]!.toFixed(2)} x etcd ${etcd.rps.toFixed(0)}/s ` +
      `(goal ${GOAL[workload]} x: ${ratios[workload]! >= GOAL[workload] ? 'met' : 'NOT met'}); p99.9 ${ms(cluster.p999)} ms against Dynamo's ${DYNAMO_P999_MS} ms\n`)
  }
  process.stdout.write(JSON.stringify({
    bench: 'cluster', date: new Date().toISOString().slice(0, 10), cores: cpus().length, node: process.version, etcd: version ?? null,
    valueBytes: VALUE_BYTES, connections: CONNECTIONS, seconds: DURATION_S, rounds: ROUNDS, results: summary, ratiosToEtcd: ratios
  }) + '\n')
}

const etcdBinary = withEtcd ? findEtcd() : undefined
let etcd: EtcdCluster | undefined
try {
  const body = Buffer.alloc(VALUE_BYTES, 'levelring ')
  const valueBase64 = body.toString('base64')
  const targets: Target[] = [await startCeiling(), await startSingle(), await startCluster(CLUSTER, bin, 'cluster')]
  if (withTls) targets.push(await startCluster('levelring, 3 nodes over TLS (mutual between nodes)', bin, 'tls', true))
  if (baselineBin !== undefined) targets.push(await startCluster('levelring, 3 nodes, baseline build', baselineBin, 'baseline'))
  if (etcdBinary !== undefined) {
    etcd = await EtcdCluster.start(etcdBinary, join(dir, 'etcd'))
    const members = etcd
    targets.push({ name: ETCD, kind: 'etcd', addresses: etcd.addresses, transport: PLAIN_HTTP, pids: () => members.pids })
  }
  for (const target of targets) {
    if (target.kind === 'etcd') await etcdFill(target.addresses[0]!, 'hot-', READ_KEYS, body)
    else await fill(target.addresses[0]!, 'hot-', READ_KEYS, body, target.transport)
  }
  const phases: Phase[] = []
  for (const workload of WORKLOADS) {
    // etcd has one kind of PUT: its durable row stands for both.
    const runs = targets.filter((t) => !(workload === 'put' && t.kind === 'etcd'))
    for (const target of runs) await phase(target, workload, body, valueBase64, WARMUP_S) // JIT, caches, connection pools
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of runs) phases.push(await phase(target, workload, body, valueBase64))
    }
  }
  report(targets, phases, etcdBinary === undefined ? undefined : etcdVersion(etcdBinary))
  const failed = phases.filter((p) => p.errors + p.non2xx > 0)
  if (failed.length > 0) {
    process.stderr.write(`requests failed in: ${failed.map((p) => `${p.target} ${p.workload} (${p.errors} errors, ${p.non2xx} non-2xx)`).join(', ')}\n`)
    process.exitCode = 1
  }
} finally {
  await etcd?.stop()
  await servers.stopAll()
  rmSync(dir, { recursive: true, force: true })
}
