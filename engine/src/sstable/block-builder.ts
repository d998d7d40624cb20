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
    let shared = 0
    if (this.#counter < this.restartInterval) {
      const last = this.#lastKey
      const n = Math.min(this.#lastKeyLen, key.length)
      while (shared < n && last[shared] === key[shared]) shared++
    }
    this.#append(key, 0, key.length, shared, value, vstart, vend)
    if (key.length > this.#lastKey.length) {
      this.#lastKey = Buffer.allocUnsafe(Math.max(key.length, this.#lastKey.length * 2))
      this.#lastKey.set(key, 0)
    } else {
      copyBytes(key, shared, this.#lastKey, shared, key.length - shared)
    }
    this.#lastKeyLen = key.length
  }

  /**
   * add() of the key key[kstart, kend), for a caller that keeps the previous key itself and knows that key
   * shares its first `shared` bytes with it (a table builder: it compares each key with the last anyway).
   * A block is built with add() or with addShared(), not both.
   */
  addShared (key: Uint8Array, kstart: number, kend: number, shared: number, value: Uint8Array, vstart: number, vend: number): void {
    this.#append(key, kstart, kend, this.#counter < this.restartInterval && this.#entries > 0 ? shared : 0, value, vstart, vend)
  }

  /** Encodes an entry whose key key[kstart, kend) shares `shared` bytes with the previous key (0 at a restart point). */
  #append (key: Uint8Array, kstart: number, kend: number, shared: number, value: Uint8Array, vstart: number, vend: number): void {
    if (this.#finished) throw new Error('BlockBuilder.add() after finish()')
    if (this.#counter >= this.restartInterval) {
      this.#restarts.push(this.#out.length)
      this.#counter = 0
    }
    const out = this.#out
    out.varint32(shared)
    out.varint32(kend - kstart - shared)
    out.varint32(vend - vstart)
    out.range(key, kstart + shared, kend)
    out.range(value, vstart, vend)
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
