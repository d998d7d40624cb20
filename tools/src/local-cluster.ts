import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createWriteStream, existsSync, type WriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { CA_CERT_FILE, certFile, keyFile, makeCertificates } from './commands/certs/certificate-authority.js'
import { withLaunchSettings } from '../../gateway/src/node/process-memory.js'

// `npm start`: a local cluster of three levelring nodes, each its own process (`levelring start`)
// on 127.0.0.1:7001-7003 with its data under ./data/node1..3, n=3 and the default quorums
// r = w = 2, sharing a cluster secret generated once into ./data/cluster-secret. Logs go to
// ./data/nodeN.log (warnings and errors are echoed here). Ctrl-C (SIGINT) or SIGTERM stops all
// three cleanly: each gets one SIGTERM, finishes its in-flight requests and closes its engine,
// and this process exits once all have. A second Ctrl-C makes them exit at once.
// With --tls, the nodes serve HTTPS with mutual TLS between them: a cluster CA and a certificate per
// node are made once into ./data/tls (`levelring certs`' files) and reused afterwards.
//
//   node dist/tools/src/local-cluster.js [--ports 7001,7002,7003] [--data ./data] [--tls]

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = join(ROOT, 'bin', 'levelring.js')

/** How long the nodes may take to start listening. */
const START_TIMEOUT_MS = 30_000
/** How long the nodes may take to stop after SIGTERM before they are killed. */
const STOP_TIMEOUT_MS = 20_000
/** pino's level numbers: at or above warn, a node's log line is echoed to this terminal. */
const ECHO_LEVEL = 40

interface LocalNode {
  readonly id: string
  readonly port: number
  readonly dataDir: string
  readonly child: ChildProcess
  readonly log: WriteStream
  readonly exited: Promise<number | null>
}

const { values: args } = parseArgs({
  options: {
    ports: { type: 'string', default: '7001,7002,7003' },
    data: { type: 'string', default: './data' },
    tls: { type: 'boolean', default: false }
  }
})
const ports = args.ports.split(',').map(Number)
if (ports.length !== 3 || ports.some((p) => !Number.isInteger(p) || p < 1 || p > 65535)) {
  fail(`--ports ${args.ports}: give three ports, e.g. 7001,7002,7003`)
}
const dataRoot = resolve(args.data)
const shown = (path: string): string => { const r = relative(process.cwd(), path); return r.startsWith('..') ? path : `./${r}` }
const ids = ports.map((_, i) => `node${i + 1}`)
const nodes: LocalNode[] = []
let stopping = false

