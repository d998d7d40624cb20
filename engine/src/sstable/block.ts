/**
 * Reads a block written by BlockBuilder (format in block-builder.ts) in place: nothing is decoded when a
 * block is read or cached, so a cached block costs exactly its bytes and a block-cache miss costs only the
 * read and the checksum. Point lookups (find) binary-search the restart points and then scan one restart
 * run; cursors walk forwards entry by entry and backwards by decoding one restart run at a time.
 */
import { copyBytes, encodeFixed32, readFixed32 } from '../coding.js'
import { corruption } from '../errors.js'
import { bigEndianWord, compareBytes, compareInternalKeySlices, TRAILER_SIZE } from '../keys.js'
import type { ByteSlice, InternalIterator, ValueSlice } from '../iterator/internal-iterator.js'
import type { FileBlocks } from './block-cache.js'
import type { ClockItem } from './clock-cache.js'
import { appendSearchIndex } from './block-search-index.js'

// What the search index decided (Block.#findIndexed); a value >= 0 is instead the restart run to scan.
const FOUND = -1
const ABSENT = -2
const UNDECIDED = -3

/**
 * Where a point lookup landed (Block.find): whether the entry's user key is the target's, its trailer, and
 * its value's place in the block. One instance is reused across lookups: no result objects.
 */
export class BlockEntry {
  /** True iff the entry's user key equals the target's. */
  matches = false
  /** The entry's trailer (seq * 256 + kind) as little-endian words; meaningful when matches. */
  trailerLow = 0
  trailerHigh = 0
  valueOffset = 0
  valueLength = 0

  /** The entry's internal key, given its user key (== the target's, so requires matches): a new buffer. */
  internalKey (userKey: Uint8Array): Buffer {
    const k = Buffer.allocUnsafe(userKey.length + TRAILER_SIZE)
    this.writeKey(userKey, k)
    return k
  }

  /** Writes the entry's internal key (userKey ++ trailer; requires matches) into out[0, userKey.length + 8). */
  writeKey (userKey: Uint8Array, out: Uint8Array): void {
    const n = userKey.length
    copyBytes(userKey, 0, out, 0, n)
    encodeFixed32(out, n, this.trailerLow)
    encodeFixed32(out, n + 4, this.trailerHigh)
  }
}

/** Where the lcp scan keeps the trailer of the previous entry when that entry's user key is the target's. */
const trailerScratch = Buffer.allocUnsafeSlow(TRAILER_SIZE)
/** Where the slow scan rebuilds keys. */
let findKey: Buffer = Buffer.allocUnsafeSlow(64)

/** A verified block, read in place. */
export class Block implements ClockItem {
  /** The block's bytes are data[0, size); anything after (a read's trailer) is ignored. */
  readonly data: Buffer
  /** Bytes of the block as stored (trailer excluded). */
  readonly size: number
  /** Offset in data of the restart array (= end of the entries). */
  readonly restartsOffset: number
  readonly numRestarts: number
  /** For errors: the file and the block's offset in it. */
  readonly fileName: string
  readonly fileOffset: number
  /**
   * True when data is a view into a read buffer that will be reused (a compaction's read-ahead): cursors
   * then hand out only keys they copied, never views into data that the next read overwrites.
   */
  transient = false
  // The BlockCache's bookkeeping while the block is cached (kept here, not in an entry object beside it, so a
  // cache hit touches one object less): the file's slots and the block's index there, and its ClockItem
  // fields (place on the cache's ring, bytes charged, whether it was hit since the hand last passed it).
  cacheOwner: FileBlocks | null = null
  cacheSlot = -1
  clockAt = -1
  clockCharge = 0
  clockHit = false
  /** Where the block's search index (block-search-index.ts) starts in data, or -1 when it has none. */
  readonly searchIndexAt: number
  /** Point lookups served while the block had no search index (Table.get gives a cached block one on its second). */
  pointReads = 0

