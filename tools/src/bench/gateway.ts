import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fill, median as middle, ms, runLoad, VALUE_BYTES } from './http-load.js'
import { ServerProcesses } from './server-processes.js'
import { withLaunchSettings } from '../../../gateway/src/node/process-memory.js'
import { readCpuSeconds } from './process-stats.js'
import { metricsCostNs } from './metrics-cost.js'

// `npm run bench:gateway`: PUT and GET of 10 KiB values on one levelring node (lsm-level storage
// in a temp directory) beside a ceiling, a bare node:http server answering from a Map
// (map-http-server.ts), in the same run with the same load; and the same node started with
// `--metrics off`, so the cost of the metrics is printed beside. Each server is its own process
// (the nodes log no access lines: they would go down the pipe this process reads); the load
// generator (autocannon) runs here. Loopback only; every phase is bounded by DURATION_S. The
// targets alternate for ROUNDS rounds (C M O C O M ...) and the medians are reported, so that drift
// of a shared machine over the run falls on all alike; the metrics' cost is the median of the
// rounds' ratios of the two nodes, in throughput and in CPU time per request (the node process's
// own CPU time, which other load on the machine disturbs far less).

/** Keys the GET phase reads (written before it starts). */
const READ_KEYS = 1000
/** Seconds per measured phase (env LEVELRING_BENCH_SECONDS overrides, 1..60). */
const DURATION_S = Math.min(60, Math.max(1, Number(process.env.LEVELRING_BENCH_SECONDS ?? 3)))
/** Alternations of the targets per operation (env LEVELRING_BENCH_ROUNDS overrides, 1..15). */
const ROUNDS = Math.min(15, Math.max(1, Number(process.env.LEVELRING_BENCH_ROUNDS ?? 3)))
/** Unmeasured seconds of load per target before the first round. */
const WARMUP_S = 1
/** Concurrent connections: enough to keep one node process busy. */
const CONNECTIONS = 16

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..', '..')
const dataDir = mkdtempSync(join(tmpdir(), 'levelring-bench-gw-'))
/** The node with its metrics (the default) and without (`--metrics off`). */
const WITH_METRICS = 'levelring'
const WITHOUT_METRICS = 'levelring --metrics off'
const TARGETS = ['ceiling', WITH_METRICS, WITHOUT_METRICS] as const
const servers = new ServerProcesses()

/** One measured phase; `cpuUs`: CPU time the server process used per request answered (µs), NaN where /proc is missing. */
interface Phase { target: string, op: 'PUT' | 'GET', rps: number, cpuUs: number, p50: number, p99: number, errors: number, non2xx: number }

const putCounters = new Map<string, number>()

async function load (target: string, address: string, op: 'PUT' | 'GET', body: Buffer, seconds = DURATION_S): Promise<Phase> {
  let next = putCounters.get(target) ?? 0
  // PUT: a fresh key each time (blind writes to one key would pile up siblings); GET: cycle the loaded keys.
  const path = (): string => `/v1/kv/${op === 'PUT' ? `put-${target.replace(/[^a-z0-9]+/gi, '-')}-${next++}` : `hot-${next++ % READ_KEYS}`}`
  const pid = servers.pid(address)
  const cpuBefore = pid === undefined ? null : readCpuSeconds(pid)
  const figures = await runLoad([address], [{ method: op, path }], body, CONNECTIONS, seconds)
  const cpuAfter = pid === undefined ? null : readCpuSeconds(pid)
  if (op === 'PUT') putCounters.set(target, next)
  // CPU per request is what the server itself spent: other processes on a shared machine change it far less than req/s.
  const cpuUs = cpuBefore === null || cpuAfter === null || figures.requests === 0 ? NaN : (cpuAfter - cpuBefore) * 1e6 / figures.requests
  return { target, op, rps: figures.rps, cpuUs, p50: figures.p50, p99: figures.p99, errors: figures.errors, non2xx: figures.non2xx }
}

/** Median of each figure over the rounds of one (target, op); errors are summed. */
function median (phases: Phase[], target: string, op: 'PUT' | 'GET'): Phase {
  const runs = phases.filter((p) => p.target === target && p.op === op)
  const mid = (f: (p: Phase) => number): number => middle(runs.map(f))
  return {
    target, op, rps: mid((p) => p.rps), cpuUs: mid((p) => p.cpuUs), p50: mid((p) => p.p50), p99: mid((p) => p.p99),
    errors: runs.reduce((n, p) => n + p.errors, 0), non2xx: runs.reduce((n, p) => n + p.non2xx, 0)
  }
}

