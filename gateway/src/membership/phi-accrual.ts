/**
 * The phi accrual failure detector (Hayashibara et al. 2004), in the normal-distribution form Akka
 * uses rather than Cassandra's exponential one.
 *
 * Each heartbeat arrival records the interval since the previous one in a sliding window. At time t,
 * with delta = t - lastArrival, mean m and standard deviation s of the window:
 *
 *     phi(t) = -log10(1 - F(delta)),  F = CDF of Normal(m + acceptablePause, max(s, minStdDev))
 *
 * i.e. phi = 1 means a 10% chance that a heartbeat this late would still come, phi = 8 one in 10^8.
 * F is evaluated with the logistic approximation of the normal CDF that Akka uses (error < 1e-4),
 * which stays finite far into the tail. A member is suspected when phi >= threshold.
 *
 * Why normal and not Cassandra's exponential (phi = delta / (m * ln 10)): the exponential form grows
 * linearly, so at threshold 8 and a 1 s gossip interval it waits 8 * ln 10 * 1 s ~ 18 s before
 * suspecting, whatever the history says. The normal form uses the observed spread: a regular
 * heartbeat is suspected within a few seconds of stopping, as a failover should be, while a node whose
 * heartbeats are consistently slow or jittery (2-3 s) has a mean and deviation that say so, and is
 * not suspected. acceptablePause adds margin on top of the learned mean for GC pauses, gossip taking
 * an extra hop, or a node that has just turned slow before the window has learned it.
 *
 * Times are plain milliseconds from any monotonic clock (performance.now() in production, a synthetic
 * clock in tests); the detector never reads a clock itself.
 */
import { GatewayError } from '../error/gateway-error.js'

/** Settings of a detector; every field has a default suited to 1 s gossip. */
export interface PhiAccrualOptions {
  /** Suspect when phi reaches this. */
  readonly threshold?: number
  /** Intervals kept in the sliding window. */
  readonly maxSampleSize?: number
  /** Floor under the observed standard deviation, ms. */
  readonly minStdDevMs?: number
  /** Margin added to the mean interval before a heartbeat counts as late, ms. */
  readonly acceptablePauseMs?: number
  /** Assumed interval before any has been observed, ms (the gossip interval). */
  readonly firstHeartbeatEstimateMs?: number
}

/** Cassandra's and Akka's default: a false suspicion once in ~10^8 if the learned distribution holds. */
export const DEFAULT_PHI_THRESHOLD = 8
/** 100 intervals ~ 100 s of history at 1 s gossip: a steady mean and deviation, yet a node that turns slow is re-learned within minutes. */
export const DEFAULT_MAX_SAMPLE_SIZE = 100
/** 200 ms: gossip relays a heartbeat through other nodes, so arrivals jitter by hundreds of ms even when every node ticks exactly; a tighter floor suspects on one unlucky relay. */
export const DEFAULT_MIN_STD_DEV_MS = 200
/** 3 s (Akka cluster's default): covers a GC pause or an extra gossip hop, and a node turning from 1 s to 3 s intervals before the window adapts. */
export const DEFAULT_ACCEPTABLE_PAUSE_MS = 3000
/** The default gossip interval; seeds the window so the first intervals are judged sensibly. */
export const DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS = 1000

function positive (name: string, value: number | undefined, fallback: number, allowZero = false): number {
  const v = value ?? fallback
  if (!Number.isFinite(v) || v < 0 || (v === 0 && !allowZero)) {
    throw new GatewayError('CLUSTER_INVALID_OPTION', `phi accrual option ${name}=${String(value)} must be a ${allowZero ? 'non-negative' : 'positive'} number`)
  }
  return v
}

/** -log10 of the probability that a Normal(mean, std) sample exceeds x (Akka's logistic approximation). */
function phiOf (x: number, mean: number, std: number): number {
  const y = (x - mean) / std
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  return x > mean ? -Math.log10(e / (1 + e)) : -Math.log10(1 - 1 / (1 + e))
}

