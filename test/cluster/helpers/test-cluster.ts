import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { DEFAULT_CONFIG } from '../../../gateway/src/node/config.js'
import { Ring } from '../../../gateway/src/ring/ring.js'
import { InternodeAuth } from '../../../gateway/src/internode/internode-auth.js'
import { keyPath, REPLICAS_PATH } from '../../../gateway/src/internode/internode-protocol.js'
import { decodeObject } from '../../../gateway/src/replica/object-codec.js'
import type { StoredObject } from '../../../gateway/src/replica/stored-object.js'
import { freePorts, sleep } from '../../support/process.js'
import { makeTempDir, removeDir } from '../../support/temp-dir.js'

// Real clusters for tests: every node is its own `levelring start` process (the built dist/, as
// `npm test` builds first) on 127.0.0.1 with a free port and its own lsm-level data directory in a
// fresh temp directory; they share a generated cluster secret. Everything is bounded in time and
// cleaned up: close() stops every process (SIGKILL after a grace period) and removes the files,
// and a process exit kills whatever is left.

const BIN = fileURLToPath(new URL('../../../bin/levelring.js', import.meta.url))

/** How long a node may take to start listening. */
const START_TIMEOUT_MS = 20_000
/** How long a node may take to stop after SIGTERM before it is killed. */
const STOP_TIMEOUT_MS = 10_000

const everyChild = new Set<ChildProcess>()
process.once('exit', () => { for (const child of everyChild) child.kill('SIGKILL') })

export interface ClusterOptions {
  /** Nodes (default 3). */
  readonly size?: number
  /** Replication factor n (default 3). */
  readonly replicas?: number
  /** Default quorum parameters of every node (default r = w = quorum). */
  readonly defaults?: Readonly<Record<string, string | number>>
  /** Extra settings of every node's config file (a function gets the cluster's directory). */
  readonly settings?: Readonly<Record<string, unknown>> | ((dir: string) => Readonly<Record<string, unknown>>)
  /** Extra settings of one node's config file (e.g. its zone), by its id and index. */
  readonly nodeSettings?: (id: string, index: number) => Readonly<Record<string, unknown>>
  /** Turn client authentication on with this bearer token (--auth-token-file). */
  readonly bearerToken?: string
  /** The cluster secret (default: one generated for the cluster). */
  readonly secret?: string
  /** How long each node may take to start listening (default START_TIMEOUT_MS; long runs on a loaded machine give more). */
  readonly startTimeoutMs?: number
}

/** One node process of a test cluster. */
export class ClusterNode {
  readonly id: string
  readonly address: string
  readonly dataDir: string
  readonly #configFile: string
  /** How long start() waits for the process to listen. */
  startTimeoutMs = START_TIMEOUT_MS
  #child: ChildProcess | undefined
  #exited: Promise<number | null> = Promise.resolve(null)
  /** Every JSON log line of the current process. */
  lines: Array<Record<string, any>> = []
  stderr = ''

  constructor (id: string, address: string, dataDir: string, configFile: string) {
    this.id = id
    this.address = address
    this.dataDir = dataDir
    this.#configFile = configFile
  }

  get url (): string { return `http://${this.address}` }
  get running (): boolean { return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null }

  /** Start the process and wait until it listens. */
  async start (): Promise<void> {
    if (this.running) throw new Error(`node ${this.id} is already running`)
    const child = spawn(process.execPath, [BIN, 'start', '--config', this.#configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    everyChild.add(child)
    this.#child = child
    this.lines = []
    this.stderr = ''
    this.#exited = new Promise((resolve) => child.once('exit', (code) => { everyChild.delete(child); resolve(code) }))
    child.stderr!.on('data', (d) => { this.stderr += String(d) })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`node ${this.id} did not listen within ${this.startTimeoutMs} ms: ${this.stderr}`)), this.startTimeoutMs)
      createInterface({ input: child.stdout! }).on('line', (line) => {
        let entry: Record<string, any>
        try { entry = JSON.parse(line) as Record<string, any> } catch { return }
        this.lines.push(entry)
        if (typeof entry.msg === 'string' && entry.msg.includes('listening')) { clearTimeout(timer); resolve() }
      })
      void this.#exited.then((code) => { clearTimeout(timer); reject(new Error(`node ${this.id} exited ${String(code)} while starting: ${this.stderr}`)) })
    })
  }

  /** Freeze the process (SIGSTOP): it keeps its sockets but answers nothing, like a hung machine. */
  pause (): void {
    this.#child?.kill('SIGSTOP')
  }

  /** Let a paused process run again (SIGCONT). */
  resume (): void {
    this.#child?.kill('SIGCONT')
  }

  /** Stop the process with SIGTERM (clean shutdown), SIGKILL if it takes too long; resolves with its exit code. */
  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.#child
    if (child === undefined || !this.running) return this.#exited
    child.kill('SIGCONT') // a paused process would hold the signal until resumed
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
    const code = await this.#exited
    clearTimeout(timer)
    return code
  }
}

/** A running cluster of node processes sharing one secret and one membership. */
export class TestCluster {
  readonly nodes: readonly ClusterNode[]
  readonly dir: string
  readonly replicas: number
  readonly partitions: number
  #secret: Buffer
  readonly #clientHeaders: Record<string, string>

  private constructor (nodes: ClusterNode[], dir: string, secret: string, replicas: number, partitions: number, bearer?: string) {
    this.#clientHeaders = bearer === undefined ? {} : { Authorization: `Bearer ${bearer}` }
    this.nodes = nodes
    this.dir = dir
    this.replicas = replicas
    this.partitions = partitions
    this.#secret = Buffer.from(secret, 'utf8')
  }

