import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { Ajv } from 'ajv'
import { parseYaml } from '../encoding/yaml.js'
import { GatewayError } from '../error/gateway-error.js'
import type { Member } from '../membership/member.js'
import { assertZoneName, MAX_WEIGHT } from '../ring/ring.js'
import { assertPartitionCount } from '../ring/partition.js'
import type { QuorumSpec } from '../coordination/quorum.js'
import type { QuorumDefaults } from '../http/kv-routes.js'
import { camel, envName, fileSchema, flagKey, flagName, NODE_ID_PATTERN, SETTINGS, type Setting } from './config-schema.js'

/**
 * One other node as configured: `id=host:port` (a cluster member), a bare `host:port` (a peer known
 * only by address, not a member), or in a config file `{ id, address, weight }`.
 */
export type PeerSpec = string | { readonly id: string, readonly address: string, readonly weight?: number }

/** Everything one node is started with. Built by loadConfig from defaults, a file, env, then flags (config-schema.ts lists them). */
export interface NodeConfig {
  /** Stable name of the node; also the first part of its actor id. */
  readonly nodeId: string
  /** Where the HTTP server listens; port 0 picks a free one. */
  readonly listen: { readonly host: string, readonly port: number }
  /** host:port the other nodes reach this one at; undefined: the bound address. */
  readonly advertise?: string
  readonly dataDir: string
  /**
   * The other nodes. With ids (`id=host:port`) they and this node form the cluster's static
   * membership, every node derives the same ring from it, and --cluster-secret-file is required.
   * Bare addresses are only shown by /v1/cluster (the node then serves alone).
   */
  readonly peers: readonly PeerSpec[]
  /**
   * Seed nodes (host:port of any member, or of every founding node): a node started with seeds and
   * not yet in a ring joins their cluster (gossip; the claimant gives it its share), or, when none
   * of them has a ring, founds one with them (membership/seed-founding.ts). Also who a member
   * gossips with when it knows no live member. Needs --cluster-secret-file.
   */
  readonly seeds: readonly string[]
  /** How often a cluster member gossips: bumps its heartbeat and exchanges its table with a few random peers (ms). */
  readonly gossipIntervalMs: number
  /** Suspicion level (phi) at which this node takes a silent member for down; higher waits longer (fewer false alarms). */
  readonly phiThreshold: number
  /** This node's ring weight: its share of partitions relative to the other members' (Dynamo's strategy 3). */
  readonly weight: number
  /** This node's zone (data center, rack): a key's replicas go to as many distinct zones as there are. Every node in DEFAULT_ZONE: one zone. */
  readonly zone: string
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
  /** How long a stopping node lets in-flight requests finish before it cuts connections. */
  readonly shutdownGraceMs: number
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
  /** Anti-entropy buckets per partition (a power of two); unset: derived from Q (merkle-shape.ts defaultBucketCount). */
  readonly aaeBuckets?: number
  /** Engine tuning (the node's defaults are in config-schema.ts; undefined only in configs built by hand: lsm-level's defaults). */
  readonly writeBufferSize?: number
  readonly blockCacheSize?: number
  readonly maxOpenFiles?: number
  /** V8's heap growth between full collections, in percent of what survived the last one; 0: V8's own (process-wide: `levelring start` applies it, node/process-memory.ts). */
  readonly heapGrowingPercent: number
  /** Hints for a member down longer than this go to the key's other replicas instead of waiting for it. */
  readonly hintWindowMs: number
  /** Hints kept for one member at most; past it, its hints go to the key's other replicas. */
  readonly hintsPerMemberMax: number
  /** Test facility: the internode fault-injection switch (/internal/v1/faults, internode/fault-injection.ts). Never in production. */
  readonly enableFaultInjection: boolean
  /** Test facility: added to the wall clock the replica store and anti-entropy age tombstones by (clock skew). Never in production. */
  readonly clockOffsetMs: number
  readonly logLevel: string
  /** GET /metrics and the counters behind it (on by default; off only to measure what they cost). */
  readonly metrics: boolean
  /** One info log line per client request (and per internode call serving one). */
  readonly accessLog: boolean
  /** How access log lines show keys: hash (the same on every node), redact, or plain. */
  readonly accessLogKeys: 'hash' | 'redact' | 'plain'
  /** On shutdown, how long the node keeps serving with /v1/ready answering 503, so load balancers take it out first (ms). */
  readonly readinessDrainMs: number
}

