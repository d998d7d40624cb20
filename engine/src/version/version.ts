import { compareBytes, compareInternalKeys, compareInternalKeysFrom, encodeTrailer, KIND_SEEK, prefixOfOrder, seqOf, TRAILER_SIZE } from '../keys.js'
import type { RangeTombstone } from '../range-tombstone.js'
import type { BloomProbe } from '../sstable/bloom.js'
import type { TableGetResult } from '../sstable/table.js'
import { type FileMeta, fileOverlaps } from './file-meta.js'

/** Number of levels; with 10x growth from a 10 MiB level 1, level 6 holds ~10 TiB. */
export const NUM_LEVELS = 7

/** Version.get's lookup key, rebuilt in place per call (get is synchronous). */
let lookup = Buffer.allocUnsafeSlow(64)

/** The one thing a version needs from the table cache: a point lookup in a file. */
export interface TableGetter {
  get (file: FileMeta, userKey: Buffer, snapshotSeq: number, probe: BloomProbe): TableGetResult | undefined
}

/**
 * An immutable picture of the live tables per level and the persisted range tombstones. Level 0 is
 * ordered newest first (by max sequence) and its files may overlap; every deeper level is sorted by key
 * and its files do not overlap. Iterators hold a reference so that the files stay on disk while read.
 */
export class Version {
  readonly levels: ReadonlyArray<readonly FileMeta[]>
  readonly rangeTombstones: readonly RangeTombstone[]
  #refs = 0
  #onUnref: ((v: Version) => void) | null = null

  constructor (levels: ReadonlyArray<readonly FileMeta[]>, rangeTombstones: readonly RangeTombstone[]) {
    this.levels = levels
    this.rangeTombstones = rangeTombstones
  }

  static empty (): Version {
    return new Version(Array.from({ length: NUM_LEVELS }, () => []), [])
  }

  get refs (): number { return this.#refs }

  /** Take a reference; the version set keeps its files until every reference is released. */
  ref (): void { this.#refs++ }

  unref (): void {
    if (--this.#refs === 0 && this.#onUnref !== null) this.#onUnref(this)
  }

  /** @internal the version set learns when an old version is no longer read. */
  setOnUnref (fn: (v: Version) => void): void { this.#onUnref = fn }

  /** Total bytes of the tables at a level. */
  levelBytes (level: number): number {
    let sum = 0
    for (const f of this.levels[level]) sum += f.size
    return sum
  }

  /**
   * The newest entry of userKey with sequence <= snapshotSeq in any table, or undefined. Level-0 files are
   * searched newest first, stopping as soon as no older file can hold a newer entry; each deeper level holds
   * at most one candidate file, found by binary search.
   */
  get (tables: TableGetter, userKey: Buffer, snapshotSeq: number, probe: BloomProbe): TableGetResult | undefined {
    // Every table probed checks its filter for this key: the probe hashes it once.
    probe.reset(userKey)
    const u = userKey.length
    let best: TableGetResult | undefined
    let bestSeq = -1
    for (const f of this.levels[0]) {
      if (f.maxSeq <= bestSeq) break
      if (f.minSeq > snapshotSeq) continue
      if (!userKeyInFile(f, userKey)) continue
      const r = tables.get(f, userKey, snapshotSeq, probe)
      if (r !== undefined) {
        const s = seqOf(r.key)
        if (s > bestSeq) { best = r; bestSeq = s }
      }
    }
    if (best !== undefined) return best
    // The lookup key finds the one candidate file per level.
    const n = u + TRAILER_SIZE
    if (n > lookup.length) lookup = Buffer.allocUnsafeSlow(Math.max(n, 2 * lookup.length))
    const target = lookup
    for (let i = 0; i < u; i++) target[i] = userKey[i]
    encodeTrailer(target, u, snapshotSeq, KIND_SEEK)
    for (let level = 1; level < this.levels.length; level++) {
      const files = this.levels[level]
      if (files.length === 0) continue
      const i = findFile(files, target, n)
      if (i >= files.length) continue
      const f = files[i]
      const s = f.smallest
      if (compareBytes(s, 0, s.length - TRAILER_SIZE, userKey, 0, u) > 0) continue
      const r = tables.get(f, userKey, snapshotSeq, probe)
      if (r !== undefined) return r
    }
    return undefined
  }

  /** Files of a level whose user-key range meets [start, end] (inclusive, null = unbounded). */
  overlapping (level: number, start: Buffer | null, end: Buffer | null): FileMeta[] {
    const out: FileMeta[] = []
    for (const f of this.levels[level]) if (fileOverlaps(f, start, end)) out.push(f)
    return out
  }

  /** Number of every file in this version. */
  fileNumbers (into: Set<number>): void {
    for (const files of this.levels) for (const f of files) into.add(f.number)
  }
}

/** Index of the first file whose largest internal key is >= target[0, targetLength) (files sorted, non-overlapping). */
export function findFile (files: readonly FileMeta[], target: Buffer, targetLength: number = target.length): number {
  let lo = 0
  let hi = files.length
  // As in IndexBlock.seek: bytes every key left in the range shares with the target are not compared again.
  let below = 0
  let above = 0
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const l = files[mid].largest
    const c = compareInternalKeysFrom(l, 0, l.length, target, 0, targetLength, below < above ? below : above)
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

/** Whether userKey lies in the file's user-key range (fileOverlaps for one key, without making views). */
function userKeyInFile (f: FileMeta, userKey: Buffer): boolean {
  const u = userKey.length
  const l = f.largest
  if (compareBytes(l, 0, l.length - TRAILER_SIZE, userKey, 0, u) < 0) return false
  const s = f.smallest
  return compareBytes(s, 0, s.length - TRAILER_SIZE, userKey, 0, u) <= 0
}

/** Sort order of level 0: newest (highest max sequence) first. */
export function compareLevel0 (a: FileMeta, b: FileMeta): number {
  return b.maxSeq - a.maxSeq || b.number - a.number
}

/** Sort order of deeper levels: by smallest key. */
export function compareBySmallest (a: FileMeta, b: FileMeta): number {
  return compareInternalKeys(a.smallest, b.smallest)
}
