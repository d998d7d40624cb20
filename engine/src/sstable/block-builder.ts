/**
 * Builds a block (LevelDB's block format), used for data, index and properties blocks:
 *
 *   block   := entry* restart[numRestarts] numRestarts fixed32
 *   entry   := shared varint32 | unshared varint32 | valueLen varint32 | key[shared..] (unshared bytes) | value
 *   restart := fixed32 offset of an entry stored with shared = 0
 *
 * Each key is stored as the bytes it does not share with the previous key; every restartInterval entries
 * the full key is stored and its offset recorded, so a reader can binary-search the restart points.
 */
import { ByteWriter, copyBytes } from '../coding.js'

/** Accumulates sorted entries into one block. */
export class BlockBuilder {
  readonly restartInterval: number
  #out = new ByteWriter(4096)
  #restarts: number[] = [0]
  #counter = 0
  #entries = 0
  #lastKey: Buffer = Buffer.allocUnsafe(64)
  #lastKeyLen = 0
  #finished = false

  /** restartInterval: entries between full keys (>= 1); 16 trades seek cost against space as in LevelDB. */
  constructor (restartInterval: number) {
    if (!Number.isInteger(restartInterval) || restartInterval < 1) throw new RangeError(`restartInterval must be an integer >= 1, got ${restartInterval}`)
    this.restartInterval = restartInterval
  }

  /** True iff nothing was added since construction or reset(). */
  get empty (): boolean { return this.#entries === 0 }

  /** Entries added since construction or reset(). */
  get entries (): number { return this.#entries }

  /** The size finish() would return now. */
  currentSizeEstimate (): number {
    return this.#out.length + this.#restarts.length * 4 + 4
  }

  /**
   * Adds an entry whose value is value[vstart, vend) (all of it by default); key must be greater than the
   * previous key (in the block's order); data may be reused after.
   */
  add (key: Uint8Array, value: Uint8Array, vstart = 0, vend = value.length): void {
    if (this.#finished) throw new Error('BlockBuilder.add() after finish()')
    let shared = 0
    if (this.#counter < this.restartInterval) {
      const last = this.#lastKey
      const n = Math.min(this.#lastKeyLen, key.length)
      while (shared < n && last[shared] === key[shared]) shared++
    } else {
      this.#restarts.push(this.#out.length)
      this.#counter = 0
    }
    const out = this.#out
    out.varint32(shared)
    out.varint32(key.length - shared)
    out.varint32(vend - vstart)
    out.range(key, shared, key.length)
    out.range(value, vstart, vend)
    if (key.length > this.#lastKey.length) {
      this.#lastKey = Buffer.allocUnsafe(Math.max(key.length, this.#lastKey.length * 2))
      this.#lastKey.set(key, 0)
    } else {
      copyBytes(key, shared, this.#lastKey, shared, key.length - shared)
    }
    this.#lastKeyLen = key.length
    this.#counter++
    this.#entries++
  }

  /** Appends the restart array; returns the block as a view valid until reset(). */
  finish (): Buffer {
    if (!this.#finished) {
      for (const r of this.#restarts) this.#out.fixed32(r)
      this.#out.fixed32(this.#restarts.length)
      this.#finished = true
    }
    return this.#out.view()
  }

  /** Starts a new, empty block (keeps the buffers). */
  reset (): void {
    this.#out.reset()
    this.#restarts = [0]
    this.#counter = 0
    this.#entries = 0
    this.#lastKeyLen = 0
    this.#finished = false
  }
}
