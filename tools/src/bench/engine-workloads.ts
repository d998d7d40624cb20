import type { AbstractPutOptions } from 'abstract-level'
import type { BenchDatabase } from './engine-registry.js'
import { BATCH_SIZE, GET_MANY_SIZE, KEY_SIZE, KeySpace, Permutation } from './key-space.js'

// db_bench-style workloads, each through the public abstract-level API only. A workload is run
// twice per child process: once on a small scratch database to warm the JIT (untimed), then on
// the measured database. Every random order is a Permutation keyed by the workload's name, so
// every engine and every run receives the same operations in the same order.

/**
 * fillsync writes count / FILLSYNC_DIVISOR entries, as db_bench writes num / 1000: each write
 * waits for an fsync, and a million of them would take hours on a disk without buying any
 * information that ten thousand do not give.
 */
export const FILLSYNC_DIVISOR = 100

/** Entries per nextv() call in readseq and readreverse. */
export const NEXTV_SIZE = 1000

/** Workload names, in the order the issue lists them and the benchmark runs them. */
export const WORKLOAD_NAMES = [
  'fillseq', 'fillrandom', 'fillbatch', 'putconcurrent', 'fillsync', 'overwrite',
  'readrandom', 'readrandom-getSync', 'getMany', 'readmissing', 'readseq', 'readreverse',
  'seekrandom', 'deleterandom'
] as const

/** One of the benchmark's workloads. */
export type WorkloadName = typeof WORKLOAD_NAMES[number]

/** The workloads of --large mode: where an LSM must keep memory flat over data larger than RAM allows. */
export const LARGE_WORKLOAD_NAMES: WorkloadName[] = ['readrandom', 'readseq', 'overwrite']

/** Sizes a workload runs with. */
export interface WorkloadPlan {
  /** The present keys (0..count-1) and the values. */
  keys: KeySpace
  /** Point reads per random-read workload (db_bench's --reads); defaults to the key count. */
  reads: number
  /** Operations in flight in putconcurrent and fillsync. */
  concurrency: number
}

/** What a workload saw, where it can check the engine answered correctly. */
export interface WorkloadOutcome {
  /** Entries found (reads), or matched (seeks). */
  found?: number
  /** What found must be if the engine is correct. */
  expectedFound?: number
}

/** A db_bench-style workload. */
export interface Workload {
  name: WorkloadName
  /** One line for the report. */
  description: string
  /** 'loaded': starts from a database holding all count keys; 'empty': from a new one. */
  start: 'empty' | 'loaded'
  /** Whether it changes a loaded database (so each run needs its own copy). */
  mutates: boolean
  /** A manifest feature the engine must support, or the workload is skipped with a note. */
  requires?: 'getSync'
  /** Operations it performs: the unit of its ops/s. */
  operations: (plan: WorkloadPlan) => number
  /** Key and value bytes the user asks to be written (0 for reads). */
  userBytesWritten: (plan: WorkloadPlan) => number
  /** Entries live in the database after it. */
  liveEntriesAfter: (plan: WorkloadPlan) => number
  /** Runs it against an open database; the caller times this call. */
  run: (db: BenchDatabase, plan: WorkloadPlan) => Promise<WorkloadOutcome>
}

const count = (plan: WorkloadPlan): number => plan.keys.count
const none = (): number => 0
const puts = (ops: (plan: WorkloadPlan) => number) => (plan: WorkloadPlan) => ops(plan) * plan.keys.entryBytes
const fillsyncOps = (plan: WorkloadPlan): number => Math.max(1, Math.ceil(plan.keys.count / FILLSYNC_DIVISOR))
const reads = (plan: WorkloadPlan): number => plan.reads
// `sync` is an option of the persistent engines, not of abstract-level's types; others ignore it.
const SYNC_WRITE = { sync: true } as AbstractPutOptions<string, string>

