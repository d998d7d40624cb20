import { mkdtempSync, rmSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fill, median as middle, ms, runLoad, VALUE_BYTES } from './http-load.js'
import { ServerProcesses } from './server-processes.js'

// `npm run bench:gateway`: PUT and GET of 10 KiB values on one levelring node (lsm-level storage
// in a temp directory) beside a ceiling, a bare node:http server answering from a Map
// (map-http-server.ts), in the same run with the same load. Each server is its own process; the
// load generator (autocannon) runs here. Loopback only; every phase is bounded by DURATION_S.
// The two targets alternate for ROUNDS rounds (C L C L ...) and the medians are reported, so that
// drift of a shared machine over the run falls on both alike.

/** Keys the GET phase reads (written before it starts). */
const READ_KEYS = 1000
/** Seconds per measured phase (env LEVELRING_BENCH_SECONDS overrides, 1..60). */
const DURATION_S = Math.min(60, Math.max(1, Number(process.env.LEVELRING_BENCH_SECONDS ?? 3)))
/** Alternations of the two targets per operation. */
const ROUNDS = 3
/** Unmeasured seconds of load per target before the first round. */
const WARMUP_S = 1
/** Concurrent connections: enough to keep one node process busy. */
const CONNECTIONS = 16

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..', '..', '..', '..')
const dataDir = mkdtempSync(join(tmpdir(), 'levelring-bench-gw-'))
const servers = new ServerProcesses()

interface Phase { target: string, op: 'PUT' | 'GET', rps: number, p50: number, p99: number, errors: number, non2xx: number }

const putCounters = new Map<string, number>()

async function load (target: string, address: string, op: 'PUT' | 'GET', body: Buffer, seconds = DURATION_S): Promise<Phase> {
  let next = putCounters.get(target) ?? 0
  // PUT: a fresh key each time (blind writes to one key would pile up siblings); GET: cycle the loaded keys.
  const path = (): string => `/v1/kv/${op === 'PUT' ? `put-${target}-${next++}` : `hot-${next++ % READ_KEYS}`}`
  const figures = await runLoad([address], [{ method: op, path }], body, CONNECTIONS, seconds)
  if (op === 'PUT') putCounters.set(target, next)
  return { target, op, rps: figures.rps, p50: figures.p50, p99: figures.p99, errors: figures.errors, non2xx: figures.non2xx }
}

/** Median of each figure over the rounds of one (target, op); errors are summed. */
function median (phases: Phase[], target: string, op: 'PUT' | 'GET'): Phase {
  const runs = phases.filter((p) => p.target === target && p.op === op)
  const mid = (f: (p: Phase) => number): number => middle(runs.map(f))
  return {
    target, op, rps: mid((p) => p.rps), p50: mid((p) => p.p50), p99: mid((p) => p.p99),
    errors: runs.reduce((n, p) => n + p.errors, 0), non2xx: runs.reduce((n, p) => n + p.non2xx, 0)
  }
}

function report (all: Phase[]): void {
  const phases = (['PUT', 'GET'] as const).flatMap((op) => [median(all, 'ceiling', op), median(all, 'levelring', op)])
  const rows = phases.map((p) => {
    const ceiling = phases.find((c) => c.op === p.op && c.target === 'ceiling')!
    return {
      op: p.op,
      target: p.target,
      'req/s': p.rps.toFixed(0),
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
    const g = median(all, 'levelring', op)
    const c = median(all, 'ceiling', op)
    process.stdout.write(`${op}: levelring ${g.rps.toFixed(0)} req/s = ${(g.rps / c.rps).toFixed(2)} x the Map ceiling (${c.rps.toFixed(0)} req/s); aim >= 0.5\n`)
  }
}

try {
  const body = Buffer.alloc(VALUE_BYTES, 'levelring ')
  const gateway = await servers.start([join(root, 'bin', 'levelring.js'), 'start', '--node-id', 'bench', '--listen', '127.0.0.1:0',
    '--data', dataDir, '--log-level', 'info'])
  const ceiling = await servers.start([join(here, 'map-http-server.js')])
  const phases: Phase[] = []
  const targets = [['ceiling', ceiling], ['levelring', gateway]] as const
  await fill(gateway, 'hot-', READ_KEYS, body)
  await fill(ceiling, 'hot-', READ_KEYS, body)
  // Unmeasured warm-up (JIT, caches), then GETs before PUTs: the PUT phase leaves the engine with
  // compaction work that would otherwise fall on the GET figures.
  for (const [target, address] of targets) await load(target, address, 'GET', body, WARMUP_S)
  for (let round = 0; round < ROUNDS; round++) {
    for (const [target, address] of targets) phases.push(await load(target, address, 'GET', body))
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [target, address] of targets) phases.push(await load(target, address, 'PUT', body))
  }
  report(phases)
  const failed = phases.filter((p) => p.errors + p.non2xx > 0)
  if (failed.length > 0) {
    process.stderr.write(`requests failed in: ${failed.map((p) => `${p.target} ${p.op} (${p.errors} errors, ${p.non2xx} non-2xx)`).join(', ')}\n`)
    process.exitCode = 1
  }
} finally {
  await servers.stopAll()
  rmSync(dataDir, { recursive: true, force: true })
}
