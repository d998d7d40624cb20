/**
 * Whole-table bloom filters over user keys, two kinds told apart by the last byte:
 *
 * - Cache-local (written since format 2 of the filter, the default): the bits are 512-bit lines (64 bytes,
 *   one CPU cache line); a key picks one line by its hash and sets k bits inside it, so a lookup touches one
 *   line of memory where the classic kind touches k lines. It costs a little more false positives at the
 *   same size (RocksDB's "FastLocalBloom" is the same idea). Its hash is murmur3's (localHash), whose
 *   every output bit depends on every input bit: LevelDB's hash, which the classic kind keeps, gives keys
 *   that differ only in their last bytes (counters in decimal, say) equal hashes far more often than 2^-32.
 *
 *     filter := lines[L * 64 bytes, L >= 1] | k uint8 | 0xff
 *
 * - Classic (LevelDB's bloom policy, one change), still read: one 32-bit hash h per key, k probes by
 *   double hashing (h, h + delta, h + 2 delta, ... mod 2^32, each taken mod the bit count) with
 *   delta = probeDelta(h).
 *
 *     filter := bits[ceil(n * bitsPerKey / 8) bytes, at least 8] | k uint8
 *
 * A last byte of 1..30 is the classic kind's k, 0xff the cache-local kind; a reader treats any other last
 * byte as "a filter kind I do not know" and answers "may contain", as readers of the classic kind alone do
 * for 0xff.
 */

/** 10 bits per key gives about 1% false positives: a missing key costs a block read once in 100 tables. */
export const DEFAULT_BITS_PER_KEY = 10
/** Probes beyond 30 add cost without a useful gain; larger stored values are reserved for other filter kinds. */
export const MAX_PROBES = 30
/** The last byte of a cache-local filter. */
export const CACHE_LOCAL_KIND = 0xff
/** Bytes per line of a cache-local filter: one cache line. */
export const LINE_BYTES = 64
/** Multiplier deriving each next probe inside a line (the golden ratio in 32 bits). */
const PROBE_MUL = 0x9e3779b9
/** A tiny filter would be all ones after a few keys: at least 64 bits. */
const MIN_BITS = 64
/** The hash seed (LevelDB's): any fixed odd-looking constant works; this one keeps filters comparable with LevelDB's. */
const HASH_SEED = 0xbc9f1d34
const HASH_MUL = 0xc6a4a793

/**
 * The step between probes: h through murmur3's 32-bit finalizer. LevelDB derives it by rotating h right
 * 17 bits, which leaves the probes correlated and the false-positive rate well above the theoretical one
 * (0.82% at 10 bits/key); this mixing reaches it for the cost of five integer operations.
 */
export function probeDelta (h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The number of probes for bitsPerKey: round(bitsPerKey * ln 2), clamped to 1..30 (minimizes false positives). */
export function probesFor (bitsPerKey: number): number {
  return Math.min(MAX_PROBES, Math.max(1, Math.round(bitsPerKey * 0.69)))
}

/** A fast 32-bit hash of key[start, end) (LevelDB's Hash, murmur-like), written by hand: no allocation. */
export function bloomHash (key: Uint8Array, start = 0, end = key.length): number {
  const n = end - start
  let h = (HASH_SEED ^ Math.imul(n, HASH_MUL)) >>> 0
  let i = start
  const limit = start + (n & ~3)
  for (; i < limit; i += 4) {
    const w = (key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24)) >>> 0
    h = Math.imul((h + w) >>> 0, HASH_MUL) >>> 0
    h = (h ^ (h >>> 16)) >>> 0
  }
  const rem = end - i
  if (rem > 0) {
    if (rem === 3) h = (h + (key[i + 2] << 16)) >>> 0
    if (rem >= 2) h = (h + (key[i + 1] << 8)) >>> 0
    h = (h + key[i]) >>> 0
    h = Math.imul(h, HASH_MUL) >>> 0
    h = (h ^ (h >>> 24)) >>> 0
  }
  return h
}

/**
 * The cache-local kind's hash of key[start, end): murmur3's 32-bit hash (x86 variant) with seed HASH_SEED,
 * written out here to hash a range of a buffer without copying it.
 */
