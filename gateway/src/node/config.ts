import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse } from 'yaml'
import { GatewayError } from '../error/gateway-error.js'
import type { Member } from '../membership/member.js'
import { MAX_WEIGHT } from '../ring/ring.js'
import { assertPartitionCount } from '../ring/partition.js'
import type { QuorumSpec } from '../coordination/quorum.js'
import type { QuorumDefaults } from '../http/kv-routes.js'

/**
 * One other node as configured: `id=host:port` (a cluster member), a bare `host:port` (a peer known
 * only by address, not a member), or in a config file `{ id, address, weight }`.
 */
export type PeerSpec = string | { readonly id: string, readonly address: string, readonly weight?: number }

/** Everything one node is started with. Built by loadConfig from defaults, a file, then flags. */
export interface NodeConfig {
  /** Stable name of the node; also the first part of its actor id. */
  readonly nodeId: string
  /** Where the HTTP server listens; port 0 picks a free one. */
  readonly listen: { readonly host: string, readonly port: number }
  readonly dataDir: string
  /**
   * The other nodes. With ids (`id=host:port`) they and this node form the cluster's static
   * membership, every node derives the same ring from it, and --cluster-secret-file is required.
   * Bare addresses are only shown by /v1/cluster (the node then serves alone).
   */
  readonly peers: readonly PeerSpec[]
  /**
   * Members of a running cluster to join through (host:port of any member): a node started with
   * seeds and not yet in a ring joins that cluster (gossip; the claimant gives it its share).
   * Also who a member gossips with when it knows no live member. Needs --cluster-secret-file.
   */
  readonly seeds: readonly string[]
  /** How often a cluster member gossips: bumps its heartbeat and exchanges its table with a few random peers (ms). */
  readonly gossipIntervalMs: number
  /** Suspicion level (phi) at which this node takes a silent member for down; higher waits longer (fewer false alarms). */
  readonly phiThreshold: number
  /** This node's ring weight: its share of partitions relative to the other members' (Dynamo's strategy 3). */
  readonly weight: number
  /** Replication factor n. */
  readonly replicas: number
  /** Ring partitions Q: a power of two, the same on every node, fixed for the life of a cluster. */
  readonly partitions: number
  readonly maxValueBytes: number
  /** Largest request head (request line plus headers) node's parser accepts; over it: 431. */
  readonly maxHeaderBytes: number
  /** A request must arrive whole within this; slow clients get 408 and are disconnected. */
  readonly requestTimeoutMs: number
  /** The request head must arrive within this. */
  readonly headersTimeoutMs: number
  /** Idle keep-alive connections are closed after this. */
  readonly keepAliveTimeoutMs: number
  readonly defaults: QuorumDefaults
  /** Client bearer tokens, one per line: every request but GET /v1/health needs one (or an admin token). */
  readonly authTokenFile?: string
  /** Operator bearer tokens, one per line: /v1/admin/ needs one; without the file it answers loopback callers only. */
  readonly adminTokenFile?: string
  readonly clusterSecretFile?: string
  /**
   * PEM certificate and key: the node serves HTTPS (clients and peers, one port; plain HTTP is then
   * refused) and calls every peer over https. TLS is cluster-wide: every node has it or none.
   */
  readonly tlsCertFile?: string
  readonly tlsKeyFile?: string
  /** PEM CA (needs tlsCertFile): mutual TLS, /internal/v1/ wants a client certificate it signed; peers' certificates are checked against it. */
  readonly tlsCaFile?: string
  /** Connections one remote address may hold open at once; further ones are closed as soon as they are accepted. */
  readonly maxConnectionsPerPeer: number
  /** Tombstones older than this are reaped. */
  readonly tombstoneGraceMs: number
  /** How often the reaper runs. */
  readonly reapIntervalMs: number
  /** Time between periodic anti-entropy rounds (ms); 0 turns them off (POST /v1/admin/repair still works). */
  readonly antiEntropyIntervalMs: number
  /** Partitions one periodic anti-entropy round compares with their other replicas (round robin). */
  readonly antiEntropyPartitionsPerRound: number
  /** Hints for a member down longer than this go to the key's other replicas instead of waiting for it. */
  readonly hintWindowMs: number
  /** Hints kept for one member at most; past it, its hints go to the key's other replicas. */
  readonly hintsPerMemberMax: number
  /** Test facility: the internode fault-injection switch (/internal/v1/faults, internode/fault-injection.ts). Never in production. */
  readonly enableFaultInjection: boolean
  /** Test facility: added to the wall clock the replica store and anti-entropy age tombstones by (clock skew). Never in production. */
  readonly clockOffsetMs: number
  readonly logLevel: string
}

