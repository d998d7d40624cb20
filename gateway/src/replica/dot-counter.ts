import type { TextSpace } from './node-storage.js'
import { durable } from './node-storage.js'

/**
 * How many counter values one persisted lease covers: one fsynced metadata write per this many
 * dots, and a crash skips at most this many values (harmless: dots need only be unique and growing).
 */
export const COUNTER_LEASE = 10_000

const LEASE_KEY = 'dot-counter-lease'

/**
 * The node-wide source of dot counters for this node's actor. Strictly increasing across the
 * node's whole life, crashes included: before a value is handed out, a lease covering it is on disk
 * (synced), and on open the counter resumes past the last lease. Never reuses a value, which is what
 * lets a key be reaped and written again without a client's old context swallowing the new write.
 */
export class DotCounter {
  readonly #meta: TextSpace
  #next: number
  #leasedUpTo: number
  #extending: Promise<void> | null = null

  private constructor (meta: TextSpace, lastLease: number) {
    this.#meta = meta
    this.#next = lastLease + 1
    this.#leasedUpTo = lastLease
  }

  /** Resume from the lease persisted in `meta` (0 for a new data directory) and take a fresh lease. */
  static async open (meta: TextSpace): Promise<DotCounter> {
    const stored = await meta.get(LEASE_KEY)
    const last = stored === undefined ? 0 : Number(stored)
    if (!Number.isSafeInteger(last) || last < 0) {
      throw new RangeError(`metadata ${LEASE_KEY} holds ${JSON.stringify(stored)}, not a counter; the data directory is damaged`)
    }
    const counter = new DotCounter(meta, last)
    await counter.#extend()
    return counter
  }

  /** The next counter value: greater than every value handed out before, in this process or earlier. */
  async next (): Promise<number> {
    while (this.#next > this.#leasedUpTo) await this.#extend()
    return this.#next++
  }

  async #extend (): Promise<void> {
    if (this.#extending === null) {
      const lease = this.#leasedUpTo + COUNTER_LEASE
      this.#extending = this.#meta.put(LEASE_KEY, String(lease), durable(true)).then(
        () => { this.#leasedUpTo = lease; this.#extending = null },
        (err: unknown) => { this.#extending = null; throw err }
      )
    }
    return this.#extending
  }
}
