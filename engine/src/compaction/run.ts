import { join } from 'node:path'
import ModuleError from 'module-error'
import { userKeyOf } from '../keys.js'
import { asIoError } from '../errors.js'
import { tableFileName } from '../version/file-meta.js'
import type { DbState } from '../db/state.js'
import { mainThreadHooks } from '../db/table-output.js'
import { deleteObsoleteFiles } from '../db/obsolete-files.js'
import { runCompactionJob, JobAborted, tableLayout, type CompactionJob, type CompactionResult } from './job.js'
import type { Compaction } from './pick.js'
import { maxGrandparentOverlapBytes, outputNumbersToReserve } from './limits.js'

/**
 * Carry out a compaction: a single input file that overlaps nothing below (and few grandparents) is moved
 * to level+1 instead of rewritten, when both levels have the same codec; otherwise the inputs are merged into level+1 (see job.ts), on the
 * background thread when there is one.
 */
export async function runCompaction (s: DbState, c: Compaction, allowTrivialMove = true): Promise<void> {
  const [inputs0, inputs1] = c.inputs
  const outLevel = c.level + 1
  const v = s.versions.current
  let gpBytes = 0
  for (const f of c.grandparents) gpBytes += f.size
  // A move keeps the table's bytes: between levels of different codecs the table is rewritten instead.
  const sameCodec = s.options.compression[c.level] === s.options.compression[outLevel]
  if (allowTrivialMove && sameCodec && inputs0.length === 1 && inputs1.length === 0 && gpBytes <= maxGrandparentOverlapBytes(s.options)) {
    const f = inputs0[0]
    await s.versions.logAndApply({
      deletedFiles: [{ level: c.level, number: f.number }],
      newFiles: [{ level: outLevel, file: f }],
      compactPointers: [{ level: c.level, key: f.largest }]
    })
    s.stats.trivialMoves++
    s.wakeStalled()
    return
  }
  let inputBytes = 0
  for (const f of [...inputs0, ...inputs1]) inputBytes += f.size
  const count = outputNumbersToReserve(inputBytes, gpBytes, s.options)
  const first = s.versions.nextFileNumber
  s.versions.nextFileNumber += count
  const range: [number, number] = [first, first + count]
  s.pendingRanges.push(range)
  const job: CompactionJob = {
    dir: s.dir,
    level: c.level,
    inputs0,
    inputs1,
    grandparents: c.grandparents,
    deeper: v.levels.slice(outLevel + 1).map((files) => files.map((f) => [userKeyOf(f.smallest), userKeyOf(f.largest)] as [Buffer, Buffer])),
    smallestSnapshot: s.oldestSnapshot(),
    layout: tableLayout(s.options, outLevel),
    firstFileNumber: first,
    fileNumberCount: count
  }
  let recording = false
  v.ref()
  try {
    const started = performance.now()
    let result: CompactionResult
    if (s.compactionThread !== null) {
      s.runningJob = s.compactionThread.compact(job)
      if (s.closing) s.runningJob.abort()
      try { result = await s.runningJob.result } finally { s.runningJob = null }
    } else {
      result = await runCompactionJob(s.fs, job, mainThreadHooks(s, true, true))
    }
    if (result.outputs.length > 0) await s.syncDir()
    s.stats.bytesCompactedRead += result.bytesRead
    s.stats.bytesCompactedWritten += result.bytesWritten
    s.levelStats[outLevel].add(performance.now() - started, result.bytesRead, result.bytesWritten)
    // From here a failure leaves it unknown whether the edit reached the MANIFEST (a failed fsync may still
    // have written it): the outputs must stay, or a reopen could find the edit naming deleted files.
    recording = true
    await s.versions.logAndApply({
      deletedFiles: [
        ...inputs0.map((f) => ({ level: c.level, number: f.number })),
        ...inputs1.map((f) => ({ level: outLevel, number: f.number }))
      ],
      newFiles: result.outputs.map((f) => ({ level: outLevel, file: f })),
      compactPointers: [{ level: c.level, key: inputs0[inputs0.length - 1].largest }]
    })
    s.stats.compactions++
    s.wakeStalled()
  } catch (err) {
    for (let n = range[0]; n < range[1] && !recording; n++) {
      if (s.fs.exists(join(s.dir, tableFileName(n)))) { try { s.fs.unlink(join(s.dir, tableFileName(n))) } catch {} }
    }
    if (err instanceof JobAborted) throw err
    throw err instanceof ModuleError ? err : asIoError(err, { file: s.dir, op: 'compaction' })
  } finally {
    s.pendingRanges.splice(s.pendingRanges.indexOf(range), 1)
    v.unref()
  }
  deleteObsoleteFiles(s)
}