/** A setting that cannot be used: LEVELRING_BAD_CONFIG, saying which and why. */
export function configError (setting: string, problem: string): GatewayError {
  return new GatewayError('LEVELRING_BAD_CONFIG', `configuration ${setting}: ${problem}`, { setting })
}

/** Node ids are short and URL-, log- and ETag-safe. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/**
 * Default Q. No node should own more than 15% above the mean share for 3 to 64 equal
 * nodes; partition shares differ by at most one, so that needs ceil(Q/m) <= 1.15 * Q/m for every m
 * in 3..64, which Q = 64 meets only up to 14 nodes (25 nodes: 3 against a mean of 2.56) and Q = 512
 * meets for all of them (up to 73). Q is fixed for a cluster's life, so it is chosen for the size a
 * cluster may grow to; 512 partitions cost nothing per request (preference lists are cached per
 * partition) and keep handoff units small. See README, Architecture.
 */
export const DEFAULT_CLUSTER_PARTITIONS = 512

/** The defaults, chosen for a single node on loopback. */
export const DEFAULT_CONFIG: NodeConfig = Object.freeze<NodeConfig>({
  nodeId: 'n1',
  listen: { host: '127.0.0.1', port: 7001 },
  dataDir: './data/n1',
  peers: [],
  seeds: [],
  // The gossip period the failure detector's defaults (membership/phi-accrual.ts) are tuned to.
  gossipIntervalMs: 1_000,
  phiThreshold: 8,
  weight: 1,
  replicas: 1,
  partitions: DEFAULT_CLUSTER_PARTITIONS,
  maxValueBytes: 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  // A peer node's internode pool (CONNECTIONS_PER_PEER, 64) and the clients on its machine, with room
  // to spare; one machine (a proxy, or every node and client of a loopback cluster) may need more.
  maxConnectionsPerPeer: 512,
  defaults: { r: 'quorum', pr: 0, w: 'quorum', dw: 0, pw: 0, timeoutMs: 5_000 },
  tombstoneGraceMs: 86_400_000,
  reapIntervalMs: 60_000,
  // A round whose roots all match costs one small call per peer; 64 partitions every 5 s sweep a
  // node's ~300 partitions (Q = 512, 5 nodes, n = 3) in under 30 s.
  antiEntropyIntervalMs: 5_000,
  antiEntropyPartitionsPerRound: 64,
  // Cassandra's max_hint_window: past it, anti-entropy is the cheaper way to catch the member up.
  hintWindowMs: 10_800_000,
  hintsPerMemberMax: 1_000_000,
  enableFaultInjection: false,
  clockOffsetMs: 0,
  logLevel: 'info'
})

/** Flags of `levelring start`, as commander parses them. */
export interface StartFlags {
  readonly nodeId?: string
  readonly listen?: string
  readonly data?: string
  readonly peers?: string
  readonly seeds?: string
  readonly phiThreshold?: string
  readonly weight?: string
  readonly partitions?: string
  readonly config?: string
  readonly replicas?: string
  readonly authTokenFile?: string
  readonly adminTokenFile?: string
  readonly clusterSecretFile?: string
  readonly tlsCert?: string
  readonly tlsKey?: string
  readonly tlsCa?: string
  readonly maxConnectionsPerPeer?: string
  readonly logLevel?: string
  readonly enableFaultInjection?: boolean
}

/**
 * Build a node's configuration: DEFAULT_CONFIG, overridden by the YAML or JSON file named by
 * `--config` (same field names as NodeConfig, `listen` as "host:port"), overridden by flags.
 * Throws LEVELRING_BAD_CONFIG naming the first bad setting.
 */