/** Every workload by name. */
export const WORKLOADS: Record<WorkloadName, Workload> = {
  fillseq: {
    name: 'fillseq',
    description: 'awaited put(), keys in ascending order, empty database',
    start: 'empty',
    mutates: true,
    operations: count,
    userBytesWritten: puts(count),
    liveEntriesAfter: count,
    async run (db, { keys }) {
      for (let i = 0; i < keys.count; i++) await db.put(keys.key(i), keys.value(i))
      return {}
    }
  },
  fillrandom: {
    name: 'fillrandom',
    description: 'awaited put(), keys in random order, empty database',
    start: 'empty',
    mutates: true,
    operations: count,
    userBytesWritten: puts(count),
    liveEntriesAfter: count,
    async run (db, { keys }) {
      const order = new Permutation(keys.count, 'fillrandom')
      for (let i = 0; i < keys.count; i++) await db.put(keys.key(order.at(i)), keys.value(i))
      return {}
    }
  },
  fillbatch: {
    name: 'fillbatch',
    description: `batch() of ${BATCH_SIZE} puts, keys in ascending order (as db_bench), ops = entries`,
    start: 'empty',
    mutates: true,
    operations: count,
    userBytesWritten: puts(count),
    liveEntriesAfter: count,
    async run (db, { keys }) {
      for (let first = 0; first < keys.count; first += BATCH_SIZE) {
        const last = Math.min(keys.count, first + BATCH_SIZE)
        const ops: Array<{ type: 'put', key: string, value: string }> = []
        for (let i = first; i < last; i++) ops.push({ type: 'put', key: keys.key(i), value: keys.value(i) })
        await db.batch(ops)
      }
      return {}
    }
  },
  putconcurrent: {
    name: 'putconcurrent',
    description: 'put() with --concurrency writes in flight, keys in random order',
    start: 'empty',
    mutates: true,
    operations: count,
    userBytesWritten: puts(count),
    liveEntriesAfter: count,
    async run (db, { keys, concurrency }) {
      const order = new Permutation(keys.count, 'putconcurrent')
      await inFlight(keys.count, concurrency, i => db.put(keys.key(order.at(i)), keys.value(i)))
      return {}
    }
  },
  fillsync: {
    name: 'fillsync',
    description: `put({ sync: true }) with --concurrency in flight, count/${FILLSYNC_DIVISOR} keys in random order`,
    start: 'empty',
    mutates: true,
    operations: fillsyncOps,
    userBytesWritten: puts(fillsyncOps),
    liveEntriesAfter: fillsyncOps,
    async run (db, plan) {
      const { keys, concurrency } = plan
      const order = new Permutation(keys.count, 'fillsync')
      await inFlight(fillsyncOps(plan), concurrency, i => db.put(keys.key(order.at(i)), keys.value(i), SYNC_WRITE))
      return {}
    }
  },
  overwrite: {
    name: 'overwrite',
    description: 'awaited put() of every present key with a new value, random order',
    start: 'loaded',
    mutates: true,
    operations: count,
    userBytesWritten: puts(count),
    liveEntriesAfter: count,
    async run (db, { keys }) {
      const order = new Permutation(keys.count, 'overwrite')
      for (let i = 0; i < keys.count; i++) await db.put(keys.key(order.at(i)), keys.value(keys.count + i))
      return {}
    }
  },
  readrandom: {
    name: 'readrandom',
    description: 'awaited get() of present keys, random order',
    start: 'loaded',
    mutates: false,
    operations: reads,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys, reads }) {
      const order = new Permutation(keys.count, 'readrandom')
      let found = 0
      for (let i = 0; i < reads; i++) {
        if (await db.get(keys.key(order.at(i % keys.count))) !== undefined) found++
      }
      return { found, expectedFound: reads }
    }
  },
  'readrandom-getSync': {
    name: 'readrandom-getSync',
    description: 'getSync() of present keys, random order',
    start: 'loaded',
    mutates: false,
    requires: 'getSync',
    operations: reads,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys, reads }) {
      const order = new Permutation(keys.count, 'readrandom')
      let found = 0
      for (let i = 0; i < reads; i++) {
        if (db.getSync(keys.key(order.at(i % keys.count))) !== undefined) found++
      }
      return { found, expectedFound: reads }
    }
  },
  getMany: {
    name: 'getMany',
    description: `getMany() of ${GET_MANY_SIZE} present keys, random order, ops = keys`,
    start: 'loaded',
    mutates: false,
    operations: reads,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys, reads }) {
      const order = new Permutation(keys.count, 'getMany')
      let found = 0
      for (let first = 0; first < reads; first += GET_MANY_SIZE) {
        const last = Math.min(reads, first + GET_MANY_SIZE)
        const wanted: string[] = []
        for (let i = first; i < last; i++) wanted.push(keys.key(order.at(i % keys.count)))
        for (const value of await db.getMany(wanted)) if (value !== undefined) found++
      }
      return { found, expectedFound: reads }
    }
  },
  readmissing: {
    name: 'readmissing',
    description: 'awaited get() of absent keys that sort between present ones',
    start: 'loaded',
    mutates: false,
    operations: reads,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys, reads }) {
      const order = new Permutation(keys.count, 'readmissing')
      let found = 0
      for (let i = 0; i < reads; i++) {
        if (await db.get(keys.missingKey(order.at(i % keys.count))) !== undefined) found++
      }
      return { found, expectedFound: 0 }
    }
  },
  readseq: {
    name: 'readseq',
    description: `iterator() with nextv(${NEXTV_SIZE}) over every entry, ascending`,
    start: 'loaded',
    mutates: false,
    operations: count,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys }) {
      return { found: await scan(db, false), expectedFound: keys.count }
    }
  },
  readreverse: {
    name: 'readreverse',
    description: `iterator({ reverse: true }) with nextv(${NEXTV_SIZE}) over every entry`,
    start: 'loaded',
    mutates: false,
    operations: count,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys }) {
      return { found: await scan(db, true), expectedFound: keys.count }
    }
  },
  seekrandom: {
    name: 'seekrandom',
    description: 'one iterator: seek() to a present key, then next(), random order',
    start: 'loaded',
    mutates: false,
    operations: reads,
    userBytesWritten: none,
    liveEntriesAfter: count,
    async run (db, { keys, reads }) {
      const order = new Permutation(keys.count, 'seekrandom')
      const iterator = db.iterator()
      let found = 0
      try {
        for (let i = 0; i < reads; i++) {
          const target = keys.key(order.at(i % keys.count))
          iterator.seek(target)
          const entry = await iterator.next()
          if (entry !== undefined && entry[0] === target) found++
        }
      } finally {
        await iterator.close()
      }
      return { found, expectedFound: reads }
    }
  },
  deleterandom: {
    name: 'deleterandom',
    description: 'awaited del() of every present key, random order',
    start: 'loaded',
    mutates: true,
    operations: count,
    userBytesWritten: plan => plan.keys.count * KEY_SIZE,
    liveEntriesAfter: none,
    async run (db, { keys }) {
      const order = new Permutation(keys.count, 'deleterandom')
      for (let i = 0; i < keys.count; i++) await db.del(keys.key(order.at(i)))
      return {}
    }
  }
}

