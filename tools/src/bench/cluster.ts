import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readFileSync } from 'node:fs'
import { fill, median, ms, PLAIN_HTTP, runLoad, VALUE_BYTES, type LoadFigures, type Transport } from './http-load.js'
import { CA_CERT_FILE, certFile, keyFile, makeCertificates } from '../commands/certs/certificate-authority.js'
import { freePorts, ServerProcesses } from './server-processes.js'

// `npm run bench:cluster`: a 50/50 mix of PUT (a fresh key each) and GET (1,000 preloaded keys) of
// 10 KiB values against a local 3-node cluster (n=3, r=w=2; autocannon spreads its connections over
// the three nodes) beside one node alone (n=1, the gateway benchmark's target), in the same run with
// the same load. Every node is its own process over lsm-level files in a temp directory; loopback
// only; every phase bounded by DURATION_S. The targets alternate for ROUNDS rounds and medians are
// reported, so drift of a shared machine falls on both alike. With LEVELRING_BENCH_TLS=1 a third
// target joins: the same cluster over HTTPS with mutual TLS between its nodes (certificates from
// `levelring certs`), so the cost of TLS is measured beside plain HTTP in the same run.

/** Keys the GETs read (written before the run). */
const READ_KEYS = 1000
/** Seconds per measured phase (env LEVELRING_BENCH_SECONDS overrides, 1..60). */
const DURATION_S = Math.min(60, Math.max(1, Number(process.env.LEVELRING_BENCH_SECONDS ?? 5)))
/** Alternations of the two targets. */
const ROUNDS = 3
/** Unmeasured seconds of load per target before the first round. */
const WARMUP_S = 2
/** Concurrent connections, as in bench:gateway. */
const CONNECTIONS = 16
/** Dynamo's production bar: 99.9% of requests within this (ms). */
const DYNAMO_P999_MS = 300

const here = dirname(fileURLToPath(import.meta.url))
const bin = join(here, '..', '..', '..', '..', 'bin', 'levelring.js')
/**
 * Another build's `bin/levelring.js` (env LEVELRING_BENCH_BASELINE_BIN): its 3-node cluster joins the
 * alternation as a third target, so two builds are measured side by side in one run.
 */
const baselineBin = process.env.LEVELRING_BENCH_BASELINE_BIN === '' ? undefined : process.env.LEVELRING_BENCH_BASELINE_BIN
/** Add the cluster over HTTPS with mutual TLS as a target (env LEVELRING_BENCH_TLS=1). */
const withTls = process.env.LEVELRING_BENCH_TLS === '1'
const dir = mkdtempSync(join(tmpdir(), 'levelring-bench-cluster-'))
const servers = new ServerProcesses()

interface Target { readonly name: string, readonly addresses: readonly string[], readonly transport: Transport }
const TLS_TARGET = '3 nodes over TLS (mutual between nodes)'
const BASELINE_TARGET = '3 nodes, baseline build'

interface Phase extends LoadFigures { readonly target: string }

const putCounters = new Map<string, number>()

/** One phase of the 50/50 mix: each connection alternates a PUT of a fresh key and a GET of a loaded one. */
async function mixed (target: Target, body: Buffer, seconds = DURATION_S): Promise<Phase> {
  let puts = putCounters.get(target.name) ?? 0
  let gets = 0
  const figures = await runLoad(target.addresses, [
    { method: 'PUT', path: () => `/v1/kv/put-${puts++}` },
    { method: 'GET', path: () => `/v1/kv/hot-${gets++ % READ_KEYS}` }
  ], body, CONNECTIONS, seconds, target.transport)
  putCounters.set(target.name, puts)
  return { target: target.name, ...figures }
}

async function startSingle (): Promise<Target> {
  const address = await servers.start([bin, 'start', '--node-id', 'single', '--listen', '127.0.0.1:0', '--data', join(dir, 'single'), '--log-level', 'info'])
  return { name: 'one node (n=1)', addresses: [address], transport: PLAIN_HTTP }
}

