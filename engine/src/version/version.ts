import { compareInternalKeys, compareUserKeys, lookupKey, seqOf, userKeyOf } from '../keys.js'
import type { RangeTombstone } from '../range-tombstone.js'
import { type FileMeta, fileOverlaps } from './file-meta.js'

/** Number of levels; with 10x growth from a 10 MiB level 1, level 6 holds ~10 TiB. */
export const NUM_LEVELS = 7

/** The one thing a version needs from the table cache: a point lookup in a file. */
export interface TableGetter {
  getFromTable (file: FileMeta, userKey: Buffer, snapshotSeq: number): { key: Buffer, value: Buffer } | undefined
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
  get (tables: TableGetter, userKey: Buffer, snapshotSeq: number): { key: Buffer, value: Buffer } | undefined {
    let best: { key: Buffer, value: Buffer } | undefined
    let bestSeq = -1
    for (const f of this.levels[0]) {
      if (f.maxSeq <= bestSeq) break
      if (f.minSeq > snapshotSeq) continue
      if (!fileOverlaps(f, userKey, userKey)) continue
      const r = tables.getFromTable(f, userKey, snapshotSeq)
      if (r !== undefined) {
        const s = seqOf(r.key)
        if (s > bestSeq) { best = r; bestSeq = s }
      }
    }
    if (best !== undefined) return best
    const target = lookupKey(userKey, snapshotSeq)
    for (let level = 1; level < this.levels.length; level++) {
      const files = this.levels[level]
      if (files.length === 0) continue
      const i = findFile(files, target)
      if (i >= files.length) continue
      const f = files[i]
      if (compareUserKeys(userKeyOf(f.smallest), userKey) > 0) continue
      const r = tables.getFromTable(f, userKey, snapshotSeq)
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

/** Index of the first file whose largest internal key is >= target (files sorted, non-overlapping). */
export function findFile (files: readonly FileMeta[], target: Buffer): number {
  let lo = 0
  let hi = files.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareInternalKeys(files[mid].largest, target) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Sort order of level 0: newest (highest max sequence) first. */
export function compareLevel0 (a: FileMeta, b: FileMeta): number {
  return b.maxSeq - a.maxSeq || b.number - a.number
}

/** Sort order of deeper levels: by smallest key. */
export function compareBySmallest (a: FileMeta, b: FileMeta): number {
  return compareInternalKeys(a.smallest, b.smallest)
}