export function loadConfig (flags: StartFlags): NodeConfig {
  const file = flags.config === undefined ? {} : readConfigFile(flags.config)
  const merged: Record<string, any> = { ...DEFAULT_CONFIG, ...file, defaults: { ...DEFAULT_CONFIG.defaults, ...(file.defaults ?? {}) } }
  if (typeof merged.listen === 'string') merged.listen = parseListen('listen', merged.listen)
  if (flags.nodeId !== undefined) merged.nodeId = flags.nodeId
  if (flags.listen !== undefined) merged.listen = parseListen('--listen', flags.listen)
  if (flags.data !== undefined) merged.dataDir = flags.data
  else if (file.dataDir === undefined) merged.dataDir = `./data/${String(merged.nodeId)}`
  if (flags.peers !== undefined) merged.peers = flags.peers.split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (flags.seeds !== undefined) merged.seeds = flags.seeds.split(',').map((p) => p.trim()).filter((p) => p !== '')
  if (flags.phiThreshold !== undefined) merged.phiThreshold = Number(flags.phiThreshold)
  if (flags.weight !== undefined) merged.weight = Number(flags.weight)
  if (flags.partitions !== undefined) merged.partitions = Number(flags.partitions)
  if (flags.replicas !== undefined) merged.replicas = Number(flags.replicas)
  else if (file.replicas === undefined && ((merged.peers as unknown[]).length > 0 || (merged.seeds as unknown[]).length > 0)) merged.replicas = 3
  if (flags.authTokenFile !== undefined) merged.authTokenFile = flags.authTokenFile
  if (flags.adminTokenFile !== undefined) merged.adminTokenFile = flags.adminTokenFile
  if (flags.clusterSecretFile !== undefined) merged.clusterSecretFile = flags.clusterSecretFile
  if (flags.tlsCert !== undefined) merged.tlsCertFile = flags.tlsCert
  if (flags.tlsKey !== undefined) merged.tlsKeyFile = flags.tlsKey
  if (flags.tlsCa !== undefined) merged.tlsCaFile = flags.tlsCa
  if (flags.maxConnectionsPerPeer !== undefined) merged.maxConnectionsPerPeer = Number(flags.maxConnectionsPerPeer)
  if (flags.logLevel !== undefined) merged.logLevel = flags.logLevel
  if (flags.enableFaultInjection === true) merged.enableFaultInjection = true
  return validate(merged)
}

/** Parse "host:port", "[v6]:port" or a bare port (loopback). */
export function parseListen (setting: string, value: string): { host: string, port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(value) ?? /^([^:[\]]+):([0-9]{1,5})$/.exec(value) ??
    /^:?()([0-9]{1,5})$/.exec(value)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) throw configError(setting, `${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:7001)`)
  return { host: m[1] === '' ? '127.0.0.1' : m[1]!, port }
}

function readConfigFile (path: string): Record<string, any> {
  let text: string
  try {
    text = readFileSync(resolve(path), 'utf8')
  } catch (err) {
    throw configError('--config', `cannot read ${path}: ${(err as Error).message}`)
  }
  const parsed: unknown = parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw configError('--config', `${path} must hold a mapping of settings`)
  }
  return parsed as Record<string, any>
}

