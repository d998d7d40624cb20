/**
 * Every setting of a node, once: its name, JSON schema, default and meaning. The config file key,
 * the flag and the environment variable are all derived from the name, so they never drift:
 *
 *   name `clusterSecretFile`  ->  file key `clusterSecretFile` (or `cluster-secret-file`)
 *                             ->  flag `--cluster-secret-file`  ->  env `LEVELRING_CLUSTER_SECRET_FILE`
 *
 * A dotted name (`defaults.w`) is a key of a nested mapping in the file (`defaults: { w: 1 }`), the
 * flag `--defaults-w` and the env `LEVELRING_DEFAULTS_W`. Adding an option is adding one entry here
 * (and its field in NodeConfig): validation, flags, env, `levelring config check` and the reference
 * in docs/operations.md (`levelring config reference --write`) follow.
 */
import { DEFAULT_ZONE, MAX_WEIGHT } from '../ring/ring.js'
import { DEFAULT_PARTITION_COUNT } from '../ring/partition.js'

/** Node ids are short and URL-, log- and ETag-safe. */
export const NODE_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/

/** How a flag's or an environment variable's text becomes the value the schema checks. */
export type SettingKind = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'quorum' | 'peers'

export interface Setting {
  /** camelCase; dotted for a nested key. */
  readonly name: string
  readonly kind: SettingKind
  /** JSON schema of the value as the file holds it (after flag/env text is parsed by `kind`). */
  readonly schema: Record<string, unknown>
  /** The value when no layer sets it; undefined: unset (the setting is optional, or derived: see defaultText). */
  readonly default?: unknown
  /** What the reference shows as the default when it is not a plain value. */
  readonly defaultText?: string
  /** The flag's argument placeholder (`<host:port>`); booleans have none. */
  readonly arg?: string
  /** One line for --help and the reference. */
  readonly description: string
  /** Older flag spellings still accepted (without the leading --). */
  readonly flagAliases?: readonly string[]
}

/** Default Q: the ring's default (ring/partition.ts says why 2048). */
export const DEFAULT_CLUSTER_PARTITIONS = DEFAULT_PARTITION_COUNT

const ms = (max: number): Record<string, unknown> => ({ type: 'integer', minimum: 1, maximum: max })
const bytes = (max: number): Record<string, unknown> => ({ type: 'integer', minimum: 1, maximum: max })
const path = { type: 'string', minLength: 1 }
const quorum = { anyOf: [{ enum: ['one', 'quorum', 'all'] }, { type: 'integer', minimum: 0, maximum: 255 }] }
const address = { type: 'string', minLength: 1, maxLength: 300 }

