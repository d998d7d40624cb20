import type { EngineOptions } from '../options.js'
import { type Version, NUM_LEVELS } from '../version/version.js'

/**
 * The compaction limits, each defined once. Most are LevelDB's, which derives them from the table size
 * (maxFileSize) so that a compaction's cost stays proportional to what it rewrites.
 */

/**
 * How many output files' worth of level+2 (grandparent) bytes one compaction output, a trivial move or a
 * pushed-down flush may overlap (LevelDB's kMaxGrandParentOverlapBytes): more, and the next compaction of
 * that file would rewrite too much of level+2 at once.
 */
const GRANDPARENT_OVERLAP_FILES = 10

/** The grandparent bytes one output may overlap before it is cut (or a move declined); see GRANDPARENT_OVERLAP_FILES. */
export function maxGrandparentOverlapBytes (o: Pick<EngineOptions, 'maxFileSize'>): number {
  return GRANDPARENT_OVERLAP_FILES * o.maxFileSize
}

/**
 * LevelDB's cap on a compaction grown by expand(): the bytes of both levels' inputs, in output files
 * (25 files of maxFileSize): a larger merge would hold writers back for too long.
 */
export const EXPANDED_COMPACTION_FILES = 25

/**
 * The deepest level a flushed table may be pushed to when nothing overlaps it (LevelDB's kMaxMemCompactLevel):
 * deep enough to skip the level-0 -> level-1 merge of fresh key ranges, shallow enough that a range written
 * once and then overwritten does not sink to where it is costly to compact.
 */
export const MAX_FLUSH_PUSH_DOWN_LEVEL = 2

/** Size target of a level >= 1: the base, times the multiplier for each level below 1. */
export function maxBytesForLevel (level: number, o: Pick<EngineOptions, 'maxBytesForLevelBase' | 'levelMultiplier'>): number {
  let bytes = o.maxBytesForLevelBase
  for (let l = 1; l < level; l++) bytes *= o.levelMultiplier
  return bytes
}

/**
 * File numbers to reserve for a compaction's outputs: twice the count of size cuts, one per possible
 * grandparent cut (the overlap counter restarts after each), plus slack for small outputs. The numbers are
 * reserved before the job starts because it may run on the worker thread, which cannot ask for more.
 */
export function outputNumbersToReserve (inputBytes: number, grandparentBytes: number, o: Pick<EngineOptions, 'maxFileSize'>): number {
  return 2 * Math.ceil(inputBytes / o.maxFileSize) + Math.ceil(grandparentBytes / maxGrandparentOverlapBytes(o)) + 16
}

/**
 * Bytes that compaction must still rewrite to bring every level within its target (RocksDB's estimated pending
 * compaction bytes, without carrying a level's excess into the next): level 0's bytes once it holds
 * level0CompactionTrigger files, and each deeper level's bytes over its target times the fan-out they are
 * merged into (levelMultiplier + 1). It is 0 exactly when pickCompaction finds nothing to do.
 */
export function pendingCompactionBytes (v: Version, o: Pick<EngineOptions, 'level0CompactionTrigger' | 'maxBytesForLevelBase' | 'levelMultiplier'>): number {
  let pending = v.levels[0].length >= o.level0CompactionTrigger ? v.levelBytes(0) : 0
  for (let level = 1; level < NUM_LEVELS - 1; level++) {
    const excess = v.levelBytes(level) - maxBytesForLevel(level, o)
    if (excess > 0) pending += excess * (o.levelMultiplier + 1)
  }
  return pending
}
