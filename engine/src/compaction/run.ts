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
import type { BackgroundThread, RunningJob } from '../worker/background-thread.js'

function never (): boolean { return false }

/**
 * Carry out a compaction: a single input file that overlaps nothing below (and few grandparents) is moved
 * to level+1 instead of rewritten, when both levels have the same codec; otherwise the inputs are merged into level+1 (see job.ts), on the
 * background threads when there are any, a large compaction split by key range across them (subcompaction.ts).
 * It stops early (JobAborted, its outputs deleted) at close, or once `stop` answers true: a job on the main
 * thread asks it between slices; the caller aborts the jobs running on workers (s.runningJobs) itself.
 */
export async function runCompaction (s: DbState, c: Compaction, allowTrivialMove = true, stop: () => boolean = never): Promise<void> {
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
  const boundaries = s.compactionThreads.length > 1
    ? subcompactionBoundaries(c, subcompactionParts(inputBytes, s.compactionThreads.length, s.options.maxFileSize), (f, key) => s.tables.approximateOffsetOf(f, key))
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
    const results = await runJobs(s, jobs, stop)
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
 * Into how many parts to split a compaction of inputBytes over `threads` threads: none (1) below
 * MIN_SUBCOMPACTION_FILES output files of input; two per thread when each part still gets that much, so that
 * a thread slowed by flushes (they share the first) takes fewer parts; else one per thread.
 */
function subcompactionParts (inputBytes: number, threads: number, maxFileSize: number): number {
  const parts = Math.floor(inputBytes / (MIN_SUBCOMPACTION_FILES * maxFileSize))
  if (parts < 2) return 1
  return Math.min(parts, 2 * threads)
}

/**
 * Run a compaction's parts (disjoint key ranges, in key order): on the compaction threads, each taking the
 * next part when it is done with one, or one after another on the main thread; results in the parts' order.
 * The first part to fail stops the others and no further part starts; the failure (a real one before an
 * abort) is thrown once every running part has stopped.
 */
async function runJobs (s: DbState, jobs: CompactionJob[], stop: () => boolean): Promise<CompactionResult[]> {
  if (s.compactionThreads.length === 0) {
    const results: CompactionResult[] = []
    const closing = mainThreadHooks(s, true, true)
    const hooks = { ...closing, shouldAbort: () => closing.shouldAbort() || stop() }
    for (const job of jobs) results.push(await runCompactionJob(s.fs, job, hooks))
    return results
  }
  const results: Array<CompactionResult | undefined> = Array.from({ length: jobs.length }, () => undefined)
  const failures: Error[] = []
  const running = new Set<RunningJob<CompactionResult>>()
  let next = 0
  const lane = async (thread: BackgroundThread): Promise<void> => {
    while (next < jobs.length && failures.length === 0 && !s.closing && !stop()) {
      const part = next++
      const r = thread.compact(jobs[part])
      running.add(r)
      s.runningJobs.push(r)
      try {
        results[part] = await r.result
      } catch (err) {
        failures.push(err as Error)
        for (const other of running) other.abort()
      } finally {
        running.delete(r)
        s.runningJobs.splice(s.runningJobs.indexOf(r), 1)
      }
    }
  }
  await Promise.all(s.compactionThreads.slice(0, jobs.length).map(lane))
  if (failures.length > 0) throw failures.find((e) => !(e instanceof JobAborted)) ?? failures[0]
  // close() (or stop) came before every part ran: the parts left out make the whole compaction stop.
  if (results.some((r) => r === undefined)) throw new JobAborted()
  return results as CompactionResult[]
}