process.on('exit', () => { for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL') })

await mkdir(dataRoot, { recursive: true })
for (const port of ports) {
  if (!(await portFree(port))) fail(`127.0.0.1:${port} is in use (a cluster from an earlier npm start still running?); stop it or pass --ports`)
}
const secretFile = await clusterSecret(join(dataRoot, 'cluster-secret'))
const tlsDir = join(dataRoot, 'tls')
if (args.tls) await certificates(tlsDir, ids)
const tlsArgs = (id: string): string[] => args.tls
  ? ['--tls-cert', join(tlsDir, certFile(id)), '--tls-key', join(tlsDir, keyFile(id)), '--tls-ca', join(tlsDir, CA_CERT_FILE)]
  : []

for (const [i, id] of ids.entries()) {
  const dataDir = join(dataRoot, id)
  const peers = ids.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])).join(',')
  const child = spawn(process.execPath, [BIN, 'start', '--node-id', id, '--listen', `127.0.0.1:${ports[i]!}`, '--data', dataDir,
    '--peers', peers, '--replicas', '3', '--cluster-secret-file', secretFile, ...tlsArgs(id)], {
    // Its own process group: a terminal's Ctrl-C reaches only this process, which forwards exactly one SIGTERM.
    detached: true,
    // V8's and malloc's memory settings, which only a launcher can pass (node/process-memory.ts).
    env: withLaunchSettings(process.env),
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const log = createWriteStream(join(dataRoot, `${id}.log`), { flags: 'a' })
  // 'close' (not 'exit'): the pipes are drained by then; and the log is flushed before this resolves.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => log.end(() => resolve(code))))
  nodes.push({ id, port: ports[i]!, dataDir, child, log, exited })
  child.stderr!.pipe(log, { end: false })
  child.stderr!.on('data', (d: Buffer) => process.stderr.write(`[${id}] ${d.toString()}`))
  void exited.then((code) => {
    if (!stopping) process.stderr.write(`[${id}] exited with code ${String(code)}; the other nodes keep running (Ctrl-C stops them)\n`)
  })
}

process.on('SIGINT', () => { void stop('SIGINT') })
process.on('SIGTERM', () => { void stop('SIGTERM') })

try {
  await Promise.all(nodes.map(listening))
} catch (err) {
  process.stderr.write(`levelring: ${(err as Error).message}\n`)
  await stop('SIGTERM', 1)
}

const url = (n: LocalNode): string => `${args.tls ? 'https' : 'http'}://127.0.0.1:${n.port}`
const curl = args.tls ? `curl --cacert ${shown(join(tlsDir, CA_CERT_FILE))}` : 'curl'
process.stdout.write([
  '',
  `levelring: 3 nodes up (n=3, r=w=2${args.tls ? ', HTTPS, mutual TLS between nodes' : ''}), data in ${shown(dataRoot)}, logs in ${shown(join(dataRoot, 'node*.log'))}`,
  ...nodes.map((n) => `  ${n.id}  ${url(n)}`),
  '',
  'Any node serves any request, e.g.:',
  `  ${curl} -i -X PUT --data-binary 'hello' -H 'Content-Type: text/plain' ${url(nodes[0]!)}/v1/kv/greeting`,
  `  ${curl} -i ${url(nodes[1]!)}/v1/kv/greeting`,
  `  ${curl} ${url(nodes[2]!)}/v1/cluster`,
  ...(args.tls ? [`  levelring status --node ${url(nodes[0]!)} --ca ${shown(join(tlsDir, CA_CERT_FILE))}`] : []),
  '',
  'Ctrl-C stops all three.',
  ''
].join('\n'))

/** Resolve when the node logs that it listens; reject if it exits first or takes too long. */
async function listening (node: LocalNode): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${node.id} did not start within ${START_TIMEOUT_MS / 1000} s; see ${shown(join(dataRoot, `${node.id}.log`))}`)), START_TIMEOUT_MS)
    createInterface({ input: node.child.stdout! }).on('line', (line) => {
      node.log.write(line + '\n')
      let entry: { level?: number, msg?: string } = {}
      try { entry = JSON.parse(line) as typeof entry } catch { /* not a log line */ }
      if (typeof entry.msg === 'string' && entry.msg.includes('listening')) { clearTimeout(timer); resolve() }
      if ((entry.level ?? 0) >= ECHO_LEVEL) process.stderr.write(`[${node.id}] ${entry.msg ?? line}\n`)
    })
    void node.exited.then((code) => { clearTimeout(timer); reject(new Error(`${node.id} exited with code ${String(code)} while starting`)) })
  })
}

/**
 * Stop every node: one SIGTERM each (a second signal here sends another, which makes them exit at
 * once), SIGKILL after STOP_TIMEOUT_MS, then exit with `code` (1 when a node did not stop cleanly).
 */
async function stop (signal: NodeJS.Signals, code = 0): Promise<never> {
  const again = stopping
  stopping = true
  if (!again) process.stderr.write(`\nlevelring: ${signal}: stopping ${nodes.length} nodes (in-flight requests finish first)\n`)
  for (const n of nodes) if (n.child.exitCode === null && n.child.signalCode === null) n.child.kill('SIGTERM')
  if (again) return new Promise<never>(() => {}) // the first call exits once all are gone
  const killer = setTimeout(() => {
    for (const n of nodes) if (n.child.exitCode === null) n.child.kill('SIGKILL')
  }, STOP_TIMEOUT_MS)
  const codes = await Promise.all(nodes.map((n) => n.exited))
  clearTimeout(killer)
  const unclean = nodes.filter((_, i) => codes[i] !== 0)
  if (unclean.length > 0) process.stderr.write(`levelring: ${unclean.map((n) => n.id).join(', ')} did not stop cleanly\n`)
  else process.stderr.write('levelring: all nodes stopped\n')
  process.exit(unclean.length > 0 ? 1 : code)
}

/** The cluster secret file, generated (32 random bytes, owner-only) the first time. */
async function clusterSecret (file: string): Promise<string> {
  if (!existsSync(file) || (await readFile(file, 'utf8')).trim().length < 16) {
    await writeFile(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 })
  }
  return file
}

/** The cluster CA and the nodes' certificates in `dir`, made the first time (a node without its files gets new ones). */
async function certificates (dir: string, names: readonly string[]): Promise<void> {
  const missing = names.filter((id) => !existsSync(join(dir, certFile(id))) || !existsSync(join(dir, keyFile(id))))
  if (missing.length > 0 || !existsSync(join(dir, CA_CERT_FILE))) await makeCertificates(dir, { nodes: missing.length > 0 ? missing : names })
}

async function portFree (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)))
  })
}

function fail (message: string): never {
  process.stderr.write(`levelring: ${message}\n`)
  process.exit(1)
}
