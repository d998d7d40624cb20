import { userKeyOf } from '../keys.js'
import { tombstoneOverlapsRange } from '../range-tombstone.js'
import type { FileMeta } from '../version/file-meta.js'
import { NUM_LEVELS } from '../version/version.js'
import type { DbState } from '../db/state.js'
import type { CompressionName } from '../sstable/compression.js'
import { MAX_FLUSH_PUSH_DOWN_LEVEL, maxGrandparentOverlapBytes } from './limits.js'

/**
 * The level for a flushed table: as deep as it can go without overlap (LevelDB's rule), at most
 * MAX_FLUSH_PUSH_DOWN_LEVEL, and only while its grandparent overlap stays small. A table written with
 * another codec than that level's stays in level 0: moves never rewrite a table, so it would keep the wrong
 * codec wherever it went.
 */
export function pickLevelForFlush (s: DbState, meta: FileMeta, codec: CompressionName): number {
  const level = pickLevelForRange(s, userKeyOf(meta.smallest), userKeyOf(meta.largest))
  return s.options.compression[level] === codec ? level : 0
}

/**
 * The level a table holding user keys [start, end] would be flushed to now (see pickLevelForFlush). Asked
 * before a flush too, for the codec to write it with; the answer may change while the table is built.
 */
export function pickLevelForRange (s: DbState, start: Buffer, end: Buffer): number {
  // A compaction running beside this flush may be writing to the levels below: stay in level 0.
  if (s.bgRunning) return 0
  const v = s.versions.current
  // A range tombstone that covers the new file must stay above the data it hides; keep such files in L0.
  for (const t of s.tombstones) if (tombstoneOverlapsRange(t, start, end)) return 0
  let level = 0
  while (level < MAX_FLUSH_PUSH_DOWN_LEVEL) {
    if (v.overlapping(level, start, end).length > 0) break
    if (v.overlapping(level + 1, start, end).length > 0) break
    if (level + 2 < NUM_LEVELS) {
      let gp = 0
      for (const f of v.overlapping(level + 2, start, end)) gp += f.size
      if (gp > maxGrandparentOverlapBytes(s.options)) break
    }
    level++
  }
  return level
}