function report (all: Phase[], cost: ReturnType<typeof metricsCostNs>): void {
  const phases = (['PUT', 'GET'] as const).flatMap((op) => TARGETS.map((target) => median(all, target, op)))
  const rows = phases.map((p) => {
    const ceiling = phases.find((c) => c.op === p.op && c.target === 'ceiling')!
    return {
      op: p.op,
      target: p.target,
      'req/s': p.rps.toFixed(0),
      'CPU µs/req': p.cpuUs.toFixed(0),
      'p50 ms': ms(p.p50),
      'p99 ms': ms(p.p99),
      'req/s per round': all.filter((r) => r.op === p.op && r.target === p.target).map((r) => r.rps.toFixed(0)).join(' '),
      'vs ceiling': p.target === 'ceiling' ? '1.00' : (p.rps / ceiling.rps).toFixed(2),
      errors: p.errors + p.non2xx
    }
  })
  process.stdout.write(`\nbench:gateway — ${VALUE_BYTES / 1024} KiB values, ${CONNECTIONS} connections, medians of ${ROUNDS} rounds of ${DURATION_S} s, ` +
    `${cpus().length} cores, node ${process.version}\n`)
  console.table(rows)
  for (const op of ['PUT', 'GET'] as const) {
    const g = median(all, WITH_METRICS, op)
    const c = median(all, 'ceiling', op)
    process.stdout.write(`${op}: levelring ${g.rps.toFixed(0)} req/s = ${(g.rps / c.rps).toFixed(2)} x the Map ceiling (${c.rps.toFixed(0)} req/s); aim >= 0.5\n`)
  }
  for (const op of ['PUT', 'GET'] as const) {
    // Each round measured both nodes back to back: the median of the rounds' ratios cancels most of a shared machine's drift.
    const on = all.filter((p) => p.op === op && p.target === WITH_METRICS)
    const off = all.filter((p) => p.op === op && p.target === WITHOUT_METRICS)
    const throughput = on.map((p, i) => 1 - p.rps / off[i]!.rps)
    const cpu = on.map((p, i) => p.cpuUs / off[i]!.cpuUs - 1)
    const pct = (x: number): string => `${(100 * x).toFixed(1)}%`
    process.stdout.write(`${op} metrics overhead: throughput ${pct(middle(throughput))} (rounds: ${throughput.map(pct).join(' ')}), ` +
      `CPU per request ${pct(middle(cpu))} (rounds: ${cpu.map(pct).join(' ')})\n`)
  }
  const cpuPerRequest = middle(all.filter((p) => p.target !== 'ceiling' && p.op === 'GET').map((p) => p.cpuUs))
  process.stdout.write(`metrics' own work per request, measured apart (metrics-cost.ts): ${cost.costNs.toFixed(0)} ns ` +
    `(${cost.observedNs.toFixed(0)} ns observed vs ${cost.bareNs.toFixed(0)} ns bare listener) = ` +
    `${(100 * cost.costNs / 1000 / cpuPerRequest).toFixed(2)}% of a GET's ${cpuPerRequest.toFixed(0)} µs of node CPU; aim <= 3%\n`)
}

try {
  const body = Buffer.alloc(VALUE_BYTES, 'levelring ')
  const node = async (dir: string, ...flags: string[]): Promise<string> => await servers.start([join(root, 'bin', 'levelring.js'), 'start', '--node-id', 'bench',
    '--listen', '127.0.0.1:0', '--data', join(dataDir, dir), '--log-level', 'info', '--access-log', 'off', ...flags], withLaunchSettings())
  const gateway = await node('metrics-on')
  const bare = await node('metrics-off', '--metrics', 'off')
  const ceiling = await servers.start([join(here, 'map-http-server.js')])
  const phases: Phase[] = []
  const targets = [['ceiling', ceiling], [WITH_METRICS, gateway], [WITHOUT_METRICS, bare]] as const
  for (const [, address] of targets) await fill(address, 'hot-', READ_KEYS, body)
  // Unmeasured warm-up (JIT, caches), then GETs before PUTs: the PUT phase leaves the engine with
  // compaction work that would otherwise fall on the GET figures.
  for (const [target, address] of targets) await load(target, address, 'GET', body, WARMUP_S)
  // The two nodes swap places every round, so neither always runs right after the ceiling.
  const order = (round: number): ReadonlyArray<readonly [string, string]> => round % 2 === 0 ? targets : [targets[0], targets[2], targets[1]]
  for (let round = 0; round < ROUNDS; round++) {
    for (const [target, address] of order(round)) phases.push(await load(target, address, 'GET', body))
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [target, address] of order(round)) phases.push(await load(target, address, 'PUT', body))
  }
  report(phases, metricsCostNs())
  const failed = phases.filter((p) => p.errors + p.non2xx > 0)
  if (failed.length > 0) {
    process.stderr.write(`requests failed in: ${failed.map((p) => `${p.target} ${p.op} (${p.errors} errors, ${p.non2xx} non-2xx)`).join(', ')}\n`)
    process.exitCode = 1
  }
} finally {
  await servers.stopAll()
  rmSync(dataDir, { recursive: true, force: true })
}
