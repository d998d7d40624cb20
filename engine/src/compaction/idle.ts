import { type Version, NUM_LEVELS } from '../version/version.js'
import { type Compaction, expand, leastOverlappingFile, level0Inputs } from './pick.js'

/**
 * Compaction while nothing is written: after a burst of writes, levels 0 and 1 hold the newest versions of
 * keys whose older versions wait below them, and the score-driven compactions stop as soon as every level is
 * within its target, leaving those versions on disk for good (LevelDB does the same). Once writes have stopped
 * for `idleCompactionDelayMs`, the background merges level 0 into level 1 and level 1 into level 2, one file at
 * a time, until both are empty, so that the overwritten and deleted versions below are dropped; a write, a
 * manual compaction or close() stops it between files and aborts the file being merged.
 */

/**
 * Part of the database's table bytes that must sit in levels 0 and 1 (above the deepest level) for writes
 * stopping to start an idle pass: a twentieth, so a pass wins back at least that much where those levels hold
 * overwritten versions. A pass rewrites those bytes and the level-2 bytes they overlap, at most about 1 / share
 * times what it pushes down; after it both levels are empty, so the next pass waits for another twentieth of
 * the database to be written. A large database, whose levels 0 and 1 are a small part of it, is left alone.
 */
export const IDLE_MIN_SHARE = 1 / 20

/** Bytes of every table of the version. */
function totalBytes (v: Version): number {
  let n = 0
  for (let level = 0; level < NUM_LEVELS; level++) n += v.levelBytes(level)
  return n
}

/** The deepest level holding a table, or -1 when there is none. */
function bottomLevel (v: Version): number {
  for (let level = NUM_LEVELS - 1; level >= 0; level--) if (v.levels[level].length > 0) return level
  return -1
}

/**
 * Bytes in the levels an idle pass empties: level 0 (into level 1 when nothing lies deeper: level-0 tables are
 * stored raw by default, so a database held in level 0 alone would stay uncompressed at rest), and level 1
 * unless it is the bottom.
 */
function idleBytes (v: Version, bottom: number): number {
  return v.levelBytes(0) + (bottom > 1 ? v.levelBytes(1) : 0)
}

/** Whether levels 0 and 1 hold enough of the database for writes stopping to start an idle pass. */
export function idlePassDue (v: Version): boolean {
  const bottom = bottomLevel(v)
  if (bottom < 0) return false
  const upper = idleBytes(v, bottom)
  return upper > 0 && upper >= IDLE_MIN_SHARE * totalBytes(v)
}

/**
 * The next compaction of a running idle pass: every level-0 file into level 1, then level 1's file that costs
 * the least level-2 bytes into level 2 (level 1 only while it is not the deepest level); null when both are
 * empty. A pass, once started, empties both levels whatever share they are by then.
 */
export function pickIdleCompaction (v: Version, compactPointers: ReadonlyArray<Buffer | null>, maxFileSize: number): Compaction | null {
  const bottom = bottomLevel(v)
  if (v.levels[0].length > 0) return expand(v, 0, level0Inputs(v, null, null), maxFileSize)
  if (bottom > 1 && v.levels[1].length > 0) return expand(v, 1, [leastOverlappingFile(v, 1, compactPointers[1])], maxFileSize)
  return null
}
