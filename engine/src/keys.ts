/**
 * Internal keys (LevelDB's layout): userKey ++ trailer, where the 8-byte trailer is the little-endian
 * uint64 (seq * 256 + kind). Order: user key ascending (bytewise), then seq descending, then kind
 * descending, so the newest version of a user key comes first and a lookup key (KIND_SEEK) lands on the
 * newest entry at or below its sequence.
 */
import { readFixed32, encodeFixed32 } from './coding.js'

/** A deletion tombstone. */
export const KIND_DELETE = 0
/** A put; the entry's value is the user's value. */
export const KIND_VALUE = 1
/** A range deletion; key = start bound, value = end bound (encoded by the db layer). */
export const KIND_RANGE_DELETE = 2
/** Only in lookup keys: the highest kind, so it sorts before every real entry with the same user key and seq. */
export const KIND_SEEK = 0xff

export type Kind = typeof KIND_DELETE | typeof KIND_VALUE | typeof KIND_RANGE_DELETE

/** Bytes after the user key: seq (56 bits) and kind (8 bits) packed into one little-endian uint64. */
export const TRAILER_SIZE = 8
/** Largest sequence number: the largest integer a JS number holds exactly (2^53 - 1 < 2^56, so it fits the trailer). */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER

const TWO_24 = 2 ** 24

/** Writes the trailer (seq, kind) at buf[offset..offset+8). */
export function encodeTrailer (buf: Uint8Array, offset: number, seq: number, kind: number): void {
  encodeFixed32(buf, offset, (((seq % TWO_24) * 256) + kind) >>> 0)
  encodeFixed32(buf, offset + 4, Math.floor(seq / TWO_24))
}

/** A new buffer holding userKey ++ trailer(seq, kind). */
export function makeInternalKey (userKey: Uint8Array, seq: number, kind: number): Buffer {
  const ik = Buffer.allocUnsafe(userKey.length + TRAILER_SIZE)
  ik.set(userKey, 0)
  encodeTrailer(ik, userKey.length, seq, kind)
  return ik
}

/** The user-key part of an internal key, as a view (no copy). */
export function userKeyOf (ik: Buffer): Buffer {
  return ik.subarray(0, ik.length - TRAILER_SIZE)
}

/** The sequence number of an internal key. */
export function seqOf (ik: Uint8Array): number {
  return seqAt(ik, ik.length - TRAILER_SIZE)
}

/** The sequence number in the trailer at b[t, t + 8) (an internal key held in a larger buffer). */
export function seqAt (b: Uint8Array, t: number): number {
  return (readFixed32(b, t) >>> 8) + readFixed32(b, t + 4) * TWO_24
}

/** The kind (KIND_*) of an internal key. */
export function kindOf (ik: Uint8Array): number {
  return ik[ik.length - TRAILER_SIZE]
}

/**
 * Below this many bytes a plain loop beats Buffer#compare, whose argument checks and native call have a
 * fixed cost; above it the native memcmp wins.
 */
const NATIVE_COMPARE_MIN = 48

/** Bytewise order of a[aStart, aEnd) and b[bStart, bEnd); negative, zero or positive. */
export function compareBytes (a: Uint8Array, aStart: number, aEnd: number, b: Uint8Array, bStart: number, bEnd: number): number {
  const al = aEnd - aStart
  const bl = bEnd - bStart
  const n = al < bl ? al : bl
  if (n >= NATIVE_COMPARE_MIN) {
    const r = Buffer.prototype.compare.call(a, b, bStart, bEnd, aStart, aEnd) as number
    return r
  }
  for (let i = 0; i < n; i++) {
    const x = a[aStart + i]
    const y = b[bStart + i]
    if (x !== y) return x - y
  }
  return al - bl
}

/** Bytewise order of user keys; negative, zero or positive. */
export function compareUserKeys (a: Buffer, b: Buffer): number {
  return compareBytes(a, 0, a.length, b, 0, b.length)
}

/**
 * Internal-key order of a[aStart, aEnd) and b[bStart, bEnd) (both whole internal keys) without making views:
 * user key ascending, then seq descending, then kind descending.
 */
export function compareInternalKeySlices (a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number): number {
  const aUser = aEnd - TRAILER_SIZE
  const bUser = bEnd - TRAILER_SIZE
  const r = compareBytes(a, aStart, aUser, b, bStart, bUser)
  if (r !== 0) return r
  return compareTrailers(a, aUser, b, bUser)
}

/** Order of the 8-byte trailers at a[at] and b[bt]: they compare as uint64, descending (high word first). */
function compareTrailers (a: Buffer, at: number, b: Buffer, bt: number): number {
  const ah = readFixed32(a, at + 4)
  const bh = readFixed32(b, bt + 4)
  if (ah !== bh) return ah > bh ? -1 : 1
  const al = readFixed32(a, at)
  const bl = readFixed32(b, bt)
  return al > bl ? -1 : al < bl ? 1 : 0
}

/** The length of the common prefix of a[ao, ao + n) and b[bo, bo + n). */
export function sharedPrefixLength (a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): number {
  let i = 0
  while (i < n && a[ao + i] === b[bo + i]) i++
  return i
}

/**
 * The bytes b[start, start + 4) as a big-endian unsigned number, reading zeros at and after end: keys in
 * byte order that share their bytes before start have these words in (non-strict) numeric order, so sorted
 * searches can compare 4 key bytes as one number.
 */
