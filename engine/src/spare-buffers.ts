/**
 * A bounded free list of same-size buffers, per thread: buffers that would otherwise be allocated and dropped
 * again and again (a table file's write buffer, a scan's read-ahead) are handed back and reused. V8 lets tens
 * of MiB of dropped buffers build up outside its heap before it collects them, so reuse shows in peak RSS.
 */
export class SpareBuffers {
  readonly size: number
  readonly #max: number
  readonly #spare: Buffer[] = []

  /** size: bytes of each buffer; max: buffers kept. */
  constructor (size: number, max: number) {
    this.size = size
    this.#max = max
  }

  /** A buffer of at least `length` bytes (`size` by default): a spare one, or a new one of max(length, size). */
  take (length = this.size): Buffer {
    if (length <= this.size) {
      const spare = this.#spare.pop()
      if (spare !== undefined) return spare
    }
    return Buffer.allocUnsafeSlow(Math.max(length, this.size))
  }

  /** Hand a buffer back; kept only if it is of this list's size and the list is not full. */
  give (b: Buffer): void {
    if (b.length === this.size && this.#spare.length < this.#max) this.#spare.push(b)
  }
}