/** A setting that cannot be used: LEVELRING_BAD_CONFIG, saying which and why. */
export function configError (setting: string, problem: string): GatewayError {
  return new GatewayError('LEVELRING_BAD_CONFIG', `configuration ${setting}: ${problem}`, { setting })
}

export { NODE_ID_PATTERN } from './config-schema.js'

export { DEFAULT_CLUSTER_PARTITIONS } from './config-schema.js'

/** The defaults (config-schema.ts), chosen for a single node on loopback. */
export const DEFAULT_CONFIG: NodeConfig = Object.freeze(resolve([]))

/**
 * Flags of `levelring start`, as commander parses them: keyed by flagKey(name) (`nodeId`,
 * `defaultsW`), text (booleans true); `config` names the file.
 */
export type StartFlags = Readonly<Record<string, string | boolean | undefined>>

/** One layer of settings (a file, the environment, the flags) and where it came from, for error messages. */
interface Layer {
  readonly values: Record<string, unknown>
  /** How to name a setting of this layer: `replicas in node.yaml`, `LEVELRING_REPLICAS`, `--replicas`. */
  readonly label: (name: string, sub?: string) => string
}

/**
 * Build a node's configuration: the defaults, overridden by the YAML or JSON file named by `--config`
 * (or LEVELRING_CONFIG), overridden by `LEVELRING_<FLAG>` environment variables, overridden by flags.
 * The file's keys, the flags and the variables are the same names (config-schema.ts). Throws
 * LEVELRING_BAD_CONFIG naming the first unknown key or bad value and where it came from.
 */
export function loadConfig (flags: StartFlags, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const file = typeof flags.config === 'string' ? flags.config : env.LEVELRING_CONFIG
  const layers: Layer[] = []
  if (file !== undefined && file !== '') layers.push(fileLayer(file, readConfigFile(file)))
  layers.push(textLayer(env, envName, (s) => envName(s.name)))
  layers.push(textLayer(flags, (name) => flagKey(name), (s) => flagName(s.name), true))
  return resolve(layers)
}

/** Check a config file alone (`levelring config check`): the resolved configuration, or LEVELRING_BAD_CONFIG. */
export function checkConfigFile (path: string): NodeConfig {
  return resolve([fileLayer(path, readConfigFile(path))])
}

/** The file's values by setting name, after the schema accepted them (unknown keys refused, a near name suggested). */
function fileLayer (path: string, raw: Record<string, unknown>): Layer {
  const normal = normalizeKeys(path, raw)
  const validateFile = ajv().compile(fileSchema())
  if (!validateFile(normal)) {
    const err = validateFile.errors![0]!
    const where = err.instancePath.slice(1).replaceAll('/', '.')
    if (err.keyword === 'additionalProperties') {
      const key = [where, (err.params as { additionalProperty: string }).additionalProperty].filter((k) => k !== '').join('.')
      const near = nearestSetting(key)
      throw configError(`${key} in ${path}`, `unknown setting${near === undefined ? '' : `; did you mean ${near}?`} (levelring config reference lists them)`)
    }
    const setting = SETTINGS.find((s) => where === s.name || where.startsWith(`${s.name}.`))
    const name = setting?.name ?? where
    throw configError(`${name} in ${path}`, `${JSON.stringify(valueAt(normal, name))} ${err.message ?? 'is not valid'}${hintOf(setting)}`)
  }
  const values: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    const v = valueAt(normal, s.name)
    if (v !== undefined) values[s.name] = v
  }
  return { values, label: (name, sub = '') => `${name}${sub} in ${path}` }
}

