/**
 * A table's index block decoded once at open into flat arrays (keys in one arena, handles as numbers), so
 * lookups binary-search it with no varint decoding or key rebuilding per step. The index stays in memory
 * for as long as the table is open, so decoding it once pays off on every read.
 */
import { ByteReader, ByteWriter } from '../coding.js'
import { corruption } from '../errors.js'
import { commonPrefix, compareBytes, compareInternalKeysFrom, compareInternalKeySlices, TRAILER_SIZE } from '../keys.js'
import type { InternalIterator, ValueSlice } from '../internal-iterator.js'
import type { Block } from './block.js'
import { BLOCK_TRAILER_SIZE } from './format.js'

/** The decoded index: entry i covers the data block at (offsets[i], sizes[i]) whose keys are <= key i. */
export class IndexBlock {
  readonly count: number
  readonly #keys: Buffer
  readonly #keyStart: Uint32Array
  readonly #offsets: Float64Array
  readonly #sizes: Float64Array

  private constructor (keys: Buffer, keyStart: Uint32Array, offsets: Float64Array, sizes: Float64Array) {
    this.count = offsets.length
    this.#keys = keys
    this.#keyStart = keyStart
    this.#offsets = offsets
    this.#sizes = sizes
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
    return this.#keys.length + this.#keyStart.byteLength + this.#offsets.byteLength + this.#sizes.byteLength
  }

  /** The first entry whose key is >= target[0, targetLength), or count if none. */
  seek (target: Buffer, targetLength: number = target.length): number {
    const keys = this.#keys
    const ks = this.#keyStart
    let lo = 0
    let hi = this.count
    // Common prefixes of the target's user key with the nearest keys known below and at-or-above it.
    let below = 0
    let above = 0
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareInternalKeysFrom(keys, ks[mid], ks[mid + 1], target, 0, targetLength, below < above ? below : above) < 0) {
        lo = mid + 1
        below = commonPrefix
      } else {
        hi = mid
        above = commonPrefix
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
  value (): Buffer { return EMPTY }
  valueSlice (): ValueSlice { return { data: EMPTY, start: 0, end: 0 } }
  close (): void {}
}
