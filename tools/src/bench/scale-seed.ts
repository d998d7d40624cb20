import { copyFile, link, readdir, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { KeyHashIndex } from '../../../gateway/src/anti-entropy/key-hash-index.js'
import { CLEAN_STOP_FILE, RUNNING_FILE } from '../../../gateway/src/node/actor-epoch.js'
import { DotCounter } from '../../../gateway/src/replica/dot-counter.js'
import { NodeStorage, SPACES, type SpaceOperation } from '../../../gateway/src/replica/node-storage.js'
import { encodeObject } from '../../../gateway/src/replica/object-codec.js'
import { normalise, type StoredVersion } from '../../../gateway/src/replica/stored-object.js'
import { versionHash } from '../../../gateway/src/anti-entropy/version-hash.js'
import { emptyDvvSet, NOTHING_SEEN, update } from '../../../gateway/src/version/dvv.js'
import { DEFAULT_PRUNING, pruneClock } from '../../../gateway/src/version/pruning.js'
import { openEngine } from '../../../gateway/src/replica/open-engine.js'
import { FORMAT_KEY, STORAGE_FORMAT } from '../../../gateway/src/replica/storage-format.js'
import { PREFIX_CHARS, prefixNumber } from '../../../gateway/src/replica/storage-keys.js'
import { Progress } from '../cli-kit/progress.js'

// Seeding bench:scale's nodes offline: what a load of N keys through the REST API (n = 3, every node a
// replica of every key) leaves in each node's data directory, written in minutes rather than hours.
//
// The nodes are started once on empty directories (so each has its identity, actor epoch, context
// secret, ring and a complete key-hash-index mark) and stopped cleanly. Then, with every node stopped:
//  1. the first node's directory is opened with the node's own storage code (NodeStorage, the key hash
//     index attached as the node attaches it) and every key gets what ReplicaStore.write stores for a PUT
//     on a key that holds nothing: a fresh dot of the node's actor (`nodeId@epoch`, from its DotCounter,
//     whose lease then lies past every seeded dot), the set built by the same DVV functions and encoded
//     by the object codec under its partition-ordered engine key, and its key hash index entry, in the
//     same engine batch (1,000 keys a batch rather than one: a write per key costs the node's lock,
//     read and batch, which a load through the API pays and an offline seed need not). Keys go in
//     engine-key order (partition prefix first), so the engine's tables do not overlap and compaction
//     mostly moves files: the same entries as a REST load, in fewer compaction rounds.
//  2. A REST PUT's other two replicas merge the coordinator's object as it is (their set is empty), so
//     they hold the same bytes under the same keys: the engine's files are copied to the other nodes
//     (tables hard-linked: one copy on the disk until compaction rewrites them, as after a checkpoint),
//     and then each node's own metadata space and hints (identity, actor epoch, clean-stop record, dot
//     counter lease, ring...) are put back as they were. The CLEAN-STOP and RUNNING marker files of each
//     directory are never touched, so the clean-stop record still names its own marker: each node starts
//     with its actor epoch kept and nothing "behind" (node/actor-epoch.ts), as after a clean stop.
//
// How a seeded directory differs from a loaded one: every key was stamped by the first node's actor (as
// if every PUT had gone to it), and the engine's levels are the shape of a sorted load.

/** Keys per engine batch: large enough that the engine's per-batch cost vanishes, small enough to bound memory. */
const BATCH_KEYS = 1_000

/** Batches handed to the engine before waiting for them: keeps the engine busy while the next batch is encoded. */
const BATCHES_IN_FLIGHT = 4

/** Bytes each seeded key costs on disk beyond its value, about (key twice, the encoded clock, the index entry). */
const OVERHEAD_PER_KEY = 120

/** Free space asked beyond the data itself: compaction writes new tables before it deletes the old ones. */
const HEADROOM = 1.5

/** Metadata keys of node/node-identity.ts and node/actor-epoch.ts: the actor a node stamps with. */
const IDENTITY_KEY = 'identity'
const EPOCH_KEY = 'actor-epoch'
const CLEAN_STOP_KEY = 'clean-stop'

/** Engine-level prefix of a sublevel's keys (abstract-level's `!name!`). */
const spacePrefix = (name: string): string => `!${name}!`

/** The engine range of a sublevel. */
const spaceRange = (name: string): { gte: string, lt: string } => ({ gte: spacePrefix(name), lt: `!${name}"` })

/** Spaces that belong to the node rather than to the data: put back in each copy as that node had them. */
const NODE_SPACES = [SPACES.meta, SPACES.hints]

/** The engine's table files (engine/FORMAT.md). */
const TABLE_SUFFIX = '.sst'

/** Files in a data directory that are the node's, not the engine's. */
const NODE_FILES = new Set([CLEAN_STOP_FILE, RUNNING_FILE])

export interface SeedOptions {
  /** Data directories of every node, each started once and stopped cleanly; the first one is written, the others get copies. */
  readonly dataDirs: readonly string[]
  /** Keys 0..keys-1 are seeded. */
  readonly keys: number
  readonly keyOf: (i: number) => string
  /** The value of key i; the bytes are copied into the stored object. */
  readonly valueOf: (i: number) => Uint8Array
  readonly contentType?: string
  /** Draw a progress bar on stderr (else a line every 10%). */
  readonly bar?: boolean
}

export interface SeedReport {
  /** The actor every seeded dot names (the first node's). */
  readonly actor: string
  /** Dot counters given to the seeded keys: firstCounter + i for key i's position in write order. */
  readonly firstCounter: number
  readonly lastCounter: number
  readonly writeSeconds: number
  readonly copySeconds: number
}

/**
 * Refuse (throw, naming the numbers) when `dir`'s file system has less free space than `keys` keys of
 * `valueBytes` on `replicas` nodes need with compaction headroom.
 */
export async function assertFreeSpace (dir: string, keys: number, valueBytes: number, replicas: number): Promise<void> {
  const s = await statfs(dir)
  const free = s.bavail * s.bsize
  const need = Math.ceil(keys * (valueBytes + OVERHEAD_PER_KEY) * replicas * HEADROOM)
  if (free < need) {
    const gib = (b: number): string => (b / 1024 ** 3).toFixed(1)
    throw new Error(`${dir} has ${gib(free)} GiB free and ${keys} keys of ${valueBytes} B on ${replicas} nodes need about ${gib(need)} GiB ` +
      '(the data with compaction headroom): free some space, pass --dir on a larger file system, or fewer --keys')
  }
}

/** Seed every node's directory (see the file comment); every node must be stopped. */
export async function seedReplicas (options: SeedOptions): Promise<SeedReport> {
  const [first, ...others] = options.dataDirs
  if (first === undefined) throw new Error('seedReplicas needs at least one data directory')
  const started = performance.now()
  const written = await seedOne(first, options)
  const writeSeconds = (performance.now() - started) / 1000
  const copyStarted = performance.now()
  for (const dir of others) await copyData(first, dir)
  return { ...written, writeSeconds, copySeconds: (performance.now() - copyStarted) / 1000 }
}

/** Read a cleanly stopped node's actor, refusing a directory that was never started or not stopped cleanly. */
async function stoppedActor (storage: NodeStorage, dir: string): Promise<string> {
  const format = await storage.meta.get(FORMAT_KEY)
  const identity = await storage.meta.get(IDENTITY_KEY)
  const epoch = await storage.meta.get(EPOCH_KEY)
  const cleanStop = await storage.meta.get(CLEAN_STOP_KEY)
  if (format !== String(STORAGE_FORMAT) || identity === undefined || epoch === undefined || cleanStop === undefined) {
    throw new Error(`${dir} is not the directory of a node that was started and then stopped cleanly (storage format ${String(format)}, ` +
      `identity ${identity === undefined ? 'missing' : 'present'}, clean-stop record ${cleanStop === undefined ? 'missing' : 'present'}): start the node on it once and stop it with SIGTERM`)
  }
  return `${(JSON.parse(identity) as { nodeId: string }).nodeId}@${epoch}`
}

/** Key indices 0..keys-1 in engine-key order: by the 32-bit ring-hash prefix, then by key (keyOf is fixed-width, so by index). */
function engineOrder (keys: number, keyOf: (i: number) => string): BigUint64Array {
  if (keys >= 2 ** 32) throw new RangeError('at most 2^32 - 1 keys')
  const order = new BigUint64Array(keys)
  for (let i = 0; i < keys; i++) order[i] = (BigInt(prefixNumber(keyOf(i))) << 32n) | BigInt(i)
  return order.sort()
}

async function seedOne (dir: string, options: SeedOptions): Promise<Omit<SeedReport, 'writeSeconds' | 'copySeconds'>> {
  const storage = await NodeStorage.open(dir)
  try {
    const index = KeyHashIndex.attach(storage)
    const actor = await stoppedActor(storage, dir)
    const counter = await DotCounter.open(storage.meta)
    const order = engineOrder(options.keys, options.keyOf)
    const bar = Progress.start(options.bar === true, `seeding ${options.keys} keys`, options.keys)
    const contentType = options.contentType ?? 'application/octet-stream'
    let firstCounter = 0
    let lastCounter = 0
    let reported = 0
    let inFlight: Array<Promise<void>> = []
    try {
      for (let from = 0; from < order.length; from += BATCH_KEYS) {
        const ops: SpaceOperation[] = []
        const now = Date.now()
        for (let at = from; at < Math.min(order.length, from + BATCH_KEYS); at++) {
          const entry = order[at]!
          const i = Number(entry & 0xffffffffn)
          const key = options.keyOf(i)
          // The stamp of ReplicaStore.write on a key that holds nothing: a fresh dot of this node's actor.
          const dot = { actor, counter: await counter.next() }
          if (firstCounter === 0) firstCounter = dot.counter
          lastCounter = dot.counter
          const version: StoredVersion = { tombstone: false, contentType, lastModified: now, value: options.valueOf(i) }
          const object = pruneClock(normalise(update(emptyDvvSet<StoredVersion>(), NOTHING_SEEN, dot, version, now)), DEFAULT_PRUNING, now)
          const bytes = encodeObject(object)
          // storageKey(key), from the prefix already computed for the order.
          const engineKey = Number(entry >> 32n).toString(16).padStart(PREFIX_CHARS, '0') + key
          // The object and its key hash index entry in one batch, as the index's object companion adds it.
          ops.push({ type: 'put', sublevel: storage.objects, key: engineKey, value: bytes }, { type: 'put', sublevel: index.space, key: engineKey, value: versionHash(bytes) })
        }
        inFlight.push(storage.applyOperations(ops))
        if (inFlight.length >= BATCHES_IN_FLIGHT) { await Promise.all(inFlight); inFlight = [] }
        const done = Math.min(order.length, from + BATCH_KEYS)
        bar.set(done)
        if (options.bar !== true && done * 10 >= (reported + 1) * options.keys) {
          reported = Math.floor(done * 10 / options.keys)
          process.stderr.write(`seeding: ${done}/${options.keys} keys written\n`)
        }
      }
      await Promise.all(inFlight)
    } finally {
      bar.stop()
    }
    // What a clean stop leaves: every write durable (one WAL, one fsync covers all).
    await storage.syncBarrier()
    return { actor, firstCounter, lastCounter }
  } finally {
    await storage.close()
  }
}

/** Every entry of the node's own spaces (metadata, hints) in `dir`'s engine, as raw engine keys and bytes. */
async function readNodeSpaces (dir: string): Promise<Array<[string, Uint8Array]>> {
  const { db } = await openEngine(dir)
  try {
    const entries: Array<[string, Uint8Array]> = []
    for (const name of NODE_SPACES) {
      entries.push(...await db.iterator<string, Uint8Array>({ ...spaceRange(name), keyEncoding: 'utf8', valueEncoding: 'view' }).all())
    }
    return entries
  } finally {
    await db.close()
  }
}

/** Replace the node's own spaces in `dir`'s engine with `entries`, in one synced batch. */
async function writeNodeSpaces (dir: string, entries: ReadonlyArray<[string, Uint8Array]>): Promise<void> {
  const { db } = await openEngine(dir)
  try {
    const stale: string[] = []
    for (const name of NODE_SPACES) stale.push(...await db.keys<string>({ ...spaceRange(name), keyEncoding: 'utf8' }).all())
    const kept = new Set(entries.map(([key]) => key))
    await db.batch([
      ...stale.filter((key) => !kept.has(key)).map((key) => ({ type: 'del' as const, key, keyEncoding: 'utf8' })),
      ...entries.map(([key, value]) => ({ type: 'put' as const, key, value, keyEncoding: 'utf8', valueEncoding: 'view' }))
    ] as any[], { sync: true } as object)
  } finally {
    await db.close()
  }
}

/**
 * Make `to` (a stopped node's directory) hold `from`'s data with its own node state: its metadata and
 * hints are read, the engine's files replaced by copies of `from`'s, and its metadata and hints put back.
 */
async function copyData (from: string, to: string): Promise<void> {
  const own = await readNodeSpaces(to)
  for (const entry of await readdir(to, { withFileTypes: true })) {
    if (NODE_FILES.has(entry.name)) continue
    if (!entry.isFile()) throw new Error(`${join(to, entry.name)} is not a file: seeding copies engine files only`)
    await rm(join(to, entry.name))
  }
  for (const entry of await readdir(from, { withFileTypes: true })) {
    if (NODE_FILES.has(entry.name)) continue
    if (!entry.isFile()) throw new Error(`${join(from, entry.name)} is not a file: seeding copies engine files only`)
    // Tables are immutable (written once, then only deleted): a hard link, as the engine's own checkpoints
    // make; every other file (WAL, manifest) is appended to, so each node gets a copy of its own.
    if (entry.name.endsWith(TABLE_SUFFIX)) await link(join(from, entry.name), join(to, entry.name))
    else await copyFile(join(from, entry.name), join(to, entry.name))
  }
  await writeNodeSpaces(to, own)
}

/**
 * Remove `keys` from a stopped node's directory as reaping or a drop of a partition does (the object,
 * its tombstone-index entry and its key hash index entry in one batch): the node then lacks what its
 * peers hold, as a replica that missed those writes would. Leaves the node's metadata as it was.
 */
export async function dropKeys (dataDir: string, keys: readonly string[]): Promise<void> {
  const storage = await NodeStorage.open(dataDir)
  try {
    KeyHashIndex.attach(storage)
    for (const key of keys) await storage.removeObject(key)
    await storage.syncBarrier()
  } finally {
    await storage.close()
  }
}
