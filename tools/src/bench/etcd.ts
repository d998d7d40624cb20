import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { freePorts } from './server-processes.js'

// The peer of `npm run bench:cluster`: a 3-member etcd cluster on loopback, started from Debian's
// `etcd-server` package, driven through etcd's own HTTP/JSON gateway (the v3 API that every etcd
// client library speaks, minus gRPC's framing) by the same load generator as levelring.

/** How long the members may take to elect a leader and answer /health. */
const READY_TIMEOUT_MS = 30_000

/**
 * The etcd binary, installed with apt when it is missing and this process may (root); undefined,
 * with the reason on stderr, where it cannot be had.
 */
export function findEtcd (): string | undefined {
  const found = () => {
    const which = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' })
    return which.status === 0 ? which.stdout.trim() : undefined
  }
  const etcd = found()
  if (etcd !== undefined) return etcd
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench:cluster: etcd is not installed and this is not root, so etcd is SKIPPED (apt-get install etcd-server)\n')
    return undefined
  }
  process.stderr.write('bench:cluster: etcd is not installed; installing Debian\'s etcd-server with apt-get...\n')
  const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server'], { stdio: ['ignore', 'ignore', 'inherit'] })
  if (install.status !== 0 || found() === undefined) {
    process.stderr.write('bench:cluster: installing etcd-server failed, so etcd is SKIPPED\n')
    return undefined
  }
  return found()
}

/** The version line etcd prints of itself ("3.4.23"). */
export function etcdVersion (etcd: string): string {
  const out = spawnSync(etcd, ['--version'], { encoding: 'utf8' }).stdout
  return /etcd Version: (\S+)/.exec(out)?.[1] ?? 'unknown'
}

/** Three etcd members on loopback, each with its data directory under `dir`. */
export class EtcdCluster {
  readonly #children: ChildProcess[] = []
  /** host:port of each member's client listener. */
  readonly addresses: string[] = []

  /** The members' process ids, so a bench can read the CPU they spend. */
  get pids (): number[] {
    return this.#children.flatMap((c) => c.pid === undefined ? [] : [c.pid])
  }

  static async start (etcd: string, dir: string): Promise<EtcdCluster> {
    const cluster = new EtcdCluster()
    const ports = await freePorts(6)
    const names = ['etcd1', 'etcd2', 'etcd3']
    const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[3 + i]!}`).join(',')
    names.forEach((name, i) => {
      const data = join(dir, name)
      mkdirSync(data, { recursive: true })
      const client = `http://127.0.0.1:${ports[i]!}`
      const peer = `http://127.0.0.1:${ports[3 + i]!}`
      cluster.#children.push(spawn(etcd, [
        '--name', name, '--data-dir', data,
        '--listen-client-urls', client, '--advertise-client-urls', client,
        '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
        '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', 'levelring-bench',
        // Room for every round's fresh 10 KiB keys without hitting etcd's 2 GiB default alarm.
        '--quota-backend-bytes', String(8 * 1024 ** 3),
        '--log-level', 'error', '--logger', 'zap'
      ], { stdio: ['ignore', 'ignore', 'inherit'] }))
      cluster.addresses.push(client.slice('http://'.length))
    })
    await cluster.#waitReady()
    return cluster
  }

  async #waitReady (): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS
    for (const address of this.addresses) {
      for (;;) {
        try {
          const res = await fetch(`http://${address}/health`)
          const body = await res.json() as { health?: string }
          if (res.ok && body.health === 'true') break
        } catch { /* not listening yet */ }
        if (Date.now() > deadline) throw new Error(`etcd member ${address} not healthy within ${READY_TIMEOUT_MS} ms`)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
  }

  async stop (): Promise<void> {
    for (const child of this.#children) child.kill('SIGTERM')
    await Promise.all(this.#children.map((c) => new Promise((resolve) => { if (c.exitCode !== null || c.signalCode !== null) resolve(null); else c.on('exit', resolve) })))
  }
}

/** The body of etcd's v3 `kv/put` for `key` and `value` (base64 fields, as its JSON gateway wants). */
export function etcdPutBody (key: string, valueBase64: string): string {
  return `{"key":"${Buffer.from(key).toString('base64')}","value":"${valueBase64}"}`
}

/** The body of etcd's v3 `kv/range` reading one key. */
export function etcdRangeBody (key: string): string {
  return `{"key":"${Buffer.from(key).toString('base64')}"}`
}

/** Write `count` keys `${prefix}${i}` through etcd's gateway; throws on any failure. */
export async function etcdFill (address: string, prefix: string, count: number, value: Buffer): Promise<void> {
  const valueBase64 = value.toString('base64')
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://${address}/v3/kv/put`, { method: 'POST', body: etcdPutBody(`${prefix}${i}`, valueBase64) })
    if (!res.ok) throw new Error(`etcd put ${prefix}${i}: ${res.status} ${await res.text()}`)
  }
  const check = await fetch(`http://${address}/v3/kv/range`, { method: 'POST', body: etcdRangeBody(`${prefix}0`) })
  const found = await check.json() as { kvs?: Array<{ value: string }> }
  if (found.kvs?.[0]?.value !== valueBase64) throw new Error('etcd did not read back what it was given')
}
