import { KIND_SEEK, MAX_SEQUENCE, compareUserKeys, makeInternalKey, userKeyOf } from '../keys.js'
import type { FileMeta } from '../version/file-meta.js'
import type { Compaction } from './pick.js'

/**
 * The least input, in output files of maxFileSize, that each part of a split compaction gets (so a compaction
 * of under twice this is not split): a smaller part is over in tens of milliseconds, and each part reopens
 * every level-0 input.
 */
export const MIN_SUBCOMPACTION_FILES = 4

/**
 * At most this many candidate boundaries are weighed: each costs an index lookup in every input table, on the
 * main thread.
 */
const MAX_BOUNDARY_CANDIDATES = 64

/**
 * User keys that split compaction c into up to `parts` key ranges of about equal input bytes (RocksDB's
 * subcompaction boundaries): the candidates are where the inputs' and grandparents' files start (so that
 * each part reads whole files where it can), weighed by `offsetOf` (the approximate input bytes below a key
 * in one input file). Sorted, strictly inside the compaction's range; empty when no candidate leaves every
 * part at least half its share.
 */
export function subcompactionBoundaries (c: Compaction, parts: number, offsetOf: (f: FileMeta, key: Buffer) => number): Buffer[] {
  const inputs = [...c.inputs[0], ...c.inputs[1]]
  let total = 0
  for (const f of inputs) total += f.size
  if (parts < 2 || total === 0) return []
  const starts: Buffer[] = []
  const addStarts = (files: readonly FileMeta[]): void => { for (const f of files) starts.push(userKeyOf(f.smallest)) }
  // Level-0 inputs overlap one another: where one starts says nothing about how the others' bytes fall.
  if (c.level > 0) addStarts(c.inputs[0])
  addStarts(c.inputs[1])
  addStarts(c.grandparents)
  starts.sort(compareUserKeys)
  let candidates = starts.filter((k, i) => i === 0 || compareUserKeys(k, starts[i - 1]) !== 0)
  if (candidates.length > MAX_BOUNDARY_CANDIDATES) {
    const step = candidates.length / MAX_BOUNDARY_CANDIDATES
    candidates = Array.from({ length: MAX_BOUNDARY_CANDIDATES }, (_, i) => candidates[Math.floor(i * step)])
  }
  const below = candidates.map((k) => {
    const target = makeInternalKey(k, MAX_SEQUENCE, KIND_SEEK)
    let bytes = 0
    for (const f of inputs) bytes += offsetOf(f, target)
    return bytes
  })
  const share = total / parts
  const boundaries: Buffer[] = []
  let previous = 0
  for (let part = 1; part < parts; part++) {
    let best = -1
    for (let i = 0; i < candidates.length; i++) {
      // Each part, this one and the rest, keeps at least half of its share.
      if (below[i] - previous < share / 2 || total - below[i] < (parts - part) * share / 2) continue
      if (best < 0 || Math.abs(below[i] - part * share) < Math.abs(below[best] - part * share)) best = i
    }
    if (best < 0) break
    boundaries.push(candidates[best])
    previous = below[best]
  }
  return boundaries
}