async function startCluster (name: string, levelring: string, subdir: string, tls = false): Promise<Target> {
  const secretFile = join(dir, `${subdir}-secret`)
  writeFileSync(secretFile, randomBytes(32).toString('base64url'))
  const ports = await freePorts(3)
  const ids = ['node1', 'node2', 'node3']
  const tlsDir = join(dir, `${subdir}-tls`)
  if (tls) await makeCertificates(tlsDir, { nodes: ids })
  const addresses = await Promise.all(ids.map((id, i) => servers.start([levelring, 'start', '--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`,
    '--data', join(dir, subdir, id), '--peers', ids.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(','),
    '--replicas', '3', '--cluster-secret-file', secretFile, '--log-level', 'info',
    ...(tls ? ['--tls-cert', join(tlsDir, certFile(id)), '--tls-key', join(tlsDir, keyFile(id)), '--tls-ca', join(tlsDir, CA_CERT_FILE)] : [])])))
  return { name, addresses, transport: tls ? { scheme: 'https', ca: readFileSync(join(tlsDir, CA_CERT_FILE)) } : PLAIN_HTTP }
}

function report (targets: readonly Target[], all: readonly Phase[]): void {
  const medians = targets.map((t) => {
    const runs = all.filter((p) => p.target === t.name)
    return {
      target: t.name,
      runs,
      rps: median(runs.map((p) => p.rps)),
      p50: median(runs.map((p) => p.p50)),
      p99: median(runs.map((p) => p.p99)),
      p999: median(runs.map((p) => p.p999)),
      failed: runs.reduce((n, p) => n + p.errors + p.non2xx, 0)
    }
  })
  const single = medians[0]!
  process.stdout.write(`\nbench:cluster — 50/50 PUT/GET of ${VALUE_BYTES / 1024} KiB values, ${CONNECTIONS} connections, ` +
    `medians of ${ROUNDS} rounds of ${DURATION_S} s, ${cpus().length} cores, node ${process.version}\n`)
  console.table(medians.map((m) => ({
    target: m.target,
    'req/s': m.rps.toFixed(0),
    'p50 ms': ms(m.p50),
    'p99 ms': ms(m.p99),
    'p99.9 ms': ms(m.p999),
    'req/s per round': m.runs.map((p) => p.rps.toFixed(0)).join(' '),
    'vs one node': (m.rps / single.rps).toFixed(2),
    errors: m.failed
  })))
  const cluster = medians[1]!
  process.stdout.write(`cluster: ${cluster.rps.toFixed(0)} req/s = ${(cluster.rps / single.rps).toFixed(2)} x one node (${single.rps.toFixed(0)} req/s); ` +
    `p99.9 ${ms(cluster.p999)} ms against Dynamo's bar of ${DYNAMO_P999_MS} ms: ${cluster.p999 < DYNAMO_P999_MS ? 'met' : 'NOT met'}\n`)
  const tls = medians.find((m) => m.target === TLS_TARGET)
  if (tls !== undefined) {
    process.stdout.write(`TLS (HTTPS, mutual TLS between nodes) ÷ plain HTTP: ${(tls.rps / cluster.rps).toFixed(2)}x req/s, p99 ${ms(tls.p99)} against ${ms(cluster.p99)} ms\n`)
  }
  const baseline = medians.find((m) => m.target === BASELINE_TARGET)
  if (baseline !== undefined) {
    process.stdout.write(`this build ÷ baseline build: ${(cluster.rps / baseline.rps).toFixed(2)}x req/s, p99 ${ms(cluster.p99)} against ${ms(baseline.p99)} ms\n`)
  }
}

try {
  const body = Buffer.alloc(VALUE_BYTES, 'levelring ')
  const targets = [await startSingle(), await startCluster('3 nodes (n=3, r=w=2)', bin, 'cluster')]
  if (withTls) targets.push(await startCluster(TLS_TARGET, bin, 'tls', true))
  if (baselineBin !== undefined) targets.push(await startCluster(BASELINE_TARGET, baselineBin, 'baseline'))
  for (const target of targets) await fill(target.addresses[0]!, 'hot-', READ_KEYS, body, target.transport)
  for (const target of targets) await mixed(target, body, WARMUP_S) // JIT, caches, connection pools
  const phases: Phase[] = []
  for (let round = 0; round < ROUNDS; round++) {
    for (const target of targets) phases.push(await mixed(target, body))
  }
  report(targets, phases)
  const failed = phases.filter((p) => p.errors + p.non2xx > 0)
  if (failed.length > 0) {
    process.stderr.write(`requests failed in: ${failed.map((p) => `${p.target} (${p.errors} errors, ${p.non2xx} non-2xx)`).join(', ')}\n`)
    process.exitCode = 1
  }
} finally {
  await servers.stopAll()
  rmSync(dir, { recursive: true, force: true })
}
