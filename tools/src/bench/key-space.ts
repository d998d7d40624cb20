// The data every engine receives, identical across engines and runs: keys, values, and the
// orders in which they are visited. Nothing here allocates per entry up front, so the memory a
// benchmark child uses belongs to the engine, not to a precomputed key list.

/**
 * Key width in bytes, as in LevelDB's db_bench: long enough to be realistic, short enough that
 * values dominate the bytes written.
 */
export const KEY_SIZE = 16

/** Entries per call in fillbatch (and in the untimed loads), as in db_bench's fillbatch. */
export const BATCH_SIZE = 1000

/** Keys per getMany() call, as the issue specifies. */
export const GET_MANY_SIZE = 100

/**
 * Size of the pool values are cut from: large enough that values written one after another
 * differ (so compression sees no cross-value repeats), small enough (1 MiB) to be noise in RSS.
 */
const VALUE_POOL_CHARS = 1 << 20

/**
 * Present keys are the even numbers and missing keys the odd ones, so a missing key falls
 * between present keys: only a filter (bloom) can rule it out, not a table's key range.
 */
export class KeySpace {
  readonly count: number
  readonly valueSize: number
  readonly #pool: string

  /** count present keys (0..count-1), values of valueSize ASCII characters. */
  constructor (count: number, valueSize: number) {
    this.count = count
    this.valueSize = valueSize
    this.#pool = compressibleText(VALUE_POOL_CHARS + valueSize, 0x5eed)
  }

  /** The i-th present key, 0 <= i < count: 16 decimal digits, so numeric and byte order agree. */
  key (i: number): string {
    return String(2 * i).padStart(KEY_SIZE, '0')
  }

  /** A key that is never written, sorting between key(i) and key(i + 1). */
  missingKey (i: number): string {
    return String(2 * i + 1).padStart(KEY_SIZE, '0')
  }

  /** The value for the n-th write of a workload; different n give different (overlapping) slices. */
  value (n: number): string {
    const offset = (n * 7919) % VALUE_POOL_CHARS
    return this.#pool.substring(offset, offset + this.valueSize)
  }

  /** User bytes of one put, the denominator of write and space amplification. */
  get entryBytes (): number {
    return KEY_SIZE + this.valueSize
  }
}

/**
 * A pseudo-random permutation of 0..size-1 without storing it: a 4-round Feistel network over
 * the next even power of two, cycle-walking values that fall outside the range. The same label
 * gives the same order in every process, so every engine sees the same sequence.
 */
export class Permutation {
  readonly size: number
  readonly #halfBits: number
  readonly #halfMask: number
  readonly #roundKeys: number[]

  constructor (size: number, label: string) {
    if (!Number.isInteger(size) || size < 1 || size > 2 ** 31) {
      throw new RangeError(`Permutation size must be an integer in 1..2^31, got ${size}`)
    }
    this.size = size
    let bits = Math.max(2, Math.ceil(Math.log2(size)))
    if (bits % 2 === 1) bits++
    this.#halfBits = bits / 2
    this.#halfMask = (2 ** this.#halfBits) - 1
    const next = splitmix32(hashLabel(label))
    this.#roundKeys = [next(), next(), next(), next()]
  }

  /** The element at position i (0 <= i < size); a bijection on 0..size-1. */
  at (i: number): number {
    let x = i
    do x = this.#encrypt(x)
    while (x >= this.size)
    return x
  }

  #encrypt (x: number): number {
    const mask = this.#halfMask
    let left = Math.floor(x / (mask + 1))
    let right = x & mask
    for (const k of this.#roundKeys) {
      const mixed = (left ^ roundFunction(right, k)) & mask
      left = right
      right = mixed
    }
    return left * (mask + 1) + right
  }
}

function roundFunction (x: number, key: number): number {
  let h = Math.imul(x ^ key, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** FNV-1a over the label's UTF-16 code units: a stable seed from a name. */
function hashLabel (label: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** A seeded 32-bit generator (splitmix32): same seed, same sequence, in every process. */
export function splitmix32 (seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x9e3779b9) >>> 0
    let z = state
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b)
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35)
    return (z ^ (z >>> 16)) >>> 0
  }
}

/**
 * Printable ASCII that compresses to about half, like db_bench's generator: each 100-character
 * piece is 50 random characters written twice. Engines that compress (classic-level uses Snappy)
 * then see realistic data, neither incompressible noise nor a run of one byte.
 */
function compressibleText (length: number, seed: number): string {
  const next = splitmix32(seed)
  const codes = new Uint8Array(length)
  for (let piece = 0; piece < length; piece += 100) {
    const half = Math.min(50, length - piece)
    for (let i = 0; i < half; i++) codes[piece + i] = 32 + (next() % 95)
    for (let i = half; i < 100 && piece + i < length; i++) codes[piece + i] = codes[piece + i - 50]
  }
  return Buffer.from(codes).toString('latin1')
}