/** The settings, in the order the reference lists them. */
export const SETTINGS: readonly Setting[] = [
  { name: 'nodeId', kind: 'string', arg: '<id>', default: 'n1', schema: { type: 'string', pattern: NODE_ID_PATTERN.source }, description: 'node id: 1-64 of A-Z a-z 0-9 . _ - ; stable for the life of the data directory' },
  { name: 'listen', kind: 'string', arg: '<host:port>', default: '127.0.0.1:7001', schema: address, description: 'address to serve HTTP (clients and internode) on; port 0 picks a free one' },
  { name: 'advertise', kind: 'string', arg: '<host:port>', schema: address, defaultText: 'the bound address', description: 'address the other nodes reach this one at (a pod\'s DNS name when listening on 0.0.0.0)' },
  { name: 'dataDir', kind: 'string', arg: '<dir>', schema: path, defaultText: './data/<nodeId>', flagAliases: ['data'], description: 'data directory (the engine\'s files, the node\'s identity and cluster state)' },
  { name: 'peers', kind: 'peers', arg: '<list>', default: [], schema: { type: 'array', items: { anyOf: [{ type: 'string', minLength: 1 }, { type: 'object', additionalProperties: false, required: ['id', 'address'], properties: { id: { type: 'string' }, address: { type: 'string' }, weight: { type: 'integer' } } }] } }, description: 'founding members, comma-separated id=host:port, the same membership on every node (or bare host:port: shown only)' },
  { name: 'seeds', kind: 'list', arg: '<list>', default: [], schema: { type: 'array', items: address }, description: 'comma-separated host:port (or DNS name:port) of seed nodes: join their cluster, or found one with them when none exists' },
  { name: 'replicas', kind: 'integer', arg: '<n>', schema: { type: 'integer', minimum: 1, maximum: 255 }, defaultText: '1, or 3 with peers or seeds', description: 'replication factor n' },
  { name: 'partitions', kind: 'integer', arg: '<q>', default: DEFAULT_CLUSTER_PARTITIONS, schema: { type: 'integer', minimum: 1, maximum: 65536 }, description: 'ring partitions Q: a power of two, the same on every node, fixed for the life of a cluster' },
  { name: 'weight', kind: 'integer', arg: '<w>', default: 1, schema: { type: 'integer', minimum: 1, maximum: MAX_WEIGHT }, description: 'this node\'s ring weight relative to the others\'' },
  { name: 'zone', kind: 'string', arg: '<name>', default: DEFAULT_ZONE, schema: { type: 'string', minLength: 1, maxLength: 64 }, description: 'this node\'s zone (data center, rack): a key\'s replicas go to as many distinct zones as there are' },
  { name: 'gossipIntervalMs', kind: 'integer', arg: '<ms>', default: 1_000, schema: ms(60_000), description: 'how often a member gossips (the failure detector is tuned to 1000)' },
  { name: 'phiThreshold', kind: 'number', arg: '<phi>', default: 8, schema: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, description: 'failure detector: suspicion level at which a silent member is taken for down' },
  { name: 'clusterSecretFile', kind: 'string', arg: '<file>', schema: path, description: 'shared secrets, one a line (signs with the first, accepts any): internode calls and causal contexts; needed with peers or seeds' },
  { name: 'authTokenFile', kind: 'string', arg: '<file>', schema: path, description: 'client bearer tokens, one a line: every request but GET /v1/health needs one' },
  { name: 'adminTokenFile', kind: 'string', arg: '<file>', schema: path, description: 'operator bearer tokens, one a line, for /v1/admin/ (without it: loopback callers only)' },
  { name: 'tlsCertFile', kind: 'string', arg: '<file>', schema: path, flagAliases: ['tls-cert'], description: 'PEM certificate: serve HTTPS (clients and peers, one port) and call peers over https; TLS is cluster-wide (every node or none); needs tlsKeyFile' },
  { name: 'tlsKeyFile', kind: 'string', arg: '<file>', schema: path, flagAliases: ['tls-key'], description: 'PEM private key of tlsCertFile' },
  { name: 'tlsCaFile', kind: 'string', arg: '<file>', schema: path, flagAliases: ['tls-ca'], description: 'PEM CA: mutual TLS, /internal/v1/ needs a client certificate it signed (public clients need none); needs tlsCertFile' },
  // A peer node's internode pool (CONNECTIONS_PER_PEER, 64) and the clients on its machine, with room
  // to spare; one machine (a proxy, or every node and client of a loopback cluster) may need more.
  { name: 'maxConnectionsPerPeer', kind: 'integer', arg: '<n>', default: 512, schema: { type: 'integer', minimum: 1, maximum: 1_000_000 }, description: 'connections one remote address may hold open; more are closed as soon as they are accepted' },
  { name: 'maxValueBytes', kind: 'integer', arg: '<bytes>', default: 1024 * 1024, schema: bytes(512 * 1024 * 1024), description: 'largest value a client may store' },
  { name: 'maxHeaderBytes', kind: 'integer', arg: '<bytes>', default: 16 * 1024, schema: bytes(1024 * 1024), description: 'largest request head; over it: 431' },
  { name: 'requestTimeoutMs', kind: 'integer', arg: '<ms>', default: 30_000, schema: ms(3_600_000), description: 'a request must arrive whole within this (408 otherwise)' },
  { name: 'headersTimeoutMs', kind: 'integer', arg: '<ms>', default: 10_000, schema: ms(3_600_000), description: 'the request head must arrive within this' },
  { name: 'keepAliveTimeoutMs', kind: 'integer', arg: '<ms>', default: 5_000, schema: ms(3_600_000), description: 'idle keep-alive connections are closed after this' },
  { name: 'shutdownGraceMs', kind: 'integer', arg: '<ms>', default: 10_000, schema: ms(600_000), description: 'on SIGTERM/SIGINT, in-flight requests get this long; the process exits at most 10 s after it whatever happens' },
  { name: 'defaults.r', kind: 'quorum', arg: '<q>', default: 'quorum', schema: quorum, description: 'read quorum when a request names none: one, quorum, all or a count' },
  { name: 'defaults.pr', kind: 'quorum', arg: '<q>', default: 0, schema: quorum, description: 'primary replicas a read needs' },
  { name: 'defaults.w', kind: 'quorum', arg: '<q>', default: 'quorum', schema: quorum, description: 'write quorum when a request names none' },
  { name: 'defaults.dw', kind: 'quorum', arg: '<q>', default: 0, schema: quorum, description: 'replicas that must fsync before a write is acknowledged' },
  { name: 'defaults.pw', kind: 'quorum', arg: '<q>', default: 0, schema: quorum, description: 'primary replicas a write needs' },
  { name: 'defaults.timeoutMs', kind: 'integer', arg: '<ms>', default: 5_000, schema: ms(600_000), description: 'a request\'s deadline when it names none' },
  { name: 'tombstoneGraceMs', kind: 'integer', arg: '<ms>', default: 86_400_000, schema: ms(Number.MAX_SAFE_INTEGER), description: 'tombstones older than this are reaped' },
  { name: 'reapIntervalMs', kind: 'integer', arg: '<ms>', default: 60_000, schema: ms(86_400_000), description: 'how often the tombstone reaper runs' },
  { name: 'antiEntropyIntervalMs', kind: 'integer', arg: '<ms>', default: 5_000, schema: { type: 'integer', minimum: 0, maximum: 86_400_000 }, description: 'time between anti-entropy rounds; 0 turns them off' },
  { name: 'antiEntropyPartitionsPerRound', kind: 'integer', arg: '<n>', schema: { type: 'integer', minimum: 1, maximum: 65536 }, defaultText: 'Q / 8 (256 at the default Q)', description: 'partitions one anti-entropy round compares (round robin); Q / 8 makes a pass over every partition 8 rounds at any Q' },
  // Riak's AAE sizing: Q x buckets x ~27 B of bucket trees in memory; the chapter's 1B keys in 1M buckets is Q 256 x 4096.
  { name: 'aaeBuckets', kind: 'integer', arg: '<n>', schema: { enum: Array.from({ length: 17 }, (_, i) => 2 ** (i + 4)) }, defaultText: '2^18 / Q rounded to a power of 16 (256 at Q 512 to 4096)', description: 'anti-entropy buckets per partition: a power of two 16..1048576, the same on every node; Q x buckets x ~27 B of memory' },
  // Cassandra's max_hint_window: past it, anti-entropy is the cheaper way to catch the member up.
  { name: 'hintWindowMs', kind: 'integer', arg: '<ms>', default: 10_800_000, schema: ms(30 * 86_400_000), description: 'hints for a member down longer than this go to the key\'s other replicas instead of waiting for it' },
  { name: 'hintsPerMemberMax', kind: 'integer', arg: '<n>', default: 1_000_000, schema: { type: 'integer', minimum: 1, maximum: 1_000_000_000 }, description: 'hints kept for one member at most; past it, its hints go to the key\'s other replicas' },
  // The engine's memory is what a node's grows by beyond Node and the gateway (about 140 MiB idle, and
  // the room V8 and malloc take under load: heapGrowingPercent, node/process-memory.ts): about 32 + 9 MiB
  // here plus the open tables' indexes and filters (docs/operations.md, Memory). The block cache is a quarter of the engine's own
  // default, so that a node under load stays within 300 MiB: a miss is a read() the page cache usually answers, cheap beside the
  // HTTP request around it.
  { name: 'writeBufferSize', kind: 'integer', arg: '<bytes>', default: 4 * 1024 * 1024, schema: bytes(1024 * 1024 * 1024), description: 'engine: memtable bytes before a flush to a level-0 table (memory: the active and one frozen memtable, arenas of this + 256 KiB)' },
  { name: 'blockCacheSize', kind: 'integer', arg: '<bytes>', default: 32 * 1024 * 1024, schema: bytes(64 * 1024 * 1024 * 1024), flagAliases: ['cache-size'], description: 'engine: bytes of uncompressed data blocks kept in the block cache (taken as reads fill it)' },
  { name: 'maxOpenFiles', kind: 'integer', arg: '<n>', default: 1000, schema: { type: 'integer', minimum: 16, maximum: 1_000_000 }, description: 'engine: tables kept open, each with a file handle and its index and bloom filter in memory' },
  // V8 grows its heap up to 4x what survived the last full collection; under a full-speed load that is
  // mostly the load's garbage, promoted from the young generation (docs/operations.md, Memory).
  { name: 'heapGrowingPercent', kind: 'integer', arg: '<percent>', default: 100, schema: { type: 'integer', minimum: 0, maximum: 1000 }, description: 'V8: how far the heap may grow past what survived the last full collection before the next one, in percent; 0: V8\'s own (up to 300). Lower: less memory, more collections' },
  { name: 'logLevel', kind: 'string', arg: '<level>', default: 'info', schema: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, description: 'pino level: fatal, error, warn, info, debug, trace, silent' },
  { name: 'metrics', kind: 'boolean', arg: '<on|off>', default: true, schema: { type: 'boolean' }, description: 'GET /metrics and the counters behind it (on/off; off only to measure what they cost)' },
  { name: 'accessLog', kind: 'boolean', arg: '<on|off>', default: true, schema: { type: 'boolean' }, description: 'one info log line per client request (on/off), with its X-Request-Id' },
  // Hashed by default: requests can still be followed across nodes, and no key reaches the logs.
  { name: 'accessLogKeys', kind: 'string', arg: '<how>', default: 'hash', schema: { enum: ['hash', 'redact', 'plain'] }, description: 'keys in access logs: hash, redact or plain' },
  { name: 'readinessDrainMs', kind: 'integer', arg: '<ms>', default: 0, schema: { type: 'integer', minimum: 0, maximum: 600_000 }, description: 'after SIGTERM, answer /v1/ready 503 and keep serving this long, so load balancers take the node out first' },
  { name: 'clockOffsetMs', kind: 'integer', arg: '<ms>', default: 0, schema: { type: 'integer', minimum: -30 * 86_400_000, maximum: 30 * 86_400_000 }, description: 'test facility: added to the clock tombstones are aged by (clock skew); never in production' },
  { name: 'enableFaultInjection', kind: 'boolean', default: false, schema: { type: 'boolean' }, description: 'test facility: accept /internal/v1/faults, which cuts internode traffic with chosen members; never in production' }
]

