/**
 * The nonces of internode requests accepted within the signature window, so a request captured on
 * the wire and sent again is refused. A request's signature covers its timestamp and its nonce, so a
 * replay carries the same timestamp: nonces are kept in one bucket per second of timestamp, and a
 * bucket is dropped once its second is out of the window (a replay of it is then refused as stale).
 *
 * Memory is bounded twice: by the window (buckets older than it go) and by `limit` nonces. When the
 * limit is reached the oldest bucket is dropped early and `floor` rises past it: timestamps at or
 * below the floor are refused from then on, so an evicted nonce can never be accepted again. Under
 * such a load the window shrinks; it never opens. The floor starts at the cache's creation, so a
 * node that restarts refuses calls signed before (their nonces died with the previous run).
 */
export class ReplayCache {
  readonly #windowMs: number
  readonly #limit: number
  readonly #buckets = new Map<number, Set<string>>()
  #size = 0
  #floorMs = -Infinity
  #expiredBelow = -Infinity

  /** Refuses timestamps below `sinceMs` from the start (the nonces seen before then are unknown). */
  constructor (windowMs: number, limit: number, sinceMs = -Infinity) {
    this.#windowMs = windowMs
    this.#limit = limit
    this.#floorMs = sinceMs - 1
  }

  /** Nonces held now. */
  get size (): number {
    return this.#size
  }

  /**
   * Record `nonce` of a request stamped `timestampMs` (already checked to be within the window of
   * `nowMs`); false when it was seen before, or its timestamp is at or below the eviction floor.
   */
  admit (timestampMs: number, nonce: string, nowMs: number): boolean {
    if (timestampMs <= this.#floorMs) return false
    const second = Math.floor(timestampMs / 1000)
    let bucket = this.#buckets.get(second)
    if (bucket?.has(nonce) === true) return false
    this.#expire(nowMs)
    if (bucket === undefined) {
      bucket = new Set()
      this.#buckets.set(second, bucket)
    }
    bucket.add(nonce)
    this.#size++
    while (this.#size > this.#limit) this.#evictOldest()
    return !(timestampMs <= this.#floorMs) // the bucket just filled may itself have been the oldest
  }

  #expire (nowMs: number): void {
    const oldest = Math.floor((nowMs - this.#windowMs) / 1000) // a second wholly before the window
    if (oldest <= this.#expiredBelow) return // once a second is enough
    this.#expiredBelow = oldest
    for (const [second, bucket] of this.#buckets) {
      if (second < oldest) { this.#buckets.delete(second); this.#size -= bucket.size }
    }
  }

  #evictOldest (): void {
    let oldest = Infinity
    for (const second of this.#buckets.keys()) oldest = Math.min(oldest, second)
    const bucket = this.#buckets.get(oldest)!
    this.#buckets.delete(oldest)
    this.#size -= bucket.size
    this.#floorMs = Math.max(this.#floorMs, (oldest + 1) * 1000 - 1)
  }
}
