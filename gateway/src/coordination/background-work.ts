/**
 * Work a request leaves running after it was answered (late replies, read repair, replication past
 * W). Tracked so a node shutting down can wait for it before closing its engine.
 */
export class BackgroundWork {
  readonly #pending = new Set<Promise<unknown>>()

  /** Track `work` until it settles; its failure is the caller's to handle (it is only awaited here). */
  track (work: Promise<unknown>): void {
    const settled = work.then(() => {}, () => {})
    this.#pending.add(settled)
    void settled.then(() => this.#pending.delete(settled))
  }

  /** How many pieces of work are still running. */
  get size (): number {
    return this.#pending.size
  }

  /** Wait until everything tracked now has settled, or `timeoutMs` passed. */
  async drain (timeoutMs: number): Promise<void> {
    if (this.#pending.size === 0) return
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([...this.#pending]),
      new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) })
    ])
    clearTimeout(timer)
  }
}
