/**
 * A table's index block decoded once at open into flat arrays (keys in one arena, handles as numbers), so
 * lookups binary-search it with no varint decoding or key rebuilding per step. The index stays in memory
 * for as long as the table is open, so decoding it once pays off on every read.
 */
import { ByteReader, ByteWriter } from '../coding.js'
import { corruption } from '../errors.js'
import { bigEndianWord48, compareBytes, compareInternalKeysFrom, compareInternalKeySlices, prefixOfOrder, sharedPrefixLength, TRAILER_SIZE } from '../keys.js'
import { type ByteSlice, type InternalIterator, type ValueSlice, wholeSlice } from '../iterator/internal-iterator.js'
import type { Block } from './block.js'
import { BLOCK_TRAILER_SIZE } from './format.js'

/** The decoded index: entry i covers the data block at (offsets[i], sizes[i]) whose keys are <= key i. */
export class IndexBlock {
  readonly count: number
  readonly #keys: Buffer
  readonly #keyStart: Uint32Array
  readonly #offsets: Float64Array
  readonly #sizes: Float64Array
  /** Bytes every key's user key starts with (the common prefix of the first and the last one). */
  readonly #prefixLength: number
  /**
   * Per key, the 6 bytes of its user key after that prefix (zeros past its end), big-endian: bigEndianWord48().
   * Six, not four: a table of zero-padded numbers (a common key shape) differs in its last six digits, and a
   * window that covers them leaves no key to compare.
   */
  readonly #windows: Float64Array

  private constructor (keys: Buffer, keyStart: Uint32Array, offsets: Float64Array, sizes: Float64Array) {
    const count = offsets.length
    this.count = count
    this.#keys = keys
    this.#keyStart = keyStart
    this.#offsets = offsets
    this.#sizes = sizes
    let p = 0
    if (count > 0) {
      const a = keyStart[0]
      const b = keyStart[count - 1]
      p = sharedPrefixLength(keys, a, keys, b, Math.min(keyStart[1] - a, keyStart[count] - b) - TRAILER_SIZE)
    }
    this.#prefixLength = p
    const windows = new Float64Array(count)
    for (let i = 0; i < count; i++) windows[i] = bigEndianWord48(keys, keyStart[i] + p, keyStart[i + 1] - TRAILER_SIZE)
    this.#windows = windows
  }

  /**
   * Decodes a verified index block; throws LEVEL_CORRUPTION if an entry is malformed, keys are not
   * increasing, or a handle reaches past dataEnd (where the data blocks end).
   */
  static decode (block: Block, dataEnd: number): IndexBlock {
    const arena = new ByteWriter(block.size)
    const starts: number[] = [0]
    const offsets: number[] = []
    const sizes: number[] = []
    const r = new ByteReader(block.data, block.fileName, block.fileOffset)
    const it = block.iterator()
    let prevStart = -1
    for (it.seekToFirst(); it.valid(); it.next()) {
      const k = it.key()
      const at = { file: block.fileName, offset: block.fileOffset + it.valueOffset }
      if (k.length < TRAILER_SIZE) throw corruption(`index key of ${k.length} bytes is not an internal key`, at)
      const start = arena.length
      arena.bytes(k)
      if (prevStart >= 0) {
        const v = arena.view()
        if (compareInternalKeySlices(v, prevStart, start, v, start, start + k.length) >= 0) throw corruption('index keys are not increasing', at)
      }
      prevStart = start
      starts.push(arena.length)
      r.reset(block.data, it.valueOffset, it.valueOffset + it.valueLength)
      const offset = r.varint64()
      const size = r.varint64()
      if (r.remaining !== 0) throw corruption('index entry value is not a block handle', at)
      if (offset + size + BLOCK_TRAILER_SIZE > dataEnd || (offsets.length > 0 && offset < offsets[offsets.length - 1] + sizes[sizes.length - 1] + BLOCK_TRAILER_SIZE)) {
        throw corruption(`index entry points outside the data blocks (offset ${offset}, size ${size})`, at)
      }
      offsets.push(offset)
      sizes.push(size)
    }
    return new IndexBlock(arena.toBuffer(), Uint32Array.from(starts), Float64Array.from(offsets), Float64Array.from(sizes))
  }