/** Values given as text (environment variables, flags), parsed by their setting's kind and checked by its schema. */
function textLayer (source: Readonly<Record<string, string | boolean | undefined>>, keyOf: (name: string) => string, label: (s: Setting) => string, aliases = false): Layer {
  const values: Record<string, unknown> = {}
  for (const s of SETTINGS) {
    let text = source[keyOf(s.name)]
    if (text === undefined && aliases) text = s.flagAliases?.map((a) => source[camel(a)]).find((v) => v !== undefined)
    if (text === undefined) continue
    const value = typeof text === 'boolean' ? text : parseText(s, text)
    const check = ajv().compile(s.schema)
    if (!check(value)) throw configError(`${s.name} (${label(s)})`, `${JSON.stringify(text)} ${check.errors?.[0]?.message ?? 'is not valid'}${hintOf(s)}`)
    values[s.name] = value
  }
  const byName = new Map(SETTINGS.map((s) => [s.name, s]))
  return { values, label: (name, sub = '') => `${name}${sub} (${label(byName.get(name)!)})` }
}

/** What a valid value looks like, after ajv's message: the setting's placeholder and meaning. */
function hintOf (s: Setting | undefined): string {
  return s === undefined ? '' : ` (${flagName(s.name)}${s.arg === undefined ? '' : ` ${s.arg}`}: ${s.description})`
}

function parseText (s: Setting, text: string): unknown {
  const t = text.trim()
  switch (s.kind) {
    case 'integer': case 'number': return /^-?[0-9]+(\.[0-9]+)?(e[0-9]+)?$/i.test(t) ? Number(t) : t
    case 'boolean': return t === 'true' || t === '1' || t === 'on' ? true : t === 'false' || t === '0' || t === 'off' || t === '' ? false : t
    case 'quorum': return /^[0-9]+$/.test(t) ? Number(t) : t
    case 'list': case 'peers': return t.split(',').map((p) => p.trim()).filter((p) => p !== '')
    case 'string': return t
  }
}

/** Defaults, then each layer in order; then the derived defaults and the checks across settings. */
function resolve (layers: readonly Layer[]): NodeConfig {
  const values = new Map<string, unknown>()
  const origin = new Map<string, Layer>()
  for (const s of SETTINGS) if (s.default !== undefined) values.set(s.name, s.default)
  for (const layer of layers) {
    for (const [name, v] of Object.entries(layer.values)) { values.set(name, v); origin.set(name, layer) }
  }
  const label = (name: string, sub = ''): string => origin.get(name)?.label(name, sub) ?? `${name}${sub}`
  const c: Record<string, any> = { defaults: {} }
  for (const [name, v] of values) {
    const [head, tail] = name.split('.') as [string, string | undefined]
    if (tail === undefined) c[head] = v
    else c[head][tail] = v
  }
  c.listen = parseListen(label('listen'), c.listen as string)
  if (c.advertise !== undefined) c.advertise = peerAddress(label('advertise'), c.advertise as string)
  c.dataDir ??= `./data/${String(c.nodeId)}`
  c.replicas ??= (c.peers as unknown[]).length > 0 || (c.seeds as unknown[]).length > 0 ? 3 : 1
  // A round covers Q / 8 partitions, so a pass over all of them takes as many rounds whatever Q is.
  c.antiEntropyPartitionsPerRound ??= Number.isInteger(c.partitions) ? Math.max(1, Math.floor((c.partitions as number) / 8)) : 64
  return validate(c, label)
}

let cachedAjv: Ajv | undefined
function ajv (): Ajv {
  cachedAjv ??= new Ajv({ allErrors: false, strict: true })
  return cachedAjv
}

/** File keys may be spelled like the flags (`cluster-secret-file`); one setting given twice is refused. */
function normalizeKeys (path: string, raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    const name = camel(key)
    if (name in out) throw configError(`${name} in ${path}`, 'is given twice (once spelled like the flag); keep one')
    out[name] = name === 'defaults' && value !== null && typeof value === 'object' && !Array.isArray(value)
      ? normalizeKeys(path, value as Record<string, unknown>)
      : value
  }
  return out
}