function validate (c: Record<string, any>): NodeConfig {
  if (typeof c.nodeId !== 'string' || !NODE_ID_PATTERN.test(c.nodeId)) {
    throw configError('nodeId', `${JSON.stringify(c.nodeId)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw configError('dataDir', 'must be a directory path')
  if (!Array.isArray(c.peers)) throw configError('peers', 'must be a list of id=host:port (or host:port)')
  positiveInteger(c, 'weight', MAX_WEIGHT)
  positiveInteger(c, 'replicas', 255)
  positiveInteger(c, 'partitions', 65536)
  try {
    assertPartitionCount(c.partitions)
  } catch (err) {
    throw configError('partitions', (err as Error).message)
  }
  if (!Array.isArray(c.seeds)) throw configError('seeds', 'must be a list of host:port')
  checkPeerSchemes(c.peers, c.seeds, c.tlsCertFile !== undefined)
  c.seeds = c.seeds.map((seed: unknown, i: number) => {
    if (typeof seed !== 'string') throw configError(`seeds[${i}]`, 'must be host:port')
    return peerAddress(`seeds[${i}]`, seed)
  })
  positiveInteger(c, 'gossipIntervalMs', 60_000)
  if (typeof c.phiThreshold !== 'number' || !Number.isFinite(c.phiThreshold) || c.phiThreshold <= 0 || c.phiThreshold > 100) {
    throw configError('phiThreshold', `${JSON.stringify(c.phiThreshold)} must be a number above 0 and at most 100 (8 by default)`)
  }
  const members = peerMembers(c as NodeConfig)
  if (c.seeds.length > 0 && c.clusterSecretFile === undefined) {
    throw configError('clusterSecretFile', 'a node joining through --seeds needs --cluster-secret-file: the same secret file as the cluster it joins')
  }
  if (members !== undefined && c.clusterSecretFile === undefined) {
    throw configError('clusterSecretFile', 'a node with cluster members (--peers id=host:port) needs --cluster-secret-file: ' +
      'the same secret file on every node authenticates internode calls and signs causal contexts')
  }
  for (const name of ['authTokenFile', 'adminTokenFile', 'clusterSecretFile', 'tlsCertFile', 'tlsKeyFile', 'tlsCaFile']) {
    if (c[name] !== undefined && (typeof c[name] !== 'string' || c[name] === '')) throw configError(name, 'must be a file path')
  }
  if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) {
    throw configError(c.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile', 'TLS needs both --tls-cert and --tls-key (PEM files)')
  }
  if (c.tlsCaFile !== undefined && c.tlsCertFile === undefined) {
    throw configError('tlsCaFile', 'mutual TLS (--tls-ca) needs the node\'s own certificate too: give --tls-cert and --tls-key')
  }
  positiveInteger(c, 'maxConnectionsPerPeer', 1_000_000)
  positiveInteger(c, 'maxValueBytes', 512 * 1024 * 1024)
  positiveInteger(c, 'maxHeaderBytes', 1024 * 1024)
  positiveInteger(c, 'requestTimeoutMs', 3_600_000)
  positiveInteger(c, 'headersTimeoutMs', 3_600_000)
  positiveInteger(c, 'keepAliveTimeoutMs', 3_600_000)
  positiveInteger(c, 'tombstoneGraceMs', Number.MAX_SAFE_INTEGER)
  positiveInteger(c, 'reapIntervalMs', 86_400_000)
  if (c.antiEntropyIntervalMs !== 0) positiveInteger(c, 'antiEntropyIntervalMs', 86_400_000)
  positiveInteger(c, 'antiEntropyPartitionsPerRound', 65536)
  positiveInteger(c, 'hintWindowMs', 30 * 86_400_000)
  positiveInteger(c, 'hintsPerMemberMax', 1_000_000_000)
  if (!Number.isSafeInteger(c.clockOffsetMs) || Math.abs(c.clockOffsetMs) > 30 * 86_400_000) {
    throw configError('clockOffsetMs', `${JSON.stringify(c.clockOffsetMs)} must be an integer of ms within ±30 days`)
  }
  if (typeof c.enableFaultInjection !== 'boolean') throw configError('enableFaultInjection', `${JSON.stringify(c.enableFaultInjection)} must be true or false`)
  for (const name of ['r', 'pr', 'w', 'dw', 'pw'] as const) quorumSpec(`defaults.${name}`, c.defaults[name], c.replicas)
  positiveInteger(c.defaults, 'timeoutMs', 600_000, 'defaults.timeoutMs')
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(c.logLevel)) {
    throw configError('logLevel', `${JSON.stringify(c.logLevel)} is not a pino level`)
  }
  return c as NodeConfig
}

/**
 * The cluster's other founding members, when `config.peers` names them with ids; undefined when the
 * node has no peers or only bare addresses. Throws LEVELRING_BAD_CONFIG for a malformed entry, a mix of the
 * two forms, a repeated id or address, or this node's own id.
 */
export function peerMembers (config: Pick<NodeConfig, 'nodeId' | 'peers'>): Member[] | undefined {
  const parsed = config.peers.map((spec, i) => parsePeer(spec, i))
  const members = parsed.filter((p): p is Member => p.id !== undefined)
  if (members.length === 0) return undefined
  if (members.length !== parsed.length) {
    throw configError('peers', 'mixes id=host:port and bare host:port entries; give every peer its node id (id=host:port)')
  }
  const ids = new Set<string>([config.nodeId])
  const addresses = new Set<string>()
  for (const m of members) {
    if (ids.has(m.id)) {
      throw configError('peers', m.id === config.nodeId
        ? `lists this node's own id ${m.id}; list only the other nodes`
        : `lists node id ${m.id} twice; ids are unique in a cluster`)
    }
    if (addresses.has(m.address)) throw configError('peers', `lists address ${m.address} twice; every node has its own`)
    ids.add(m.id)
    addresses.add(m.address)
  }
  return members
}