  /** Bytes held in memory. */
  get memoryBytes (): number {
    return this.#keys.length + this.#keyStart.byteLength + this.#offsets.byteLength + this.#sizes.byteLength + this.#windows.byteLength
  }

  /**
   * The first entry whose key is >= target[0, targetLength), or count if none.
   *
   * Every key shares the table's prefix, and the keys' next 6 bytes (windows) are in order, so a search over
   * the small array of windows narrows the range to the keys whose window is the target's (most often none
   * or one) before any key bytes are compared.
   */
  seek (target: Buffer, targetLength: number = target.length): number {
    const count = this.count
    if (count === 0) return 0
    const keys = this.#keys
    const ks = this.#keyStart
    const p = this.#prefixLength
    const tu = targetLength - TRAILER_SIZE
    // A target without the prefix sorts before or after every key.
    const k0 = ks[0]
    for (let i = 0; i < p; i++) {
      if (i >= tu) return 0
      const d = target[i] - keys[k0 + i]
      if (d !== 0) return d < 0 ? 0 : count
    }
    const t = bigEndianWord48(target, p, tu)
    const windows = this.#windows
    let lo = 0
    let hi = count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (windows[mid] < t) lo = mid + 1
      else hi = mid
    }
    hi = lo
    let end = count
    while (hi < end) {
      const mid = (hi + end) >>> 1
      if (windows[mid] <= t) hi = mid + 1
      else end = mid
    }
    // Keys before lo are smaller than the target, keys from hi on larger: compare the keys between.
    // Common prefixes of the target's user key with the nearest keys known below and at-or-above it.
    let below = p
    let above = p
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const c = compareInternalKeysFrom(keys, ks[mid], ks[mid + 1], target, 0, targetLength, below < above ? below : above)
      if (c < 0) {
        lo = mid + 1
        below = prefixOfOrder(c)
      } else {
        hi = mid
        above = c === 0 ? targetLength - TRAILER_SIZE : prefixOfOrder(c)
      }
    }
    return lo
  }

  /** Key i as a view into the arena. */
  key (i: number): Buffer {
    return this.#keys.subarray(this.#keyStart[i], this.#keyStart[i + 1])
  }

  /** True iff key i's user key is userKey. */
  userKeyEquals (i: number, userKey: Buffer): boolean {
    const s = this.#keyStart[i]
    const e = this.#keyStart[i + 1] - TRAILER_SIZE
    return e - s === userKey.length && compareBytes(this.#keys, s, e, userKey, 0, userKey.length) === 0
  }

  blockOffset (i: number): number { return this.#offsets[i] }
  blockSize (i: number): number { return this.#sizes[i] }

  /** A cursor over the entries (key = separator, value = an empty buffer: use blockOffset/blockSize). */
  iterator (): IndexIterator {
    return new IndexIterator(this)
  }
}

const EMPTY = Buffer.alloc(0)

/** Cursor over an IndexBlock; position() is the entry number. */
export class IndexIterator implements InternalIterator {
  readonly index: IndexBlock
  #i: number

  constructor (index: IndexBlock) {
    this.index = index
    this.#i = index.count
  }

  /** The current entry number (count when not valid). */
  get position (): number { return this.#i }

  valid (): boolean { return this.#i >= 0 && this.#i < this.index.count }
  seekToFirst (): void { this.#i = 0 }
  seekToLast (): void { this.#i = this.index.count - 1 }
  seek (target: Buffer): void { this.#i = this.index.seek(target) }
  next (): void { this.#i++ }
  prev (): void { this.#i-- }
  key (): Buffer { return this.index.key(this.#i) }
  keySlice (): ByteSlice { return wholeSlice(this.key(), this.#keySlice) }
  readonly #keySlice: ByteSlice = { data: EMPTY, start: 0, end: 0 }
  value (): Buffer { return EMPTY }
  valueSlice (): ValueSlice { return { data: EMPTY, start: 0, end: 0 } }
  close (): void {}
}
