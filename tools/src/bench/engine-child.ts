import { rmSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { blankResult, type ChildResult, type ChildSpec, RESULT_MARKER, TIMED_END_LINE, TIMED_START_LINE } from './engine-child-protocol.js'
import { type BenchDatabase, type DatabaseFactory, loadEngine } from './engine-registry.js'
import { type Workload, type WorkloadPlan, WORKLOADS, load } from './engine-workloads.js'
import { KeySpace } from './key-space.js'
import { directoryBytes, ioDelta, readProcessIo } from './process-stats.js'

// A benchmark child: takes one measurement (one engine, one workload, one run) in a process of
// its own, so that its peak RSS and the bytes it wrote belong to that engine alone, then prints
// the result line and exits. Started by engine.ts; not meant to be run by hand.
//
// Sequence: warm up on a scratch database (untimed, removed), open the measured database (for an
// in-memory engine, load it here, untimed), read one entry so lazy structures settle, collect
// garbage, then time the workload; close() and the directory size come after the clock stops.

/**
 * Operations of the warm-up pass: enough for V8 to optimize the engine's hot paths before the
 * clock starts, few enough to cost seconds, not minutes.
 */
const WARMUP_ENTRIES = 20_000

/** How long a database a workload wrote to is left open without writes before its size at rest is taken. */
const REST_SECONDS = Number(process.env.LEVELRING_BENCH_REST_SECONDS ?? 15)

const spec = JSON.parse(process.argv[2] ?? '{}') as ChildSpec
const result = await measure(spec).catch((err: unknown) => failed(spec, err))
process.stdout.write(RESULT_MARKER + JSON.stringify(result) + '\n', () => {
  // Exit even if an engine left a timer or handle behind: the measurement is over.
  process.exit(result.error === undefined ? 0 : 1)
})

async function measure (spec: ChildSpec): Promise<ChildResult> {
  const create = await loadEngine(spec.engine)
  const keys = new KeySpace(spec.count, spec.valueSize)
  const plan: WorkloadPlan = { keys, reads: spec.reads, concurrency: spec.concurrency }
  const workload = spec.role === 'run' ? WORKLOADS[spec.workload as keyof typeof WORKLOADS] : undefined
  const db = create(spec.location)

  if (workload?.requires === 'getSync' && (db.supports as { getSync?: boolean }).getSync !== true) {
    return { ...blankResult(spec), skipped: `${spec.engine} does not support getSync (manifest getSync: false)` }
  }

  await warmUp(create, workload, spec)
  await db.open()
  const persistent = db.supports.permanence
  if (workload?.start === 'loaded' && !persistent) await load(db, keys)
  await settle(db)
  collectGarbage()

  // Synchronous writes (stdout is a pipe): the harness sees the mark before the first operation.
  process.stdout.write(TIMED_START_LINE + '\n')
  const rssStartBytes = process.memoryUsage.rss()
  const ioBefore = readProcessIo()
  const started = performance.now()
  const outcome = workload === undefined ? await load(db, keys).then(() => ({})) : await workload.run(db, plan)
  const seconds = (performance.now() - started) / 1000
  const rssEndBytes = process.memoryUsage.rss()
  process.stdout.write(TIMED_END_LINE + '\n')
  await db.close()
  const closeSeconds = (performance.now() - started) / 1000 - seconds
  const io = ioDelta(ioBefore, readProcessIo())

  // The load is settled before any run copies it: fully compacted, so that every read workload starts from
  // the same shape on every engine rather than from whatever compaction backlog the fill left behind.
  if (workload === undefined) await compactAll(create(spec.location), keys)

  const ops = workload === undefined ? keys.count : workload.operations(plan)
  const userBytesWritten = workload === undefined ? keys.count * keys.entryBytes : workload.userBytesWritten(plan)
  const liveBytes = (workload === undefined ? keys.count : workload.liveEntriesAfter(plan)) * keys.entryBytes
  const diskBytes = persistent ? directoryBytes(spec.location) : null
  // Every writing workload leaves a compaction backlog at close (overwritten or deleted versions, level-0 tables
  // not yet merged) whose size depends on where each engine's compaction happened to be: measured again at rest.
  const wrote = workload !== undefined && userBytesWritten > 0
  const diskBytesAtRest = persistent && wrote && liveBytes > 0 && REST_SECONDS > 0
    ? await sizeAtRest(create(spec.location), spec.location)
    : null
  return {
    ...blankResult(spec),
    ops,
    seconds,
    opsPerSec: ops / seconds,
    closeSeconds,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    rssStartBytes,
    rssEndBytes,
    diskWriteBytes: io?.writeBytes ?? null,
    diskCancelledWriteBytes: io?.cancelledWriteBytes ?? null,
    diskReadBytes: io?.readBytes ?? null,
    userBytesWritten,
    diskBytes,
    liveBytes,
    writeAmp: persistent && io !== null && userBytesWritten > 0 ? io.writeBytes / userBytesWritten : null,
    spaceAmp: diskBytes !== null && liveBytes > 0 ? diskBytes / liveBytes : null,
    spaceAmpAtRest: diskBytesAtRest === null ? null : diskBytesAtRest / liveBytes,
    ...outcome
  }
}

/** Reopens the database, leaves it without writes for REST_SECONDS (its background work runs), closes it, sizes it. */
async function sizeAtRest (db: BenchDatabase, location: string): Promise<number | null> {
  await db.open()
  await new Promise(resolve => setTimeout(resolve, REST_SECONDS * 1000))
  await db.close()
  return directoryBytes(location)
}

/** Runs the workload (or the load) at warm-up size on a scratch database of the same engine. */
async function warmUp (create: DatabaseFactory, workload: Workload | undefined, spec: ChildSpec): Promise<void> {
  const entries = Math.min(spec.count, WARMUP_ENTRIES)
  const keys = new KeySpace(entries, spec.valueSize)
  const scratch = create(spec.scratch)
  try {
    await scratch.open()
    if (workload === undefined || workload.start === 'loaded') await load(scratch, keys)
    if (workload !== undefined) await workload.run(scratch, { keys, reads: entries, concurrency: spec.concurrency })
  } finally {
    await scratch.close()
    rmSync(spec.scratch, { recursive: true, force: true })
  }
}

/** Compacts the whole key range of a persistent engine that offers compactRange (lsm-level, classic-level). */
async function compactAll (db: BenchDatabase, keys: KeySpace): Promise<void> {
  const compactable = db as BenchDatabase & { compactRange?: (start: string, end: string) => Promise<void> }
  if (!db.supports.permanence || typeof compactable.compactRange !== 'function') return
  await db.open()
  try {
    await compactable.compactRange(keys.key(0), keys.key(keys.count - 1))
  } finally {
    await db.close()
  }
}

/** Reads the first entry: lets an engine finish lazy work of opening (or of a load) untimed. */
async function settle (db: BenchDatabase): Promise<void> {
  const iterator = db.iterator({ limit: 1 })
  try {
    await iterator.next()
  } finally {
    await iterator.close()
  }
}

function collectGarbage (): void {
  // Present when the harness starts the child with --expose-gc.
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
}

function failed (spec: ChildSpec, err: unknown): ChildResult {
  const message = err instanceof Error ? `${err.name}: ${err.message}${codeOf(err)}` : String(err)
  return { ...blankResult(spec), maxRssBytes: process.resourceUsage().maxRSS * 1024, error: message }
}

function codeOf (err: Error): string {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? ` (${code})` : ''
}