  /** Start a cluster; rejects (after cleaning up) if a node fails to start. */
  static async start (options: ClusterOptions = {}): Promise<TestCluster> {
    const size = options.size ?? 3
    const replicas = options.replicas ?? 3
    const dir = makeTempDir('levelring-cluster')
    const secret = options.secret ?? `test-secret-${process.pid}-${Date.now()}-0123456789`
    await writeFile(join(dir, 'secret'), secret)
    const settings = { ...(typeof options.settings === 'function' ? options.settings(dir) : options.settings) }
    if (options.bearerToken !== undefined) {
      await writeFile(join(dir, 'tokens'), `${options.bearerToken}\n`)
      settings.authTokenFile = join(dir, 'tokens')
    }
    const ports = await freePorts(size)
    const ids = Array.from({ length: size }, (_, i) => `node${i + 1}`)
    const nodes: ClusterNode[] = []
    for (const [i, id] of ids.entries()) {
      const address = `127.0.0.1:${ports[i]!}`
      const config = {
        nodeId: id,
        listen: address,
        dataDir: join(dir, id),
        peers: ids.flatMap((other, j) => (j === i ? [] : [`${other}=127.0.0.1:${ports[j]!}`])),
        replicas,
        clusterSecretFile: join(dir, 'secret'),
        logLevel: 'info',
        ...settings,
        ...options.nodeSettings?.(id, i),
        defaults: { r: 'quorum', w: 'quorum', timeoutMs: 3_000, ...options.defaults }
      }
      const file = join(dir, `${id}.json`)
      await writeFile(file, JSON.stringify(config))
      nodes.push(new ClusterNode(id, address, config.dataDir, file))
    }
    const partitions = (settings.partitions as number | undefined) ?? DEFAULT_CONFIG.partitions
    if (options.startTimeoutMs !== undefined) for (const n of nodes) n.startTimeoutMs = options.startTimeoutMs
    const cluster = new TestCluster(nodes, dir, secret, replicas, partitions, options.bearerToken)
    try {
      await Promise.all(nodes.map((n) => n.start()))
      await cluster.settled()
    } catch (err) {
      await cluster.close()
      throw err
    }
    return cluster
  }

  /**
   * Wait until every running node sees every other running node up (gossip heartbeats reach it):
   * nodes start in parallel, so the first exchanges may find a peer not yet
   * listening, and a write forwarded meanwhile would skip it. Bounded: throws after 10 s.
   */
  async settled (): Promise<void> {
    const running = this.nodes.filter((n) => n.running)
    for (let i = 0; i < 100; i++) {
      const views = await Promise.all(running.map(async (n) => (await fetch(`${n.url}/v1/cluster`, { headers: this.#clientHeaders })).json() as Promise<{ peers: Array<{ id: string, status: string }>, recovery?: { state: string } }>))
      // A node that started with an empty directory asks its peers whether it lost data first.
      if (views.every((v) => v.recovery?.state !== 'probing' && v.peers.every((p) => p.status === 'up' || !running.some((n) => n.id === p.id)))) return
      await sleep(100)
    }
    throw new Error('the nodes did not all see each other up within 10 s')
  }

  /** The node with this id. */
  node (id: string): ClusterNode {
    const node = this.nodes.find((n) => n.id === id)
    if (node === undefined) throw new Error(`no node ${id}`)
    return node
  }

  /** Signs and checks internode calls with the cluster secret the harness signs with, as node `caller` would. */
  signer (caller = 'test-harness', now?: () => number): InternodeAuth {
    return new InternodeAuth([this.#secret], caller, { now })
  }

  /**
   * Write `secrets` (one a line) into the secret file every node reads when it starts, and sign the
   * harness's calls with the first from now on. Nodes see it only once restarted (a rolling restart).
   */
  async writeSecrets (secrets: readonly string[]): Promise<void> {
    await writeFile(join(this.dir, 'secret'), secrets.join('\n') + '\n')
    this.#secret = Buffer.from(secrets[0]!, 'utf8')
  }

  /**
   * An internode call to `node`, signed with the cluster secret as a node would sign it (for
   * `node`'s id, fresh timestamp and nonce; the caller is `caller`, by default 'test-harness').
   * The answer's signature is not checked here.
   */
  async internodeFetch (node: ClusterNode, path: string, init: { method?: string, headers?: Record<string, string>, body?: Uint8Array | string, caller?: string } = {}): Promise<Response> {
    const method = init.method ?? 'GET'
    const body = typeof init.body === 'string' ? Buffer.from(init.body) : init.body
    const signed = this.signer(init.caller).signRequest(method, path, body, node.id)
    return fetch(node.url + path, { method, headers: { ...init.headers, ...signed }, body })
  }

  /** The ring every node derives (the same derivation as the nodes'). */
  ring (): Ring {
    return Ring.create(this.nodes.map((n) => ({ id: n.id, weight: 1 })), { partitionCount: this.partitions })
  }

  /** The ids of the nodes that replicate `key`, in preference order. */
  preferenceList (key: string): string[] {
    const ring = this.ring()
    return ring.preferenceList(ring.partitionOf(key), this.replicas)
  }

  /** What `node` stores for `key`, read with the internode replica read (which never repairs). */
  async replicaRead (node: ClusterNode, key: string): Promise<StoredObject | undefined> {
    const res = await this.internodeFetch(node, keyPath(REPLICAS_PATH, key))
    if (res.status === 404 || (res.status === 203 && res.headers.get('content-length') === '0')) return undefined
    if (res.status !== 200 && res.status !== 203) throw new Error(`replica read of ${key} at ${node.id}: ${res.status} ${await res.text()}`)
    return decodeObject(key, new Uint8Array(await res.arrayBuffer()))
  }

  /** Stop every node and remove the cluster's files. */
  async close (): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    removeDir(this.dir)
  }
}