  /**
   * The block data[0, size) (size defaults to all of data: a caller may pass a read with its trailer and
   * save making a view), with a search index at data[searchIndexAt] if not -1. Throws LEVEL_CORRUPTION if
   * the restart array does not fit.
   */
  constructor (data: Buffer, fileName: string, fileOffset: number, size: number = data.length, searchIndexAt: number = -1) {
    this.data = data
    this.size = size
    this.searchIndexAt = searchIndexAt
    this.fileName = fileName
    this.fileOffset = fileOffset
    if (size < 4) throw corruption(`block too short (${size} bytes)`, { file: fileName, offset: fileOffset })
    const n = readFixed32(data, size - 4)
    const max = (size - 4) / 4
    if (n === 0 || n > max) {
      throw corruption(`bad block: ${n} restart points in ${size} bytes`, { file: fileName, offset: fileOffset + size - 4 })
    }
    this.numRestarts = n
    this.restartsOffset = size - 4 - 4 * n
  }

  /** Bytes held in memory (what a cache charges for it): the buffer, nothing decoded beside it. */
  get memoryBytes (): number { return this.data.length }

  /** A new cursor over the block in internal-key order. */
  iterator (): BlockIterator {
    return new BlockIterator(this)
  }

  /**
   * The same block in new memory with a search index after its bytes, for point lookups to land on their
   * entry without the restart search and the scan; null if it cannot have one (see appendSearchIndex).
   */
  withSearchIndex (): Block | null {
    const indexed = appendSearchIndex(this.data, this.size, this.restartsOffset)
    return indexed === null ? null : new Block(indexed.data, this.fileName, this.fileOffset, this.size, indexed.at)
  }

  /**
   * Point lookup: finds the first entry whose internal key is >= target[0, targetLength) and describes it
   * in `out`; false (out unspecified) if every entry is smaller. Throws LEVEL_CORRUPTION on a malformed entry.
   *
   * The scan after the restart search rebuilds no keys. It tracks m, the length of the common prefix of the
   * previous entry's user key and the target's, knowing the previous key is smaller. An entry that shares
   * more than m bytes with the previous key has the same smaller byte at m, so it is smaller too without
   * looking at it; one that shares at most m bytes equals the target on those, and only its stored suffix
   * is compared. Shapes this reasoning does not cover (a user key that is a prefix of the target's and
   * shares trailer bytes onwards) fall back to a scan that rebuilds keys.
   */
  find (target: Buffer, targetLength: number, out: BlockEntry): boolean {
    if (this.searchIndexAt >= 0) {
      const r = this.#findIndexed(target, targetLength, out)
      if (r === FOUND) return true
      if (r === ABSENT) return false
      if (r >= 0) return this.#scan(r, target, targetLength, out)
    }
    return this.#scan(this.lastRestartBefore(target, targetLength), target, targetLength, out)
  }

