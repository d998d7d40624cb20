import { NUM_LEVELS } from '../version/version.js'
import type { DbState } from '../db/state.js'
import { notOpen } from '../errors.js'
import { JobAborted } from './job.js'
import { expand, level0Inputs } from './pick.js'
import { maxBytesForLevel } from './limits.js'
import { runCompaction } from './run.js'

function closedDuringCompactRange (): Error {
  return notOpen('closed during compactRange()')
}

/**
 * Run the oldest queued compactRange(): every level's files that overlap its range are merged into the
 * next level, top to bottom, without trivial moves (the point is to rewrite them); it settles the caller's
 * promise either way.
 */
export async function runManualCompaction (s: DbState): Promise<void> {
  const m = s.manualCompactions[0]
  try {
    for (let level = 0; level < NUM_LEVELS - 1; level++) {
      for (;;) {
        if (s.closing) throw closedDuringCompactRange()
        const v = s.versions.current
        const inputs = v.overlapping(level, m.start, m.end)
        if (inputs.length === 0) break
        const deeper = v.levels.slice(level + 1).some((files) => files.length > 0)
        if (!deeper && level > 0) {
          // The bottom level. If it holds more than its target, move all of it down, unchanged, to the
          // first level that can hold it: left where it is, it would be compacted again right after.
          await moveBottomLevelDown(s, level)
          break
        }
        const c = expand(v, level, level === 0 ? level0Inputs(v, m.start, m.end) : inputs, s.options.maxFileSize)
        await runCompaction(s, c, false)
        if (level > 0) break
      }
    }
    s.manualCompactions.shift()
    m.resolve()
  } catch (err) {
    s.manualCompactions.shift()
    m.reject(err instanceof JobAborted ? closedDuringCompactRange() : err as Error)
    throw err
  }
}

/**
 * Moves every file of `level` (the bottom level: nothing deeper) to the shallowest deeper level whose target
 * its bytes fit, in one edit and without rewriting a byte. Nothing when it already fits, when that level
 * has another codec, or while a flush runs (the background compactions then move it as usual).
 */
async function moveBottomLevelDown (s: DbState, level: number): Promise<void> {
  // Not beside a flush: one that places its table below level 0 chose its level against the old shape.
  if (s.flushRunning || s.imms.length > 0) return
  const v = s.versions.current
  const bytes = v.levelBytes(level)
  let target = level
  while (target < NUM_LEVELS - 1 && bytes > maxBytesForLevel(target, s.options)) target++
  // A move keeps the tables' codec: to a level with another, the background compactions rewrite them instead.
  if (target === level || s.options.compression[target] !== s.options.compression[level]) return
  const files = v.levels[level]
  await s.versions.logAndApply({
    deletedFiles: files.map((f) => ({ level, number: f.number })),
    newFiles: files.map((f) => ({ level: target, file: f }))
  })
  s.stats.trivialMoves += files.length
}