/** `--cluster-secret-file` for `clusterSecretFile`, `--defaults-w` for `defaults.w`. */
export function flagName (name: string): string {
  return `--${kebab(name)}`
}

/** `LEVELRING_CLUSTER_SECRET_FILE` for `clusterSecretFile`. */
export function envName (name: string): string {
  return `LEVELRING_${kebab(name).replaceAll('-', '_').toUpperCase()}`
}

/** The key commander gives a flag's value: `--defaults-w` -> `defaultsW`. */
export function flagKey (name: string): string {
  return camel(kebab(name))
}

/** `cluster-secret-file` or `clusterSecretFile` -> `clusterSecretFile`. */
export function camel (key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function kebab (name: string): string {
  return name.replaceAll('.', '-').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

/** The JSON schema of a whole config file, built from SETTINGS: unknown keys are refused. */
export function fileSchema (): Record<string, unknown> {
  const root: { type: 'object', additionalProperties: false, properties: Record<string, any> } = { type: 'object', additionalProperties: false, properties: {} }
  for (const s of SETTINGS) {
    const [head, tail] = s.name.split('.') as [string, string | undefined]
    if (tail === undefined) { root.properties[head] = s.schema; continue }
    root.properties[head] ??= { type: 'object', additionalProperties: false, properties: {} }
    root.properties[head].properties[tail] = s.schema
  }
  return root
}