/**
 * Fills an empty database with every key, in batches of BATCH_SIZE in random order: the state
 * the 'loaded' workloads start from. Untimed by the workloads; its own figures are reported as 'load'.
 */
export async function load (db: BenchDatabase, keys: KeySpace): Promise<void> {
  const order = new Permutation(keys.count, 'load')
  for (let first = 0; first < keys.count; first += BATCH_SIZE) {
    const last = Math.min(keys.count, first + BATCH_SIZE)
    const ops: Array<{ type: 'put', key: string, value: string }> = []
    for (let i = first; i < last; i++) ops.push({ type: 'put', key: keys.key(order.at(i)), value: keys.value(i) })
    await db.batch(ops)
  }
}

/** Whether name is a known workload. */
export function isWorkloadName (name: string): name is WorkloadName {
  return (WORKLOAD_NAMES as readonly string[]).includes(name)
}

/** Runs op(0..total-1) with at most `width` operations in flight; rejects on the first failure. */
async function inFlight (total: number, width: number, op: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) await op(next++)
  }
  await Promise.all(Array.from({ length: Math.min(width, total) }, worker))
}

/** Reads every entry through nextv(); returns how many there were. */
async function scan (db: BenchDatabase, reverse: boolean): Promise<number> {
  const iterator = db.iterator({ reverse })
  let entries = 0
  try {
    for (;;) {
      const batch = await iterator.nextv(NEXTV_SIZE)
      if (batch.length === 0) return entries
      entries += batch.length
    }
  } finally {
    await iterator.close()
  }
}
