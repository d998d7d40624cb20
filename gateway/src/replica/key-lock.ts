/**
 * Serializes asynchronous work per key: read-modify-write of one key runs one at a time, in
 * arrival order, while different keys proceed in parallel. Holds no memory for idle keys.
 */
export class KeyLock {
  readonly #tails = new Map<string, Promise<unknown>>()

  /** Run `fn` after every earlier `run` for the same key has settled; resolves to its result. */
  async run<T> (key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve()
    const result = previous.then(fn, fn)
    const tail = result.then(() => {}, () => {})
    this.#tails.set(key, tail)
    try {
      return await result
    } finally {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
  }

  /** Whether some key with work queued or running satisfies `test`. */
  someKey (test: (key: string) => boolean): boolean {
    for (const key of this.#tails.keys()) if (test(key)) return true
    return false
  }

  /** Keys with work queued or running (for tests and shutdown). */
  get busyKeys (): number {
    return this.#tails.size
  }
}
