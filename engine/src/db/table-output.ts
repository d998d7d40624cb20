import type { InternalIterator } from '../iterator/internal-iterator.js'
import type { FileMeta } from '../version/file-meta.js'
import { tableLayout, writeTable, MAIN_THREAD_SLICE, type JobHooks } from '../compaction/job.js'
import type { DbState } from './state.js'

/** Main-thread job hooks; only compactions stop early at close (a flush always completes). */
export function mainThreadHooks (s: DbState, yieldSlices: boolean, abortable = false): JobHooks {
  return { sliceEntries: MAIN_THREAD_SLICE, yieldBetweenSlices: yieldSlices, shouldAbort: () => abortable && s.closing }
}

/**
 * Write a sorted source to a new table file (synced, directory synced) with the codec of `level` (where the
 * caller means to place it), or nothing when the source is empty, on the main thread, yielding to the event
 * loop between slices so foreground reads and writes go on. The table's number stays in pendingOutputs
 * until the caller has recorded it in a version.
 */
export async function buildTable (s: DbState, source: InternalIterator, yieldSlices = true, level = 0): Promise<FileMeta | null> {
  const number = s.versions.newFileNumber()
  s.pendingOutputs.add(number)
  try {
    const meta = await writeTable(s.fs, s.dir, number, source, tableLayout(s.options, level), mainThreadHooks(s, yieldSlices))
    if (meta !== null) {
      await s.syncDir()
      s.stats.bytesFlushed += meta.size
    }
    return meta
  } catch (err) {
    s.pendingOutputs.delete(number)
    throw err
  }
}