  /**
   * find() through the search index: FOUND (out describes the entry) or ABSENT when the windows decide, else
   * the restart run to scan from (the entry's user key is the target's but its trailer or the rest of its key
   * is not in reach), or UNDECIDED (the target lacks the block's prefix: rare, the index seek chose this block).
   * Entries whose window is below the target's have smaller user keys, above it larger ones.
   */
  #findIndexed (target: Buffer, targetLength: number, out: BlockEntry): number {
    const d = this.data
    let a = this.searchIndexAt
    const prefix = d[a++]
    const tu = targetLength - TRAILER_SIZE
    for (let i = 0; i < prefix; i++) if (i >= tu || target[i] !== d[a + i]) return UNDECIDED
    a += prefix
    const count = d[a] | (d[a + 1] << 8)
    a += 2
    const t = bigEndianWord(target, prefix, tu)
    let lo = 0
    let hi = count
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const w = a + 4 * mid
      if ((((d[w] << 24) | (d[w + 1] << 16) | (d[w + 2] << 8) | d[w + 3]) >>> 0) < t) lo = mid + 1
      else hi = mid
    }
    if (lo === count) return ABSENT
    const w = a + 4 * lo
    const window = ((d[w] << 24) | (d[w + 1] << 16) | (d[w + 2] << 8) | d[w + 3]) >>> 0
    const o = a + 4 * count + 2 * lo
    const p = d[o] | (d[o + 1] << 8)
    // The entry parsed when the index was built: its lengths are known to be sound.
    let shared: number
    let nonShared: number
    let valueLen: number
    let q: number
    if ((d[p] | d[p + 1] | d[p + 2]) < 128) {
      shared = d[p]
      nonShared = d[p + 1]
      valueLen = d[p + 2]
      q = p + 3
    } else {
      shared = this.varint(p)
      nonShared = this.varint(this.varEnd)
      valueLen = this.varint(this.varEnd)
      q = this.varEnd
    }
    if (window > t) {
      out.matches = false
      out.valueOffset = q + nonShared
      out.valueLength = valueLen
      return FOUND
    }
    // Equal windows: the user keys are equal if the window reaches the end of both and they are as long;
    // then the newest version the target can see is this entry, if its trailer is not above the target's.
    if (shared + nonShared - TRAILER_SIZE === tu && prefix + 4 >= tu && shared <= tu) {
      const k = q + tu - shared
      const low = readFixed32(d, k)
      const high = readFixed32(d, k + 4)
      const tLow = readFixed32(target, tu)
      const tHigh = readFixed32(target, tu + 4)
      if (high < tHigh || (high === tHigh && low <= tLow)) {
        out.matches = true
        out.trailerLow = low
        out.trailerHigh = high
        out.valueOffset = q + nonShared
        out.valueLength = valueLen
        return FOUND
      }
    }
    // Every entry before this one is below the target: scan from the run that holds it.
    return this.#restartAtOrBefore(p)
  }

  /** The last restart point at or before offset p. */
  #restartAtOrBefore (p: number): number {
    let lo = 0
    let hi = this.numRestarts - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.restartPoint(mid) <= p) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** find() by scanning from restart point r (no entry before it may be >= the target). */
  #scan (r: number, target: Buffer, targetLength: number, out: BlockEntry): boolean {
    const data = this.data
    const limit = this.restartsOffset
    const tu = targetLength - TRAILER_SIZE
    const tLow = readFixed32(target, tu)
    const tHigh = readFixed32(target, tu + 4)
    let p = this.restartPoint(r)
    // The previous entry: its key length, its user key's common prefix with the target's (m), and whether its
    // user key equals the target's (then its trailer is in trailerScratch) or is smaller.
    let prevKeyLen = 0
    let m = 0
    let prevEqual = false
    let first = true
    while (p < limit) {
      let shared: number
      let nonShared: number
      let valueLen: number
      let q: number
      if (p + 3 <= limit && (data[p] | data[p + 1] | data[p + 2]) < 128) {
        shared = data[p]
        nonShared = data[p + 1]
        valueLen = data[p + 2]
        q = p + 3
      } else {
        shared = this.varint(p)
        nonShared = this.varint(this.varEnd)
        valueLen = this.varint(this.varEnd)
        q = this.varEnd
      }
      if (shared > prevKeyLen) throw this.fail(`shares ${shared} bytes with a ${prevKeyLen}-byte previous key`, p)
      const valueOffset = q + nonShared
      if (valueOffset + valueLen > limit) throw this.fail(`key/value (${nonShared}+${valueLen} bytes) run past the entries`, p)
      const keyLen = shared + nonShared
      if (keyLen < TRAILER_SIZE) throw this.fail(`a ${keyLen}-byte key is not an internal key`, p)
      const uk = keyLen - TRAILER_SIZE
      // cmp: this entry's user key against the target's; the user key is the previous one's first `shared`
      // bytes (known to equal the target's up to the smaller of shared and m) then the stored suffix.
      let cmp: number
      if (first || (!prevEqual && shared <= m) || (prevEqual && shared < tu)) {
        if (shared > uk) return this.#findSlow(r, target, targetLength, out)
        // The first `shared` bytes equal the target's: compare the suffix's user-key part with the rest.
        const n = Math.min(uk - shared, tu - shared)
        let i = 0
        while (i < n && data[q + i] === target[shared + i]) i++
        m = shared + i
        cmp = i < n ? data[q + i] - target[shared + i] : uk - tu
      } else if (!prevEqual) {
        // shared > m: the byte at m, where the previous user key is below the target's, is shared.
        if (m >= uk || m >= prevKeyLen - TRAILER_SIZE) return this.#findSlow(r, target, targetLength, out)
        cmp = -1
      } else {
        // The previous user key is the target's and shared >= its length: equal iff as long.
        m = uk < tu ? uk : tu
        cmp = uk - tu
      }
      first = false
      if (cmp > 0) {
        out.matches = false
        out.valueOffset = valueOffset
        out.valueLength = valueLen
        return true
      }
      if (cmp === 0) {
        // Same user key: the trailer decides. Bytes of it below `shared` are the previous entry's.
        const t = trailerScratch
        for (let j = shared > tu ? shared - tu : 0; j < TRAILER_SIZE; j++) t[j] = data[q + tu + j - shared]
        const low = readFixed32(t, 0)
        const high = readFixed32(t, 4)
        // Trailers sort descending: the entry is >= target iff its trailer is <= the target's.
        if (high < tHigh || (high === tHigh && low <= tLow)) {
          out.matches = true
          out.trailerLow = low
          out.trailerHigh = high
          out.valueOffset = valueOffset
          out.valueLength = valueLen
          return true
        }
        prevEqual = true
      } else {
        prevEqual = false
      }
      prevKeyLen = keyLen
      p = valueOffset + valueLen
    }
    return false
  }

  /** find() by rebuilding every key of the scan (for the shapes the lcp scan does not cover). */
  #findSlow (r: number, target: Buffer, targetLength: number, out: BlockEntry): boolean {
    const data = this.data
    const limit = this.restartsOffset
    let p = this.restartPoint(r)
    let key = findKey
    let keyLen = 0
    while (p < limit) {
      const shared = this.varint(p)
      const nonShared = this.varint(this.varEnd)
      const valueLen = this.varint(this.varEnd)
      const q = this.varEnd
      if (shared > keyLen) throw this.fail(`shares ${shared} bytes with a ${keyLen}-byte previous key`, p)
      const valueOffset = q + nonShared
      if (valueOffset + valueLen > limit) throw this.fail(`key/value (${nonShared}+${valueLen} bytes) run past the entries`, p)
      keyLen = shared + nonShared
      if (keyLen < TRAILER_SIZE) throw this.fail(`a ${keyLen}-byte key is not an internal key`, p)
      if (keyLen > key.length) key = findKey = grow(key, keyLen, shared)
      copyBytes(data, q, key, shared, nonShared)
      if (compareInternalKeySlices(key, 0, keyLen, target, 0, targetLength) >= 0) {
        const uk = keyLen - TRAILER_SIZE
        out.matches = uk === targetLength - TRAILER_SIZE && compareBytes(key, 0, uk, target, 0, uk) === 0
        out.trailerLow = readFixed32(key, uk)
        out.trailerHigh = readFixed32(key, uk + 4)
        out.valueOffset = valueOffset
        out.valueLength = valueLen
        return true
      }
      p = valueOffset + valueLen
    }
    return false
  }

  /** The last restart point whose key is < target (0 if none is): where a scan for target starts. */
  lastRestartBefore (target: Buffer, targetLength: number): number {
    let lo = 0
    let hi = this.numRestarts - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.compareRestartKey(mid, target, targetLength) < 0) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** @internal offset of restart point i, checked to lie inside the entries. */
  restartPoint (i: number): number {
    const limit = this.restartsOffset
    const off = readFixed32(this.data, limit + 4 * i)
    if (off >= limit && !(off === 0 && limit === 0)) throw this.fail(`restart point ${i} at ${off} is outside the entries`, limit + 4 * i)
    return off
  }

  /** @internal internal-key order of restart entry i's key (stored whole) against target. */
  compareRestartKey (i: number, target: Buffer, targetLength: number): number {
    const p = this.restartPoint(i)
    const data = this.data
    let q: number
    let shared: number
    let nonShared: number
    if (p + 3 <= this.restartsOffset && (data[p] | data[p + 1] | data[p + 2]) < 128) {
      shared = data[p]
      nonShared = data[p + 1]
      q = p + 3
    } else {
      shared = this.varint(p)
      nonShared = this.varint(this.varEnd)
      this.varint(this.varEnd)
      q = this.varEnd
    }
    if (shared !== 0 || q + nonShared > this.restartsOffset || nonShared < TRAILER_SIZE) throw this.fail(`restart entry ${i} is not a whole internal key`, p)
    return compareInternalKeySlices(data, q, q + nonShared, target, 0, targetLength)
  }

  /** @internal where the last varint() call ended (no result object). */
  varEnd = 0

  /** @internal a varint32 of the entries region at p. */
  varint (p: number): number {
    const data = this.data
    const limit = this.restartsOffset
    let result = 0
    for (let shift = 0; shift <= 28; shift += 7) {
      if (p >= limit) throw this.fail('truncated varint', p)
      const b = data[p++]
      if (b < 128) {
        this.varEnd = p
        return (result | (b << shift)) >>> 0
      }
      result |= (b & 127) << shift
    }
    throw this.fail('varint longer than 5 bytes', p)
  }

  /** @internal a LEVEL_CORRUPTION error at offset `at` of the block. */
  fail (what: string, at: number): Error {
    return corruption(`bad block entry: ${what}`, { file: this.fileName, offset: this.fileOffset + at })
  }
}

