import { compareInternalKeys, compareUserKeys, userKeyOf } from '../keys.js'
import type { EngineOptions } from '../options.js'
import { type Version, NUM_LEVELS } from '../version/version.js'
import type { FileMeta } from '../version/file-meta.js'
import { EXPANDED_COMPACTION_FILES, maxBytesForLevel } from './limits.js'

/** A chosen compaction: files of `level` (inputs[0]) merged with the overlapping files of level+1 (inputs[1]). */
export interface Compaction {
  readonly level: number
  readonly inputs: [FileMeta[], FileMeta[]]
  /** Files of level+2 that the output overlaps: outputs are cut to keep the next compaction small. */
  readonly grandparents: FileMeta[]
}


/**
 * The level most in need of compaction, LevelDB's way: level 0 scores by file count over the trigger (its
 * files overlap, so every read pays for each one), deeper levels by bytes over their target. A score
 * of 1 or more means compact. Returns null when every level is within bounds.
 */
export function pickCompaction (v: Version, o: EngineOptions, compactPointers: ReadonlyArray<Buffer | null>): Compaction | null {
  let bestLevel = -1
  let bestScore = 1
  for (let level = 0; level < NUM_LEVELS - 1; level++) {
    const score = level === 0
      ? v.levels[0].length / o.level0CompactionTrigger
      : v.levelBytes(level) / maxBytesForLevel(level, o)
    if (score >= bestScore) { bestScore = score; bestLevel = level }
  }
  if (bestLevel < 0) return null
  const level = bestLevel
  let inputs0: FileMeta[]
  if (level === 0) {
    // Start from the oldest file, then take every level-0 file its range meets (they may hold newer
    // versions of the same keys, which must not end up below older ones).
    const oldest = v.levels[0][v.levels[0].length - 1]
    inputs0 = level0Inputs(v, userKeyOf(oldest.smallest), userKeyOf(oldest.largest))
  } else {
    // Round robin through the key space: the first file after where the last compaction of this level ended.
    // Not the file of least overlap below (as idle passes pick): with keys spread evenly both rewrite about as
    // much (in bench:engine, no difference in write amplification beyond the scatter between runs).
    const files = v.levels[level]
    const pointer = compactPointers[level]
    let pick = files[0]
    if (pointer !== null) {
      const next = files.find((f) => compareInternalKeys(f.largest, pointer) > 0)
      if (next !== undefined) pick = next
    }
    inputs0 = [pick]
  }
  return expand(v, level, inputs0, o.maxFileSize)
}

/**
 * The file of `level` (>= 1) whose merge into level+1 rewrites the fewest level+1 bytes per byte it pushes down
 * (RocksDB's kMinOverlappingRatio), for idle passes: a pass that a write cuts short has pushed the most bytes
 * down for its work. Ties go to the first file after the level's compact pointer (LevelDB's round robin).
 */
export function leastOverlappingFile (v: Version, level: number, pointer: Buffer | null): FileMeta {
  const files = v.levels[level]
  const below = v.levels[level + 1]
  let start = 0
  if (pointer !== null) {
    const next = files.findIndex((f) => compareInternalKeys(f.largest, pointer) > 0)
    if (next >= 0) start = next
  }
  // Both levels are sorted and their files disjoint: one sweep finds every file's overlap below.
  const ratios = new Array<number>(files.length)
  let j = 0
  for (let i = 0; i < files.length; i++) {
    const f = files[i]
    const lo = userKeyOf(f.smallest)
    const hi = userKeyOf(f.largest)
    while (j < below.length && compareUserKeys(userKeyOf(below[j].largest), lo) < 0) j++
    let overlap = 0
    for (let k = j; k < below.length && compareUserKeys(userKeyOf(below[k].smallest), hi) <= 0; k++) overlap += below[k].size
    ratios[i] = overlap / Math.max(1, f.size)
  }
  let best = start
  for (let n = 1; n < files.length; n++) {
    const i = (start + n) % files.length
    if (ratios[i] < ratios[best]) best = i
  }
  return files[best]
}

/**
 * Level-0 files meeting [start, end], with the range widened until it is closed: a file that extends the
 * range pulls in the files that meet the extension.
 */
export function level0Inputs (v: Version, start: Buffer | null, end: Buffer | null): FileMeta[] {
  const files = v.levels[0]
  let lo = start
  let hi = end
  for (;;) {
    const picked = files.filter((f) => (hi === null || compareUserKeys(userKeyOf(f.smallest), hi) <= 0) &&
      (lo === null || compareUserKeys(userKeyOf(f.largest), lo) >= 0))
    let grew = false
    for (const f of picked) {
      const s = userKeyOf(f.smallest)
      const e = userKeyOf(f.largest)
      if (lo !== null && compareUserKeys(s, lo) < 0) { lo = s; grew = true }
      if (hi !== null && compareUserKeys(e, hi) > 0) { hi = e; grew = true }
    }
    if (!grew) return picked
  }
}

function rangeOf (files: readonly FileMeta[]): [Buffer, Buffer] {
  let lo = userKeyOf(files[0].smallest)
  let hi = userKeyOf(files[0].largest)
  for (const f of files) {
    const s = userKeyOf(f.smallest)
    const e = userKeyOf(f.largest)
    if (compareUserKeys(s, lo) < 0) lo = s
    if (compareUserKeys(e, hi) > 0) hi = e
  }
  return [lo, hi]
}

function totalBytes (files: readonly FileMeta[]): number {
  let n = 0
  for (const f of files) n += f.size
  return n
}

/**
 * Add the overlapping files of level+1 and the grandparents. Then, like LevelDB, take in more files of
 * `level` when that costs no more files of level+1: every file of `level` that lies inside the key range the
 * level+1 inputs cover anyway (up to EXPANDED_COMPACTION_FILES output files). Those level+1 files are
 * rewritten in any case; merging more of the level above into them now means they are rewritten fewer
 * times for the same data, which is what write amplification counts.
 */
export function expand (v: Version, level: number, inputs0: FileMeta[], maxFileSize: number): Compaction {
  const [lo, hi] = rangeOf(inputs0)
  let inputs1 = v.overlapping(level + 1, lo, hi)
  let [alo, ahi] = inputs1.length > 0 ? rangeOf([...inputs0, ...inputs1]) : [lo, hi]
  if (inputs1.length > 0) {
    const expanded0 = level === 0 ? level0Inputs(v, alo, ahi) : v.overlapping(level, alo, ahi)
    if (expanded0.length > inputs0.length &&
      totalBytes(expanded0) + totalBytes(inputs1) < EXPANDED_COMPACTION_FILES * maxFileSize) {
      const [elo, ehi] = rangeOf(expanded0)
      const expanded1 = v.overlapping(level + 1, elo, ehi)
      if (expanded1.length === inputs1.length) {
        inputs0 = expanded0
        inputs1 = expanded1
        ;[alo, ahi] = rangeOf([...inputs0, ...inputs1])
      }
    }
  }
  const grandparents = level + 2 < NUM_LEVELS ? v.overlapping(level + 2, alo, ahi) : []
  return { level, inputs: [inputs0, inputs1], grandparents }
}