function valueAt (o: Record<string, unknown>, name: string): unknown {
  const [head, tail] = name.split('.') as [string, string | undefined]
  const v = o[head]
  if (tail === undefined) return v
  return v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[tail] : undefined
}

/** The setting whose name is within two edits of `key` (case ignored), if one is. */
function nearestSetting (key: string): string | undefined {
  let best: { name: string, d: number } | undefined
  for (const s of SETTINGS) {
    const d = editDistance(key.toLowerCase(), s.name.toLowerCase())
    if (d <= 2 && (best === undefined || d < best.d)) best = { name: s.name, d }
  }
  return best?.name
}

function editDistance (a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]!
}

/** Parse "host:port", "[v6]:port" or a bare port (loopback). */
export function parseListen (setting: string, value: string): { host: string, port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(value) ?? /^([^:[\]]+):([0-9]{1,5})$/.exec(value) ??
    /^:?()([0-9]{1,5})$/.exec(value)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) throw configError(setting, `${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:7001)`)
  return { host: m[1] === '' ? '127.0.0.1' : m[1]!, port }
}

function readConfigFile (path: string): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(resolvePath(path), 'utf8')
  } catch (err) {
    throw configError('--config', `cannot read ${path}: ${(err as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = parseYaml(text)
  } catch (err) {
    throw configError('--config', `${path} is not YAML or JSON: ${(err as Error).message.split('\n')[0]!}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw configError('--config', `${path} must hold a mapping of settings`)
  }
  return parsed as Record<string, unknown>
}

/** The checks one setting's schema cannot make: formats, and settings that depend on each other. */
function validate (c: Record<string, any>, label: (name: string, sub?: string) => string): NodeConfig {
  try {
    assertPartitionCount(c.partitions)
  } catch (err) {
    throw configError(label('partitions'), (err as Error).message)
  }
  try {
    assertZoneName(c.zone)
  } catch (err) {
    throw configError(label('zone'), (err as Error).message)
  }
  checkPeerSchemes(c.peers, c.seeds, c.tlsCertFile !== undefined)
  c.seeds = c.seeds.map((seed: string, i: number) => peerAddress(label('seeds', `[${i}]`), seed))
  const members = peerMembers(c as NodeConfig)
  if (c.seeds.length > 0 && c.clusterSecretFile === undefined) {
    throw configError('clusterSecretFile', 'a node with --seeds needs --cluster-secret-file: the same secret file as the cluster it joins or founds')
  }
  if (members !== undefined && c.clusterSecretFile === undefined) {
    throw configError('clusterSecretFile', 'a node with cluster members (--peers id=host:port) needs --cluster-secret-file: ' +
      'the same secret file on every node authenticates internode calls and signs causal contexts')
  }
  if ((c.tlsCertFile === undefined) !== (c.tlsKeyFile === undefined)) {
    throw configError(c.tlsCertFile === undefined ? 'tlsCertFile' : 'tlsKeyFile', 'TLS needs both --tls-cert and --tls-key (PEM files)')
  }
  if (c.tlsCaFile !== undefined && c.tlsCertFile === undefined) {
    throw configError('tlsCaFile', 'mutual TLS (--tls-ca) needs the node\'s own certificate too: give --tls-cert and --tls-key')
  }
  for (const name of ['r', 'pr', 'w', 'dw', 'pw'] as const) quorumSpec(label(`defaults.${name}`), c.defaults[name], c.replicas)
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
export function peerAddress (setting: string, value: string): string {
  const scheme = /^https?:\/\//.exec(value)?.[0] ?? ''
  const bare = value.slice(scheme.length).replace(/\/$/, '')
  const { host, port } = parseListen(setting, bare)
  if (port === 0) throw configError(setting, `${JSON.stringify(value)} needs a real port, not 0`)
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

function quorumSpec (label: string, v: unknown, n: number): asserts v is QuorumSpec {
  if (v === 'one' || v === 'quorum' || v === 'all') return
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= n) return
  throw configError(label, `${JSON.stringify(v)} must be one, quorum, all or a count from 0 to replicas (${n})`)
}
