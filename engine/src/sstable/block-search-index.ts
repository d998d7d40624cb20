/**
 * A search index over a data block's entries, laid out right after the block's bytes in the memory the
 * block cache holds (never written to a file):
 *
 *   index   := prefixLength u8 | prefix[prefixLength] | count u16 | window[count] | offset[count]
 *   window  := u32 big-endian: bytes [prefixLength, prefixLength + 4) of the entry's user key, zeros past its end
 *   offset  := u16 little-endian: where the entry starts in the block
 *
 * prefix is what every user key of the block starts with (the common prefix of the first and the last).
 * Windows are then in key order, so a point lookup binary-searches them and goes straight to its entry: it
 * touches the lines at the block's end and the entry's own, where the restart search reads a restart key in
 * the middle of the block and then scans the run before the entry (in a block cache larger than the CPU's
 * caches, every one of those lines is a miss). It costs about 6 bytes per entry of cache memory, so only
 * blocks that point reads come back to get one (Table.get).
 */
import { copyBytes } from '../coding.js'
import { bigEndianWord, TRAILER_SIZE } from '../keys.js'

/** A block this large has entry offsets that do not fit the index's u16: it gets no index. */
export const MAX_INDEXED_BLOCK_BYTES = 0xffff
/** The longest prefix the index records (its length is one byte); a shorter common prefix is still one. */
const MAX_PREFIX = 0xff

// Scratch of the parse: every key of the block rebuilt one after another, with their starts and lengths.
let arena: Buffer = Buffer.allocUnsafeSlow(8192)
let starts = new Int32Array(512)
let lengths = new Int32Array(512)
let offsets = new Int32Array(512)

/**
 * data[0, size) (a verified block whose entries end at restartsOffset) followed by its search index, in new
 * memory, and where the index starts; null when the block cannot have one (too large, or an entry that does
 * not parse: the reader's own checks then report it as they would without an index).
 */
export function appendSearchIndex (data: Buffer, size: number, restartsOffset: number): { data: Buffer, at: number } | null {
  if (size > MAX_INDEXED_BLOCK_BYTES) return null
  const limit = restartsOffset
  let n = 0
  let arenaLen = 0
  let prevStart = 0
  let prevLen = 0
  let p = 0
  while (p < limit) {
    const shared = varint(data, p, limit)
    if (shared < 0) return null
    const nonShared = varint(data, varEnd, limit)
    if (nonShared < 0) return null
    const valueLen = varint(data, varEnd, limit)
    if (valueLen < 0) return null
    const q = varEnd
    const keyLen = shared + nonShared
    if (shared > prevLen || keyLen < TRAILER_SIZE || q + nonShared + valueLen > limit) return null
    if (n === starts.length) {
      starts = grownInts(starts)
      lengths = grownInts(lengths)
      offsets = grownInts(offsets)
    }
    if (arenaLen + keyLen > arena.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(arenaLen + keyLen, 2 * arena.length))
      arena.copy(bigger, 0, 0, arenaLen)
      arena = bigger
    }
    copyBytes(arena, prevStart, arena, arenaLen, shared)
    copyBytes(data, q, arena, arenaLen + shared, nonShared)
    starts[n] = arenaLen
    lengths[n] = keyLen
    offsets[n] = p
    prevStart = arenaLen
    prevLen = keyLen
    arenaLen += keyLen
    n++
    p = q + nonShared + valueLen
  }
  if (n === 0 || n > 0xffff) return null
  // The common prefix of the first and the last user key is every user key's.
  const firstUser = lengths[0] - TRAILER_SIZE
  const lastUser = lengths[n - 1] - TRAILER_SIZE
  const lastStart = starts[n - 1]
  const most = Math.min(firstUser, lastUser, MAX_PREFIX)
  let prefix = 0
  while (prefix < most && arena[prefix] === arena[lastStart + prefix]) prefix++

  const out = Buffer.allocUnsafeSlow(size + 1 + prefix + 2 + 6 * n)
  data.copy(out, 0, 0, size)
  let a = size
  out[a++] = prefix
  arena.copy(out, a, 0, prefix)
  a += prefix
  out[a++] = n & 0xff
  out[a++] = n >>> 8
  for (let i = 0; i < n; i++) {
    const w = bigEndianWord(arena, starts[i] + prefix, starts[i] + lengths[i] - TRAILER_SIZE)
    out[a++] = w >>> 24
    out[a++] = (w >>> 16) & 0xff
    out[a++] = (w >>> 8) & 0xff
    out[a++] = w & 0xff
  }
  for (let i = 0; i < n; i++) {
    out[a++] = offsets[i] & 0xff
    out[a++] = offsets[i] >>> 8
  }
  return { data: out, at: size }
}

/** Where the last varint() ended. */
let varEnd = 0

/** The varint32 at b[p] (before limit), or -1 if it is truncated or too long. */
function varint (b: Buffer, p: number, limit: number): number {
  let result = 0
  for (let shift = 0; shift <= 28; shift += 7) {
    if (p >= limit) return -1
    const x = b[p++]
    if (x < 128) {
      varEnd = p
      return (result | (x << shift)) >>> 0
    }
    result |= (x & 127) << shift
  }
  return -1
}

function grownInts (a: Int32Array): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(2 * a.length)
  bigger.set(a)
  return bigger
}