/** A buffer of at least n bytes holding buf's first `keep` bytes. */
function grow (buf: Buffer, n: number, keep: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(n, buf.length * 2))
  copyBytes(buf, 0, bigger, 0, keep)
  return bigger
}

/** Slots per entry in a decoded restart run: entry offset, key start in the run's arena, value offset, value length. */
const RUN_SLOTS = 4
const NO_RUN = new Int32Array(0)
const NO_RUN_KEYS = Buffer.alloc(0)

/**
 * Cursor over one block. Forwards, the current key is rebuilt in a scratch buffer reused across positions.
 * Backwards, the restart run before the current entry is decoded once (entry offsets and whole keys) and
 * stepped through from its end, so prev() costs about what next() does instead of rescanning the run for
 * every step. key() hands out one copy per position (a view when the key is stored whole), value() a view.
 */
export class BlockIterator implements InternalIterator {
  #block: Block
  #data: Buffer
  #limit: number
  /** Offset of the current entry; == #limit when not valid. */
  #current: number
  /** Offset just past the current entry. */
  #next = 0
  /** The current key is #kBuf[#kOff, #kOff + #keyLen): the scratch key going forwards, the run arena going back. */
  #kBuf: Buffer
  #kOff = 0
  #keyLen = 0
  /** Scratch for the key rebuilt going forwards. */
  #key: Buffer = Buffer.allocUnsafe(64)
  /** Where the whole key sits in the block when it was stored with shared = 0, else -1. */
  #keyInPlace = -1
  #valOff = 0
  #valLen = 0
  #keyOut: Buffer | undefined
  #valOut: Buffer | undefined
  // The decoded restart run (backwards); #runLen = 0 when none is loaded.
  // Allocated on the first step backwards: most cursors (seeks, forward scans) never take one, and a
  // cursor is made for every table a level iterator enters.
  #run: Int32Array = NO_RUN
  #runKeys: Buffer = NO_RUN_KEYS
  #runLen = 0
  #runPos = 0
  /** End of the last key in the run arena. */
  #runArenaEnd = 0

