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
import { MIN_SUBCOMPACTION_FILES, subcompactionBoundaries } from './subcompaction.js'

/**
 * Carry out a compaction: a single input file that overlaps nothing below (and few grandparents) is moved
 * to level+1 instead of rewritten, when both levels have the same codec; otherwise the inputs are merged into level+1 (see job.ts), on the
 * background threads when there are any, a large compaction split by key range across them (subcompaction.ts).
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
  // Split across the compaction threads when it is large enough to be worth it (see subcompaction.ts).
  const boundaries = s.compactionThreads.length > 1 && inputBytes >= MIN_SUBCOMPACTION_FILES * s.options.maxFileSize
    ? subcompactionBoundaries(c, s.compactionThreads.length, (f, key) => s.tables.approximateOffsetOf(f, key))
    : []
  const count = outputNumbersToReserve(inputBytes, gpBytes, s.options)
  const ranges: Array<[number, number]> = []
  const jobs: CompactionJob[] = []
  const deeper = v.levels.slice(outLevel + 1).map((files) => files.map((f) => [userKeyOf(f.smallest), userKeyOf(f.largest)] as [Buffer, Buffer]))
  for (let part = 0; part <= boundaries.length; part++) {
    // Each part may in the worst case write as many files as the whole: numbers are plentiful.
    const first = s.versions.nextFileNumber
    s.versions.nextFileNumber += count
    const range: [number, number] = [first, first + count]
    ranges.push(range)
    s.pendingRanges.push(range)
    jobs.push({
      dir: s.dir,
      level: c.level,
      inputs0,
      inputs1,
      grandparents: c.grandparents,
      deeper,
      smallestSnapshot: s.oldestSnapshot(),
      layout: tableLayout(s.options, outLevel),
      firstFileNumber: first,
      fileNumberCount: count,
      start: part === 0 ? null : boundaries[part - 1],
      end: part === boundaries.length ? null : boundaries[part]
    })
  }
  let recording = false
  v.ref()
  try {
    const started = performance.now()
    const results = await runJobs(s, jobs)
    const outputs = results.flatMap((r) => r.outputs)
    let bytesWritten = 0
    for (const r of results) bytesWritten += r.bytesWritten
    if (outputs.length > 0) await s.syncDir()
    s.stats.bytesCompactedRead += inputBytes
    s.stats.bytesCompactedWritten += bytesWritten
    if (jobs.length > 1) s.stats.subcompactions += jobs.length
    s.levelStats[outLevel].add(performance.now() - started, inputBytes, bytesWritten)
    // From here a failure leaves it unknown whether the edit reached the MANIFEST (a failed fsync may still
    // have written it): the outputs must stay, or a reopen could find the edit naming deleted files.
    recording = true
    await s.versions.logAndApply({
      deletedFiles: [
        ...inputs0.map((f) => ({ level: c.level, number: f.number })),
        ...inputs1.map((f) => ({ level: outLevel, number: f.number }))
      ],
      newFiles: outputs.map((f) => ({ level: outLevel, file: f })),
      compactPointers: [{ level: c.level, key: inputs0[inputs0.length - 1].largest }]
    })
    s.stats.compactions++
    s.wakeStalled()
  } catch (err) {
    for (const range of ranges) {
      for (let n = range[0]; n < range[1] && !recording; n++) {
        if (s.fs.exists(join(s.dir, tableFileName(n)))) { try { s.fs.unlink(join(s.dir, tableFileName(n))) } catch {} }
      }
    }
    if (err instanceof JobAborted) throw err
    throw err instanceof ModuleError ? err : asIoError(err, { file: s.dir, op: 'compaction' })
  } finally {
    for (const range of ranges) s.pendingRanges.splice(s.pendingRanges.indexOf(range), 1)
    v.unref()
  }
  deleteObsoleteFiles(s)
}

/**
 * Run a compaction's parts (disjoint key ranges, in key order), each on a compaction thread of its own at
 * once, or one after another on the main thread; results in the parts' order. The first part to fail stops
 * the others, and the failure (a real one before an abort) is thrown once all have stopped.
 */
async function runJobs (s: DbState, jobs: CompactionJob[]): Promise<CompactionResult[]> {
  if (s.compactionThreads.length === 0) {
    const results: CompactionResult[] = []
    for (const job of jobs) results.push(await runCompactionJob(s.fs, job, mainThreadHooks(s, true, true)))
    return results
  }
  const running = jobs.map((job, i) => s.compactionThreads[i].compact(job))
  s.runningJobs.push(...running)
  const abortAll = (): void => { for (const r of running) r.abort() }
  if (s.closing) abortAll()
  try {
    const settled = await Promise.allSettled(running.map((r) => r.result.catch((err: unknown) => { abortAll(); throw err })))
    const failures = settled.flatMap((r) => r.status === 'rejected' ? [r.reason as Error] : [])
    if (failures.length > 0) throw failures.find((e) => !(e instanceof JobAborted)) ?? failures[0]
    return settled.map((r) => (r as PromiseFulfilledResult<CompactionResult>).value)
  } finally {
    for (const r of running) s.runningJobs.splice(s.runningJobs.indexOf(r), 1)
  }
}