/** One detector per monitored member: feed it arrival times, ask it for phi. */
export class PhiAccrualDetector {
  readonly threshold: number
  readonly #maxSampleSize: number
  readonly #minStdDev: number
  readonly #acceptablePause: number
  readonly #firstEstimate: number
  readonly #intervals: number[] = []
  #next = 0
  #sum = 0
  #squares = 0
  #last: number | undefined
  /** Set by pause(): the next interval spans this node's own pause, so it is not learned. */
  #skipNext = false

  constructor (options: PhiAccrualOptions = {}) {
    this.threshold = positive('threshold', options.threshold, DEFAULT_PHI_THRESHOLD)
    const size = options.maxSampleSize ?? DEFAULT_MAX_SAMPLE_SIZE
    if (!Number.isInteger(size) || size < 2) {
      throw new GatewayError('CLUSTER_INVALID_OPTION', `phi accrual option maxSampleSize=${String(size)} must be an integer >= 2`)
    }
    this.#maxSampleSize = size
    this.#minStdDev = positive('minStdDevMs', options.minStdDevMs, DEFAULT_MIN_STD_DEV_MS)
    this.#acceptablePause = positive('acceptablePauseMs', options.acceptablePauseMs, DEFAULT_ACCEPTABLE_PAUSE_MS, true)
    this.#firstEstimate = positive('firstHeartbeatEstimateMs', options.firstHeartbeatEstimateMs, DEFAULT_FIRST_HEARTBEAT_ESTIMATE_MS)
  }

  /**
   * Records a heartbeat seen at `nowMs`. The first one seeds the window with the first-heartbeat
   * estimate (mean e, deviation e/4, as Akka does). An interval is learned only while the member is
   * not suspected, so one long outage does not teach the detector that outages are normal.
   */
  heartbeat (nowMs: number): void {
    if (this.#last === undefined) {
      const e = this.#firstEstimate
      this.#record(e - e / 4)
      this.#record(e + e / 4)
    } else if (this.#skipNext) {
      this.#skipNext = false
    } else if (nowMs >= this.#last && this.isAvailable(nowMs)) {
      this.#record(nowMs - this.#last)
    }
    if (this.#last === undefined || nowMs > this.#last) this.#last = nowMs
  }

  /** The suspicion level at `nowMs`: 0 before the first heartbeat, growing while none arrives. */
  phi (nowMs: number): number {
    if (this.#last === undefined) return 0
    const n = this.#intervals.length
    const mean = this.#sum / n
    const variance = Math.max(0, this.#squares / n - mean * mean)
    const std = Math.max(Math.sqrt(variance), this.#minStdDev)
    return phiOf(nowMs - this.#last, mean + this.#acceptablePause, std)
  }

  /** True while phi(nowMs) is below the threshold (or no heartbeat has been seen yet). */
  isAvailable (nowMs: number): boolean {
    return this.phi(nowMs) < this.threshold
  }

  /**
   * The observer itself was paused for `ms` (its process stopped, a long GC, a blocked event loop):
   * it could not hear any heartbeat then, so that time does not count as the member's silence. The
   * latest arrival moves `ms` later, and the interval spanning the pause is not learned.
   */
  pause (ms: number): void {
    if (this.#last === undefined || !(ms > 0)) return
    this.#last += ms
    this.#skipNext = true
  }

  /** The arrival time of the latest heartbeat, or undefined before the first. */
  get lastHeartbeatMs (): number | undefined {
    return this.#last
  }

  /** The mean of the learned intervals, ms (for GET /v1/cluster and tests). */
  get meanIntervalMs (): number {
    return this.#intervals.length === 0 ? this.#firstEstimate : this.#sum / this.#intervals.length
  }

  #record (interval: number): void {
    if (this.#intervals.length < this.#maxSampleSize) {
      this.#intervals.push(interval)
    } else {
      const old = this.#intervals[this.#next]!
      this.#sum -= old
      this.#squares -= old * old
      this.#intervals[this.#next] = interval
      this.#next = (this.#next + 1) % this.#maxSampleSize
    }
    this.#sum += interval
    this.#squares += interval * interval
  }
}