  constructor (block: Block) {
    this.#block = block
    this.#data = block.data
    this.#limit = block.restartsOffset
    this.#current = this.#limit
    this.#kBuf = this.#key
  }

  /** Rebinds this cursor to another block (reuse instead of allocating one per block); not valid after. */
  reset (block: Block): void {
    this.#block = block
    this.#data = block.data
    this.#limit = block.restartsOffset
    this.#invalidate()
  }

  /** The block this cursor reads. */
  get block (): Block { return this.#block }

  valid (): boolean { return this.#current < this.#limit }

  key (): Buffer {
    if (this.#keyOut === undefined) {
      const n = this.#keyLen
      if (this.#keyInPlace >= 0) {
        this.#keyOut = this.#data.subarray(this.#keyInPlace, this.#keyInPlace + n)
      } else {
        const k = Buffer.allocUnsafe(n)
        copyBytes(this.#kBuf, this.#kOff, k, 0, n)
        this.#keyOut = k
      }
    }
    return this.#keyOut
  }

  keySlice (): ByteSlice {
    const s = this.#keySlice
    s.data = this.#kBuf
    s.start = this.#kOff
    s.end = this.#kOff + this.#keyLen
    return s
  }

  readonly #keySlice: ByteSlice = { data: NO_RUN_KEYS, start: 0, end: 0 }

  valueSlice (): ValueSlice {
    const s = this.#slice
    s.data = this.#data
    s.start = this.#valOff
    s.end = this.#valOff + this.#valLen
    return s
  }

  readonly #slice: ValueSlice = { data: Buffer.alloc(0), start: 0, end: 0 }

  value (): Buffer {
    return (this.#valOut ??= this.#data.subarray(this.#valOff, this.#valOff + this.#valLen))
  }

  /** For table readers decoding the value in place: its offset in blockData. */
  get valueOffset (): number { return this.#valOff }
  /** For table readers: the value's length. */
  get valueLength (): number { return this.#valLen }
  /** The block's bytes (for in-place decoding of values). */
  get blockData (): Buffer { return this.#data }

  /** True iff the current key's user key (all but its trailer) is userKey. */
  userKeyEquals (userKey: Buffer): boolean {
    const n = this.#keyLen - TRAILER_SIZE
    return n === userKey.length && compareBytes(this.#kBuf, this.#kOff, this.#kOff + n, userKey, 0, n) === 0
  }

  next (): void {
    this.#leaveRun()
    this.#parseNext()
  }

  prev (): void {
    if (this.#runLen > 0 && this.#runPos > 0) {
      this.#loadRunEntry(this.#runPos - 1)
      return
    }
    const original = this.#current
    if (original === 0 || original >= this.#limit) {
      this.#invalidate()
      return
    }
    // Decode the restart run holding the entry just before the current one, up to that entry.
    this.#decodeRun(this.#lastRestartBelow(original), original)
  }

  seekToFirst (): void {
    this.#startAt(this.#block.restartPoint(0))
    this.#parseNext()
  }

  seekToLast (): void {
    this.#decodeRun(this.#block.numRestarts - 1, this.#limit)
  }

  seek (target: Buffer): void {
    const block = this.#block
    this.#startAt(block.restartPoint(block.lastRestartBefore(target, target.length)))
    while (this.#parseNext()) {
      if (compareInternalKeySlices(this.#key, 0, this.#keyLen, target, 0, target.length) >= 0) return
    }
  }

  close (): void {}

  /** The last restart run starting before offset `before` (> 0). */
  #lastRestartBelow (before: number): number {
    const block = this.#block
    let lo = 0
    let hi = block.numRestarts - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (block.restartPoint(mid) < before) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /**
   * Decodes the entries of restart run r that start before offset `end` and positions at the last of them;
   * invalid if there is none.
   */
  #decodeRun (r: number, end: number): void {
    this.#startAt(this.#block.restartPoint(r))
    let n = 0
    let arenaLen = 0
    while (this.#next < end && this.#parseNext()) {
      if (RUN_SLOTS * (n + 1) > this.#run.length) {
        const bigger = new Int32Array(Math.max(RUN_SLOTS * 16, this.#run.length * 2))
        bigger.set(this.#run)
        this.#run = bigger
      }
      const k = this.#keyLen
      if (arenaLen + k > this.#runKeys.length) this.#runKeys = grow(this.#runKeys, Math.max(arenaLen + k, 512), arenaLen)
      copyBytes(this.#key, 0, this.#runKeys, arenaLen, k)
      const s = RUN_SLOTS * n
      this.#run[s] = this.#current
      this.#run[s + 1] = arenaLen
      this.#run[s + 2] = this.#valOff
      this.#run[s + 3] = this.#valLen
      arenaLen += k
      n++
    }
    if (n === 0) {
      this.#invalidate()
      return
    }
    this.#runLen = n
    this.#runArenaEnd = arenaLen
    this.#loadRunEntry(n - 1)
  }

  /** Positions at entry i of the decoded run. */
  #loadRunEntry (i: number): void {
    const s = RUN_SLOTS * i
    const run = this.#run
    this.#runPos = i
    this.#current = run[s]
    this.#kBuf = this.#runKeys
    this.#kOff = run[s + 1]
    this.#keyLen = (i + 1 < this.#runLen ? run[s + RUN_SLOTS + 1] : this.#runArenaEnd) - run[s + 1]
    this.#keyInPlace = -1
    this.#valOff = run[s + 2]
    this.#valLen = run[s + 3]
    this.#next = this.#valOff + this.#valLen
    this.#keyOut = undefined
    this.#valOut = undefined
  }

  /** Going forwards from a run position: the scratch key must hold the current key (later keys share its prefix). */
  #leaveRun (): void {
    if (this.#runLen === 0) return
    if (this.#kBuf !== this.#key) {
      const n = this.#keyLen
      if (n > this.#key.length) this.#key = grow(this.#key, n, 0)
      copyBytes(this.#kBuf, this.#kOff, this.#key, 0, n)
      this.#kBuf = this.#key
      this.#kOff = 0
    }
    this.#runLen = 0
  }

  #startAt (offset: number): void {
    this.#runLen = 0
    this.#kBuf = this.#key
    this.#kOff = 0
    this.#keyLen = 0
    this.#next = offset
    this.#current = offset
  }

  #invalidate (): void {
    this.#current = this.#limit
    this.#runLen = 0
    this.#kBuf = this.#key
    this.#kOff = 0
    this.#keyLen = 0
    this.#keyOut = undefined
    this.#valOut = undefined
  }

  /** Decodes the entry at #next into the current position (scratch key); false (and invalid) at the end. */
  #parseNext (): boolean {
    this.#keyOut = undefined
    this.#valOut = undefined
    const p = this.#current = this.#next
    const limit = this.#limit
    if (p >= limit) {
      this.#invalidate()
      return false
    }
    const data = this.#data
    let shared: number
    let nonShared: number
    let valueLen: number
    let q: number
    if (p + 3 <= limit && (data[p] | data[p + 1] | data[p + 2]) < 128) {
      // Fast path: all three lengths fit in one byte each.
      shared = data[p]
      nonShared = data[p + 1]
      valueLen = data[p + 2]
      q = p + 3
    } else {
      const block = this.#block
      shared = block.varint(p)
      nonShared = block.varint(block.varEnd)
      valueLen = block.varint(block.varEnd)
      q = block.varEnd
    }
    if (shared > this.#keyLen) throw this.#block.fail(`shares ${shared} bytes with a ${this.#keyLen}-byte previous key`, p)
    if (q + nonShared + valueLen > limit) throw this.#block.fail(`key/value (${nonShared}+${valueLen} bytes) run past the entries`, p)
    const keyLen = shared + nonShared
    if (keyLen > this.#key.length) this.#kBuf = this.#key = grow(this.#key, keyLen, shared)
    copyBytes(data, q, this.#key, shared, nonShared)
    this.#keyLen = keyLen
    this.#keyInPlace = shared === 0 && !this.#block.transient ? q : -1
    this.#valOff = q + nonShared
    this.#valLen = valueLen
    this.#next = this.#valOff + valueLen
    return true
  }
}
