import { userKeyOf } from '../keys.js'
import { tombstoneOverlapsRange } from '../range-tombstone.js'
import type { FileMeta } from '../version/file-meta.js'
import { NUM_LEVELS } from '../version/version.js'
import type { DbState } from '../db/state.js'
import { MAX_FLUSH_PUSH_DOWN_LEVEL, maxGrandparentOverlapBytes } from './limits.js'

/**
 * The level for a flushed table: as deep as it can go without overlap (LevelDB's rule), at most
 * MAX_FLUSH_PUSH_DOWN_LEVEL, and only while its grandparent overlap stays small.
 */
export function pickLevelForFlush (s: DbState, meta: FileMeta): number {
  // A compaction running beside this flush may be writing to the levels below: stay in level 0.
  if (s.bgRunning) return 0
  const v = s.versions.current
  const start = userKeyOf(meta.smallest)
  const end = userKeyOf(meta.largest)
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
