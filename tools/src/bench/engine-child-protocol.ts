import type { EngineName } from './engine-registry.js'
import type { WorkloadName } from './engine-workloads.js'

// What the harness tells a benchmark child (one JSON argument) and what the child answers (one
// stdout line starting with RESULT_MARKER; anything else an engine prints is passed through).

/** Prefix of the child's one result line on stdout. */
export const RESULT_MARKER = 'LEVELRING-BENCH-RESULT '

/** Lines the child prints as the timed phase starts and ends, so the harness can place its RSS samples. */
export const TIMED_START_LINE = 'LEVELRING-BENCH-PHASE timed-start'
export const TIMED_END_LINE = 'LEVELRING-BENCH-PHASE timed-end'

/** One measurement for a child to take. */
export interface ChildSpec {
  /** 'load': fill the location with every key and close it (prepares 'loaded' workloads). */
  role: 'load' | 'run'
  engine: EngineName
  /** The workload to time (role 'run'). */
  workload?: WorkloadName
  /** Run number, 1-based (role 'run'); 0 for a load. */
  run: number
  /** Database directory. For a 'loaded' workload on a persistent engine it already holds the load. */
  location: string
  /** Directory for the warm-up database; the child removes it before timing. */
  scratch: string
  count: number
  valueSize: number
  reads: number
  concurrency: number
}

/** What a child measured; null fields could not be measured here (no /proc, not applicable). */
export interface ChildResult {
  role: 'load' | 'run'
  engine: EngineName
  workload: WorkloadName | 'load'
  run: number
  /** Operations timed. */
  ops: number
  /** Seconds from the first operation to the last one's completion (close excluded). */
  seconds: number
  opsPerSec: number
  /** Seconds close() took after the timed phase (flushes that an engine defers land here). */
  closeSeconds: number
  /** Peak resident set size of the child over its whole life (process.resourceUsage().maxRSS). */
  maxRssBytes: number
  /** Resident set size as the clock started and as the last operation completed. */
  rssStartBytes: number
  rssEndBytes: number
  /** Bytes the child sent to storage during the timed phase and close (/proc/self/io write_bytes). */
  diskWriteBytes: number | null
  /** Of diskWriteBytes, bytes cancelled by truncating or deleting files before writeback. */
  diskCancelledWriteBytes: number | null
  /** Bytes the child read from storage (not the page cache) during the timed phase and close. */
  diskReadBytes: number | null
  /** Key and value bytes the workload asked to be written. */
  userBytesWritten: number
  /** Bytes of the database's files after close (persistent engines only). */
  diskBytes: number | null
  /** Key and value bytes of the entries live after the workload. */
  liveBytes: number
  /** diskWriteBytes / userBytesWritten (persistent engines, writing workloads). */
  writeAmp: number | null
  /** diskBytes / liveBytes (persistent engines, live entries left). */
  spaceAmp: number | null
  /**
   * The same after the database was reopened and left without writes for REST_SECONDS, for workloads that
   * wrote: the space the data takes at rest, once each engine's background compaction had the same time to
   * catch up after the burst. Null where not measured.
   */
  spaceAmpAtRest: number | null
  /** Entries found or matched, where the workload can check correctness. */
  found?: number
  expectedFound?: number
  /** Why the workload did not run on this engine (an unsupported feature), if it did not. */
  skipped?: string
  /** What went wrong, if the child failed. */
  error?: string
}

/** Finds and parses the result line in a child's stdout; null if there is none. */
export function parseChildResult (stdout: string): ChildResult | null {
  const line = stdout.split('\n').reverse().find(l => l.startsWith(RESULT_MARKER))
  return line === undefined ? null : JSON.parse(line.slice(RESULT_MARKER.length)) as ChildResult
}

/** A result with nothing measured yet, for a child that skipped, failed or never answered. */
export function blankResult (spec: ChildSpec): ChildResult {
  return {
    role: spec.role,
    engine: spec.engine,
    workload: spec.role === 'load' ? 'load' : spec.workload as WorkloadName,
    run: spec.run,
    ops: 0,
    seconds: 0,
    opsPerSec: 0,
    closeSeconds: 0,
    maxRssBytes: 0,
    rssStartBytes: 0,
    rssEndBytes: 0,
    diskWriteBytes: null,
    diskCancelledWriteBytes: null,
    diskReadBytes: null,
    userBytesWritten: 0,
    diskBytes: null,
    liveBytes: 0,
    writeAmp: null,
    spaceAmp: null,
    spaceAmpAtRest: null
  }
}
