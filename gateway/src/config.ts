import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse } from 'yaml'
import type { QuorumSpec } from './quorum.js'
import type { QuorumDefaults } from './routes/kv.js'

/** Everything one node is started with. Built by loadConfig from defaults, a file, then flags. */
export interface NodeConfig {
  /** Stable name of the node; also the first part of its actor id. */
  readonly nodeId: string
  /** Where the HTTP server listens; port 0 picks a free one. */
  readonly listen: { readonly host: string, readonly port: number }
  readonly dataDir: string
  /** Other nodes' addresses (host:port); shown by /v1/cluster, used by the cluster coordinator. */
  readonly peers: readonly string[]
  /** Replication factor n. */
  readonly replicas: number
  /** Ring partitions (fixed for the life of a cluster). */
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
  readonly authTokenFile?: string
  readonly clusterSecretFile?: string
  /** Tombstones older than this are reaped. */
  readonly tombstoneGraceMs: number
  /** How often the reaper runs. */
  readonly reapIntervalMs: number
  readonly logLevel: string
}

/** A setting that cannot be used; says which and why. */
export class ConfigError extends Error {
  readonly code = 'LEVELRING_BAD_CONFIG'
  constructor (setting: string, problem: string) {
    super(`configuration ${setting}: ${problem}`)
    this.name = 'ConfigError'
  }
}

/** Node ids are short and URL-, log- and ETag-safe. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/** The defaults, chosen for a single node on loopback. */
export const DEFAULT_CONFIG: NodeConfig = Object.freeze<NodeConfig>({
  nodeId: 'n1',
  listen: { host: '127.0.0.1', port: 7001 },
  dataDir: './data/n1',
  peers: [],
  replicas: 1,
  partitions: 64,
  maxValueBytes: 1024 * 1024,
  maxHeaderBytes: 16 * 1024,
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  defaults: { r: 'quorum', pr: 0, w: 'quorum', dw: 0, pw: 0, timeoutMs: 5_000 },
  tombstoneGraceMs: 86_400_000,
  reapIntervalMs: 60_000,
  logLevel: 'info'
})

/** Flags of `levelring start`, as commander parses them. */
export interface StartFlags {
  readonly nodeId?: string
  readonly listen?: string
  readonly data?: string
  readonly peers?: string
  readonly config?: string
  readonly replicas?: string
  readonly authTokenFile?: string
  readonly clusterSecretFile?: string
  readonly logLevel?: string
}

/**
 * Build a node's configuration: DEFAULT_CONFIG, overridden by the YAML or JSON file named by
 * `--config` (same field names as NodeConfig, `listen` as "host:port"), overridden by flags.
 * Throws ConfigError naming the first bad setting.
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
  if (flags.replicas !== undefined) merged.replicas = Number(flags.replicas)
  else if (file.replicas === undefined && (merged.peers as unknown[]).length > 0) merged.replicas = 3
  if (flags.authTokenFile !== undefined) merged.authTokenFile = flags.authTokenFile
  if (flags.clusterSecretFile !== undefined) merged.clusterSecretFile = flags.clusterSecretFile
  if (flags.logLevel !== undefined) merged.logLevel = flags.logLevel
  return validate(merged)
}

/** Parse "host:port", "[v6]:port" or a bare port (loopback). */
export function parseListen (setting: string, value: string): { host: string, port: number } {
  const m = /^\[([0-9A-Fa-f:.]+)\]:([0-9]{1,5})$/.exec(value) ?? /^([^:[\]]+):([0-9]{1,5})$/.exec(value) ??
    /^:?()([0-9]{1,5})$/.exec(value)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || port > 65535) throw new ConfigError(setting, `${JSON.stringify(value)} is not host:port (e.g. 127.0.0.1:7001)`)
  return { host: m[1] === '' ? '127.0.0.1' : m[1]!, port }
}

function readConfigFile (path: string): Record<string, any> {
  let text: string
  try {
    text = readFileSync(resolve(path), 'utf8')
  } catch (err) {
    throw new ConfigError('--config', `cannot read ${path}: ${(err as Error).message}`)
  }
  const parsed: unknown = parse(text)
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('--config', `${path} must hold a mapping of settings`)
  }
  return parsed as Record<string, any>
}

function validate (c: Record<string, any>): NodeConfig {
  if (typeof c.nodeId !== 'string' || !NODE_ID_PATTERN.test(c.nodeId)) {
    throw new ConfigError('nodeId', `${JSON.stringify(c.nodeId)} must be 1-64 characters of A-Z a-z 0-9 . _ -`)
  }
  if (typeof c.dataDir !== 'string' || c.dataDir === '') throw new ConfigError('dataDir', 'must be a directory path')
  if (!Array.isArray(c.peers) || !c.peers.every((p: unknown) => typeof p === 'string')) throw new ConfigError('peers', 'must be a list of host:port')
  positiveInteger(c, 'replicas', 255)
  positiveInteger(c, 'partitions', 65536)
  positiveInteger(c, 'maxValueBytes', 512 * 1024 * 1024)
  positiveInteger(c, 'maxHeaderBytes', 1024 * 1024)
  positiveInteger(c, 'requestTimeoutMs', 3_600_000)
  positiveInteger(c, 'headersTimeoutMs', 3_600_000)
  positiveInteger(c, 'keepAliveTimeoutMs', 3_600_000)
  positiveInteger(c, 'tombstoneGraceMs', Number.MAX_SAFE_INTEGER)
  positiveInteger(c, 'reapIntervalMs', 86_400_000)
  for (const name of ['r', 'pr', 'w', 'dw', 'pw'] as const) quorumSpec(`defaults.${name}`, c.defaults[name], c.replicas)
  positiveInteger(c.defaults, 'timeoutMs', 600_000, 'defaults.timeoutMs')
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(c.logLevel)) {
    throw new ConfigError('logLevel', `${JSON.stringify(c.logLevel)} is not a pino level`)
  }
  return c as NodeConfig
}

function positiveInteger (c: Record<string, any>, name: string, max: number, label = name): void {
  const v = c[name]
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new ConfigError(label, `${JSON.stringify(v)} must be an integer from 1 to ${max}`)
}

function quorumSpec (label: string, v: unknown, n: number): asserts v is QuorumSpec {
  if (v === 'one' || v === 'quorum' || v === 'all') return
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= n) return
  throw new ConfigError(label, `${JSON.stringify(v)} must be one, quorum, all or a count from 0 to replicas (${n})`)
}