export function bigEndianWord (b: Uint8Array, start: number, end: number): number {
  if (start + 4 <= end) return ((b[start] << 24) | (b[start + 1] << 16) | (b[start + 2] << 8) | b[start + 3]) >>> 0
  let w = 0
  for (let i = 0; i < 4; i++) w = (w << 8) | (start + i < end ? b[start + i] : 0)
  return w >>> 0
}

/** Like bigEndianWord, for the 6 bytes b[start, start + 6): a number below 2^48, exact in a double. */
export function bigEndianWord48 (b: Uint8Array, start: number, end: number): number {
  const low = start + 6 <= end
    ? (b[start + 4] << 8) | b[start + 5]
    : ((start + 4 < end ? b[start + 4] : 0) << 8) | (start + 5 < end ? b[start + 5] : 0)
  return bigEndianWord(b, start, end) * 65536 + low
}

/**
 * Byte order of a[ao, ao + al) and b[bo, bo + bl), for keys known to share their first `from` bytes, and a
 * length of prefix they share, in one number (see prefixOfOrder): negative when a sorts first, positive when
 * after, 0 when equal; when not 0, its magnitude is 1 + a common prefix length (at least `from`).
 *
 * A search over sorted keys (a skip list's descent, a binary search) passes the shorter of the common
 * prefixes its key has with the keys bounding what is left of the range (every key between them shares it),
 * so keys with long common prefixes (zero-padded numbers, a table name before each key) are not compared
 * from their first byte at every step. Long remainders go to the native compare, and the prefix reported is
 * then just `from`: still a common prefix, which is all a search needs.
 */
export function compareBytesFrom (a: Uint8Array, ao: number, al: number, b: Uint8Array, bo: number, bl: number, from: number): number {
  const n = al < bl ? al : bl
  if (n - from >= NATIVE_COMPARE_MIN) {
    const c = Buffer.prototype.compare.call(a, b, bo + from, bo + bl, ao + from, ao + al) as number
    return c < 0 ? -1 - from : c > 0 ? 1 + from : 0
  }
  for (let i = from; i < n; i++) {
    const d = a[ao + i] - b[bo + i]
    if (d !== 0) return d < 0 ? -1 - i : 1 + i
  }
  return al < bl ? -1 - n : al > bl ? 1 + n : 0
}

/** The common prefix length carried by a non-zero result of compareBytesFrom or compareInternalKeysFrom. */
export function prefixOfOrder (order: number): number {
  return order < 0 ? -1 - order : order - 1
}

/** compareInternalKeySlices for keys whose user keys share their first `from` bytes (see compareBytesFrom). */
export function compareInternalKeysFrom (a: Buffer, aStart: number, aEnd: number, b: Buffer, bStart: number, bEnd: number, from: number): number {
  const aUser = aEnd - TRAILER_SIZE
  const bUser = bEnd - TRAILER_SIZE
  const r = compareBytesFrom(a, aStart, aUser - aStart, b, bStart, bUser - bStart, from)
  if (r !== 0) return r
  // Equal user keys: they share all of them.
  const t = compareTrailers(a, aUser, b, bUser)
  return t < 0 ? -1 - (aUser - aStart) : t > 0 ? 1 + (aUser - aStart) : 0
}

/** Internal-key order: user key ascending, then seq descending, then kind descending. */
export function compareInternalKeys (a: Buffer, b: Buffer): number {
  return compareInternalKeySlices(a, 0, a.length, b, 0, b.length)
}

/** The key to seek to for the newest entry of userKey with seq <= snapshotSeq. */
export function lookupKey (userKey: Uint8Array, snapshotSeq: number): Buffer {
  return makeInternalKey(userKey, snapshotSeq, KIND_SEEK)
}

/**
 * A short internal key k with start <= k < limit (LevelDB's FindShortestSeparator), used as an index-block
 * key so the index stays small. Returns start itself when no shorter key fits.
 */
export function shortestSeparator (start: Buffer, limit: Buffer): Buffer {
  const su = start.length - TRAILER_SIZE
  const lu = limit.length - TRAILER_SIZE
  const n = Math.min(su, lu)
  let i = 0
  while (i < n && start[i] === limit[i]) i++
  if (i >= n) return start // one user key is a prefix of the other: no shorter separator
  const b = start[i]
  if (b === 0xff || b + 1 >= limit[i]) return start
  // start's user key up to i, with byte i bumped: > start's user key, < limit's user key.
  const sep = Buffer.allocUnsafe(i + 1 + TRAILER_SIZE)
  start.copy(sep, 0, 0, i)
  sep[i] = b + 1
  // The highest trailer sorts first among entries of the new user key, keeping sep < limit.
  encodeTrailer(sep, i + 1, MAX_SEQUENCE, KIND_SEEK)
  return sep
}

/** A short internal key k >= key (LevelDB's FindShortSuccessor), used as the last index-block key. */
export function shortSuccessor (key: Buffer): Buffer {
  const u = key.length - TRAILER_SIZE
  for (let i = 0; i < u; i++) {
    if (key[i] !== 0xff) {
      const succ = Buffer.allocUnsafe(i + 1 + TRAILER_SIZE)
      key.copy(succ, 0, 0, i)
      succ[i] = key[i] + 1
      encodeTrailer(succ, i + 1, MAX_SEQUENCE, KIND_SEEK)
      return succ
    }
  }
  return key // all 0xff: nothing shorter is larger
}