/** True when the node is a cluster member: started with --peers id=host:port or with --seeds. */
export function isClusterMember (config: Pick<NodeConfig, 'nodeId' | 'peers' | 'seeds'>): boolean {
  return peerMembers(config) !== undefined || config.seeds.length > 0
}

/** The address of every configured peer, with or without an id. */
export function peerAddresses (config: Pick<NodeConfig, 'peers'>): string[] {
  return config.peers.map((spec, i) => parsePeer(spec, i).address)
}

function parsePeer (spec: PeerSpec, index: number): { id?: string, address: string, weight: number } {
  const setting = `peers[${index}]`
  if (typeof spec === 'string') {
    const eq = spec.indexOf('=')
    if (eq === -1) return { address: peerAddress(setting, spec), weight: 1 }
    return { id: peerId(setting, spec.slice(0, eq)), address: peerAddress(setting, spec.slice(eq + 1)), weight: 1 }
  }
  if (spec === null || typeof spec !== 'object' || typeof spec.id !== 'string' || typeof spec.address !== 'string') {
    throw configError(setting, 'must be "id=host:port" or { id, address, weight }')
  }
  const weight = spec.weight ?? 1
  if (!Number.isSafeInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
    throw configError(`${setting}.weight`, `${JSON.stringify(weight)} must be an integer from 1 to ${MAX_WEIGHT}`)
  }
  return { id: peerId(setting, spec.id), address: peerAddress(setting, spec.address), weight }
}

function peerId (setting: string, id: string): string {
  if (!NODE_ID_PATTERN.test(id)) throw configError(setting, `node id ${JSON.stringify(id)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  return id
}

/**
 * TLS is cluster-wide, so a node reaches every peer with its own scheme: a peer or seed written as a
 * URL must use it (http:// on a node without TLS, https:// on one with).
 */
function checkPeerSchemes (peers: readonly unknown[], seeds: readonly unknown[], tls: boolean): void {
  const wrong = tls ? 'http://' : 'https://'
  for (const [setting, list] of [['peers', peers], ['seeds', seeds]] as const) {
    for (const [i, spec] of list.entries()) {
      const text = typeof spec === 'string' ? spec : (spec as { address?: unknown } | null)?.address
      if (typeof text !== 'string' || !text.slice(text.indexOf('=') + 1).startsWith(wrong)) continue
      throw configError(`${setting}[${i}]`, `${JSON.stringify(text)}: ${tls
        ? 'this node serves TLS (--tls-cert), and TLS is cluster-wide: every peer is reached over https; write host:port or https://host:port'
        : 'this node has no TLS (--tls-cert), and TLS is cluster-wide: no peer is reached over https; give every node --tls-cert or none'}`)
    }
  }
}

/** host:port, also accepted as http://host:port or https://host:port (the scheme is the cluster's: checkPeerSchemes). */
function peerAddress (setting: string, value: string): string {
  const scheme = /^https?:\/\//.exec(value)?.[0] ?? ''
  const bare = value.slice(scheme.length).replace(/\/$/, '')
  const { host, port } = parseListen(setting, bare)
  if (port === 0) throw configError(setting, `${JSON.stringify(value)} needs a real port, not 0`)
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function positiveInteger (c: Record<string, any>, name: string, max: number, label = name): void {
  const v = c[name]
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw configError(label, `${JSON.stringify(v)} must be an integer from 1 to ${max}`)
}

function quorumSpec (label: string, v: unknown, n: number): asserts v is QuorumSpec {
  if (v === 'one' || v === 'quorum' || v === 'all') return
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= n) return
  throw configError(label, `${JSON.stringify(v)} must be one, quorum, all or a count from 0 to replicas (${n})`)
}
