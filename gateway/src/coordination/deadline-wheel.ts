/**
 * Deadlines for many short operations on one coarse timer. A timer per request costs more than
 * the local operations it guards; here each pending operation is a map entry, and one unref'd
 * interval, running only while something is pending, fails the ones past their deadline.
 * Precision is TICK_MS: an operation fails between its deadline and one tick later.
 */
export const TICK_MS = 25

interface Pending {
  readonly deadline: number
  readonly fail: () => void
}

export class DeadlineWheel {
  readonly #pending = new Map<number, Pending>()
  #nextId = 0
  #timer: NodeJS.Timeout | undefined

  /**
   * Settle as `work` settles, or reject with `timeoutError()` if `timeoutMs` pass first. The work
   * goes on after a timeout (its outcome is dropped): a late local write still completes.
   */
  race<T> (work: Promise<T>, timeoutMs: number, timeoutError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++
      this.#pending.set(id, { deadline: Date.now() + timeoutMs, fail: () => reject(timeoutError()) })
      this.#timer ??= setInterval(() => this.#tick(), TICK_MS).unref()
      work.then(
        (value) => { if (this.#pending.delete(id)) resolve(value) },
        (err: unknown) => { if (this.#pending.delete(id)) reject(err) })
    })
  }

  #tick (): void {
    const now = Date.now()
    for (const [id, p] of this.#pending) {
      if (p.deadline <= now) { this.#pending.delete(id); p.fail() }
    }
    if (this.#pending.size === 0) { clearInterval(this.#timer); this.#timer = undefined }
  }
}
