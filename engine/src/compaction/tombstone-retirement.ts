import { MAX_SEQUENCE, seqOf, userKeyOf } from '../keys.js'
import { type RangeTombstone, tombstoneContainsRange, tombstoneCovers, tombstoneOverlapsRange } from '../range-tombstone.js'
import type { VersionEdit } from '../version/version-edit.js'
import { FilteringIterator } from '../iterator/filtering-iterator.js'
import type { DbState } from '../db/state.js'
import { buildTable } from '../db/table-output.js'
import { deleteObsoleteFiles } from '../db/obsolete-files.js'

/** A persisted tombstone that no explicit snapshot still needs to see under, ready to retire. */
export function retirableTombstone (s: DbState): RangeTombstone | undefined {
  const persisted = s.versions.current.rangeTombstones
  if (persisted.length === 0) return undefined
  const oldest = s.oldestSnapshot()
  return persisted.find((t) => t.seq <= oldest)
}

/**
 * Physically apply a range tombstone and forget it: tables wholly inside its range holding only older
 * entries are dropped without being read; tables that straddle it are rewritten without the entries it
 * hides. One edit removes the files, adds the rewrites and removes the tombstone.
 */
export async function retireTombstone (s: DbState, t: RangeTombstone): Promise<void> {
  const v = s.versions.current
  const edit: VersionEdit = { deletedFiles: [], newFiles: [], removedTombstones: [t.seq] }
  const outputs: number[] = []
  try {
    for (let level = 0; level < v.levels.length; level++) {
      for (const f of v.levels[level]) {
        const smallest = userKeyOf(f.smallest)
        const largest = userKeyOf(f.largest)
        if (!tombstoneOverlapsRange(t, smallest, largest)) continue
        if (f.minSeq >= t.seq) continue
        edit.deletedFiles!.push({ level, number: f.number })
        if (f.maxSeq < t.seq && tombstoneContainsRange(t, smallest, largest)) continue
        const source = new FilteringIterator(s.tables.iterator(f, { fillCache: false }), (key) =>
          !tombstoneCovers(t, userKeyOf(key), seqOf(key), MAX_SEQUENCE))
        const meta = await buildTable(s, source, true, level)
        if (meta !== null) {
          outputs.push(meta.number)
          edit.newFiles!.push({ level, file: meta })
        }
      }
    }
    await s.versions.logAndApply(edit)
  } finally {
    for (const n of outputs) s.pendingOutputs.delete(n)
  }
  s.tombstones = s.tombstones.filter((x) => x !== t && x.seq !== t.seq)
  s.stats.tombstonesRetired++
  s.wakeStalled()
  deleteObsoleteFiles(s)
}
