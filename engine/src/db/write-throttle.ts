import type { EngineOptions } from '../options.js'
import type { Version } from '../version/version.js'
import { pendingCompactionBytes } from '../compaction/limits.js'

/** The slowest rate the throttle falls to (bytes a second): writers always move, however far behind compaction is. */
const MIN_DELAYED_WRITE_RATE = 64 * 1024

/**
 * Time not used while writers were idle that a delayed writer may spend at once (ms): a little, so that
 * waits come in timer-sized steps; not more, or a burst after a pause would pass unthrottled.
 */
const MAX_IDLE_CREDIT_MS = 1

/**
 * Holds writers to a write rate while compaction is behind (RocksDB's delayed write rate, with the rate set
 * by the debt instead of by its trend). Past softPendingCompactionBytes of debt (pendingCompactionBytes),
 * writers are held to delayedWriteRate log bytes a second, halved for every further
 * softPendingCompactionBytes of debt: the rate settles where the one compaction thread keeps up, at a debt
 * that grows only with the log of how far the writers outrun it. Below the limit writers are free. A wait is
 * bounded by the rate (never below MIN_DELAYED_WRITE_RATE), never by a compaction finishing, so a slow or
 * failing compaction cannot stop writers.
 */
export class WriteThrottle {
  readonly #o: EngineOptions
  #version: Version | null = null
  /** Bytes a second while delayed; 0 while writers are free. */
  #rate = 0
  /** performance.now() at which the log bytes charged so far are paid for. */
  #paidUntil = 0
  /** The writers' log byte count already charged. */
  #charged = 0

  constructor (o: EngineOptions) {
    this.#o = o
  }

  /**
   * Milliseconds the next write group should wait, given the version current now and the count of log bytes
   * written so far (monotonic); 0 means go on. A caller that waits asks again afterwards.
   */
  delayMs (v: Version, loggedBytes: number, now: number): number {
    if (this.#o.softPendingCompactionBytes === 0) return 0
    this.#observe(v, now)
    const bytes = loggedBytes - this.#charged
    this.#charged = loggedBytes
    if (this.#rate === 0) return 0
    this.#paidUntil = Math.max(this.#paidUntil, now - MAX_IDLE_CREDIT_MS) + bytes / this.#rate * 1000
    const wait = this.#paidUntil - now
    return wait >= 1 ? wait : 0
  }

  /** On a new version: the rate its debt calls for. */
  #observe (v: Version, now: number): void {
    if (v === this.#version) return
    this.#version = v
    const rate = delayedWriteRate(pendingCompactionBytes(v, this.#o), this.#o)
    if (this.#rate === 0 && rate > 0) this.#paidUntil = now
    this.#rate = rate
  }
}

/** The write rate (bytes a second) writers are held to at a compaction debt of `debt` bytes, or 0 (free). */
export function delayedWriteRate (debt: number, o: Pick<EngineOptions, 'softPendingCompactionBytes' | 'delayedWriteRate'>): number {
  const soft = o.softPendingCompactionBytes
  if (soft === 0 || debt <= soft) return 0
  const floor = Math.min(MIN_DELAYED_WRITE_RATE, o.delayedWriteRate)
  return Math.max(floor, o.delayedWriteRate * 2 ** (-(debt - soft) / soft))
}