export function localHash (key: Uint8Array, start = 0, end = key.length, seed = HASH_SEED): number {
  const n = end - start
  let h = seed | 0
  let i = start
  const limit = start + (n & ~3)
  for (; i < limit; i += 4) {
    let k = key[i] | (key[i + 1] << 8) | (key[i + 2] << 16) | (key[i + 3] << 24)
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  const rem = end - i
  if (rem > 0) {
    let k = key[i]
    if (rem >= 2) k |= key[i + 1] << 8
    if (rem === 3) k |= key[i + 2] << 16
    k = Math.imul(k, 0xcc9e2d51)
    k = (k << 15) | (k >>> 17)
    h ^= Math.imul(k, 0x1b873593)
  }
  // murmur3's finalizer (probeDelta is exactly it).
  return probeDelta((h ^ n) >>> 0)
}

/**
 * Hash arrays of finished builders, for the next ones (per thread). A table's array grows by doubling to about
 * 128 KiB: dropped, that is a quarter MiB of garbage per table, which V8 lets pile up outside its heap (tens of
 * MiB of peak RSS on the worker that builds tables back to back). Two: a flush and a compaction may interleave.
 */
const spareHashes: Uint32Array[] = []
const MAX_SPARE_HASHES = 2
/** Larger arrays (huge tables) are not kept. */
const MAX_KEPT_HASHES = 1 << 20

/** Collects key hashes while a table is built, then lays out the filter. */
export class BloomFilterBuilder {
  readonly bitsPerKey: number
  #hashes: Uint32Array | null = spareHashes.pop() ?? new Uint32Array(1024)
  #n = 0

  /** The kind of filter finish() lays out. */
  readonly kind: 'cache-local' | 'classic'

  constructor (bitsPerKey: number = DEFAULT_BITS_PER_KEY, kind: 'cache-local' | 'classic' = 'cache-local') {
    if (!(bitsPerKey > 0)) throw new RangeError(`bitsPerKey must be > 0, got ${bitsPerKey}`)
    this.bitsPerKey = bitsPerKey
    this.kind = kind
  }

  get keyCount (): number { return this.#n }

  /** The hash of key[start, end) this builder's kind uses (for addHash). */
  hash (key: Uint8Array, start = 0, end = key.length): number {
    return this.kind === 'classic' ? bloomHash(key, start, end) : localHash(key, start, end)
  }

  /** Adds a key (its hash; the key itself is not kept). */
  addKey (key: Uint8Array, start = 0, end = key.length): void {
    this.addHash(this.hash(key, start, end))
  }

  /** Adds a precomputed hash() of a key. */
  addHash (h: number): void {
    let hashes = this.#hashes
    if (hashes === null) throw new Error('BloomFilterBuilder.addHash() after finish()')
    if (this.#n === hashes.length) {
      const bigger = new Uint32Array(hashes.length * 2)
      bigger.set(hashes)
      hashes = this.#hashes = bigger
    }
    hashes[this.#n++] = h
  }

  /** The filter bytes for all keys added; the builder is done after it (its hash array goes to the next one). */
  finish (): Buffer {
    const hashes = this.#hashes
    if (hashes === null) throw new Error('BloomFilterBuilder.finish() called twice')
    const filter = this.kind === 'classic' ? this.#finishClassic(hashes) : this.#finishCacheLocal(hashes)
    this.#hashes = null
    if (spareHashes.length < MAX_SPARE_HASHES && hashes.length <= MAX_KEPT_HASHES) spareHashes.push(hashes)
    return filter
  }

  #finishCacheLocal (hashes: Uint32Array): Buffer {
    const k = probesFor(this.bitsPerKey)
    const lines = Math.max(1, Math.ceil(this.#n * this.bitsPerKey / (LINE_BYTES * 8)))
    const filter = Buffer.alloc(lines * LINE_BYTES + 2)
    for (let i = 0; i < this.#n; i++) {
      const h = hashes[i]
      const base = lineOf(h, lines) * LINE_BYTES
      let g = probeDelta(h)
      for (let j = 0; j < k; j++) {
        const bit = g >>> 23
        filter[base + (bit >>> 3)] |= 1 << (bit & 7)
        g = Math.imul(g, PROBE_MUL) >>> 0
      }
    }
    filter[lines * LINE_BYTES] = k
    filter[lines * LINE_BYTES + 1] = CACHE_LOCAL_KIND
    return filter
  }

  #finishClassic (hashes: Uint32Array): Buffer {
    const k = probesFor(this.bitsPerKey)
    const bytes = Math.ceil(Math.max(MIN_BITS, Math.ceil(this.#n * this.bitsPerKey)) / 8)
    const bits = bytes * 8
    const filter = Buffer.alloc(bytes + 1)
    for (let i = 0; i < this.#n; i++) {
      let h = hashes[i]
      const delta = probeDelta(h)
      for (let j = 0; j < k; j++) {
        const pos = h % bits
        filter[pos >>> 3] |= 1 << (pos & 7)
        h = (h + delta) >>> 0
      }
    }
    filter[bytes] = k
    return filter
  }
}

/** The line of a cache-local filter of `lines` lines that hash h falls in: floor(h * lines / 2^32). */
function lineOf (h: number, lines: number): number {
  return Math.floor(h * lines / 4294967296)
}

/** A filter's kind and probe count, from its last bytes (for tools): 'unknown' for kinds this version does not read. */
export function describeFilter (filter: Uint8Array): { kind: 'cache-local' | 'classic' | 'unknown', probes: number } {
  const len = filter.length
  const last = len > 0 ? filter[len - 1] : 0
  if (last === CACHE_LOCAL_KIND && len >= LINE_BYTES + 2) return { kind: 'cache-local', probes: filter[len - 2] }
  if (last >= 1 && last <= MAX_PROBES && len >= 2) return { kind: 'classic', probes: last }
  return { kind: 'unknown', probes: 0 }
}

/**
 * One key checked against the filters of several tables (a point read probes level 0's files and one file
 * per deeper level): it is hashed at most once per filter kind. The reader owns the probe and resets it for
 * each key it looks up.
 */
export class BloomProbe {
  #key: Uint8Array = new Uint8Array(0)
  #classic = -1
  #local = -1

  /** Probe for key from now on (also after the caller rewrote the bytes of the same buffer). */
  reset (key: Uint8Array): void {
    this.#key = key
    this.#classic = -1
    this.#local = -1
  }

  /** False iff the key was certainly not added to the filter (of either kind). */
  mayMatch (filter: Buffer): boolean {
    const len = filter.length
    if (len >= 2 && filter[len - 1] === CACHE_LOCAL_KIND) {
      if (this.#local < 0) this.#local = localHash(this.#key)
      return cacheLocalMayContain(filter, this.#local)
    }
    if (this.#classic < 0) this.#classic = bloomHash(this.#key)
    return bloomMayContainHash(filter, this.#classic)
  }
}

/** False iff key[start, end) was certainly not added to the filter (of either kind). */
export function bloomMayContain (filter: Buffer, key: Uint8Array, start = 0, end = key.length): boolean {
  const len = filter.length
  if (len >= 2 && filter[len - 1] === CACHE_LOCAL_KIND) return cacheLocalMayContain(filter, localHash(key, start, end))
  return bloomMayContainHash(filter, bloomHash(key, start, end))
}

/** A cache-local filter's answer for a precomputed localHash(). */
function cacheLocalMayContain (filter: Buffer, hash: number): boolean {
  const len = filter.length
  if (len < LINE_BYTES + 2) return true // not a whole line: not a filter this version wrote
  const k = filter[len - 2]
  const base = lineOf(hash, (len - 2) >>> 6) * LINE_BYTES
  let g = probeDelta(hash)
  for (let j = 0; j < k; j++) {
    const bit = g >>> 23
    if ((filter[base + (bit >>> 3)] & (1 << (bit & 7))) === 0) return false
    g = Math.imul(g, PROBE_MUL) >>> 0
  }
  return true
}

/** A classic filter's answer for a precomputed bloomHash() (true for kinds this version does not know). */
export function bloomMayContainHash (filter: Buffer, hash: number): boolean {
  const len = filter.length
  if (len < 2) return false
  const last = filter[len - 1]
  if (last > MAX_PROBES) return true // a filter kind this version does not know: cannot exclude
  const bits = (len - 1) * 8
  const k = last
  let h = hash
  const delta = probeDelta(h)
  for (let j = 0; j < k; j++) {
    const pos = h % bits
    if ((filter[pos >>> 3] & (1 << (pos & 7))) === 0) return false
    h = (h + delta) >>> 0
  }
  return true
}
