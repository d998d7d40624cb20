import type { FileMeta } from '../version/file-meta.js'
import type { VersionEdit } from '../version/version-edit.js'
import { pickCompaction } from '../compaction/pick.js'
import { JobAborted, tableLayout } from '../compaction/job.js'
import { runCompaction } from '../compaction/run.js'
import { runManualCompaction } from '../compaction/manual.js'
import { idlePassDue, pickIdleCompaction } from '../compaction/idle.js'
import type { Compaction } from '../compaction/pick.js'
import { pickLevelForFlush, pickLevelForRange } from '../compaction/flush-placement.js'
import { retirableTombstone, retireTombstone } from '../compaction/tombstone-retirement.js'
import type { DbState } from './state.js'
import type { Memtable } from '../memtable/memtable.js'
import { userKeyOf } from '../keys.js'
import { buildTable } from './table-output.js'
import { deleteObsoleteFiles } from './obsolete-files.js'

/** How often a running idle compaction looks for a write (or a manual compaction) that stops it. */
const IDLE_STOP_POLL_MS = 5

/**
 * The background work of one database: flushing frozen memtables, and the compaction loop (compactions,
 * tombstone retirement, manual compactions, idle passes). What to do is the compaction/ folder's policy; this
 * decides when, and keeps at most one flush and one compaction running.
 */
export class BackgroundWork {
  readonly #s: DbState
  /** Armed while nothing runs and an idle pass is due: fires after idleCompactionDelayMs. */
  #idleTimer: NodeJS.Timeout | null = null
  /** The visible sequence when the timer was armed: another one when it fires means writes went on. */
  #idleSeq = -1

  constructor (s: DbState) {
    this.#s = s
  }

  /**
   * Start what background work is due. Flushing the frozen memtable runs on its own, beside any compaction
   * (writers may be waiting for it); compactions, tombstone retirement and manual compactions run one at a
   * time in the compaction loop.
   */
  schedule (): void {
    const s = this.#s
    if (s.closed || s.bgError !== null || s.options.readOnly) {
      s.wakeIdle()
      return
    }
    if (s.imms.length > 0 && !s.flushRunning) {
      s.flushRunning = true
      setImmediate(() => { void this.#flushLoop() })
    }
    if (!s.bgRunning && this.#hasCompactionWork()) {
      s.bgRunning = true
      setImmediate(() => { void this.#compactionLoop() })
    }
    if (!s.bgRunning && !s.flushRunning) {
      // Nothing runs, so no idle pass does: one that found nothing to do (or a write first) is over.
      s.idlePass = false
      this.#armIdleTimer()
      s.wakeIdle()
    }
  }

  /** Stops waiting for writes to pause (at close): no idle pass starts after this. */
  cancelIdle (): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
    this.#s.idlePass = false
  }

  /** Start the wait for writes to pause, if an idle pass would have work (compaction/idle.ts). */
  #armIdleTimer (): void {
    const s = this.#s
    const delay = s.options.idleCompactionDelayMs
    if (delay === 0 || this.#idleTimer !== null || s.idlePass || s.closing) return
    if (!idlePassDue(s.versions.current)) return
    this.#idleSeq = s.visibleSeq
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null
      if (s.closing) return
      // Writes went on: wait a whole delay again from now.
      if (s.visibleSeq !== this.#idleSeq) return this.#armIdleTimer()
      // Background work runs: when it ends, schedule() arms the timer again.
      if (s.bgRunning || s.flushRunning) return
      s.idlePass = true
      this.schedule()
    }, delay)
    this.#idleTimer.unref()
  }

  /** Resolves when no background work is running or pending. */
  waitForIdle (): Promise<void> {
    const s = this.#s
    if (!s.bgRunning && !s.flushRunning && (s.bgError !== null || !this.#hasBackgroundWork())) return Promise.resolve()
    return new Promise((resolve) => {
      s.idleWaiters.push({ resolve })
      this.schedule()
    })
  }

  /** Resolves once background work settled something (a flush or compaction done) or failed. */
  waitForProgress (): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#s.stalled.push({ resolve })
      this.schedule()
    })
  }

  #hasBackgroundWork (): boolean {
    return this.#s.imms.length > 0 || this.#hasCompactionWork()
  }

  #hasCompactionWork (): boolean {
    const s = this.#s
    if (s.closing) return false
    return s.manualCompactions.length > 0 ||
      retirableTombstone(s) !== undefined ||
      pickCompaction(s.versions.current, s.options, s.versions.compactPointers) !== null ||
      (s.idlePass && this.#nextIdleCompaction() !== null)
  }

  /** The next compaction of the idle pass under way, or null when it is done or a write came. */
  #nextIdleCompaction (): Compaction | null {
    const s = this.#s
    if (s.visibleSeq !== this.#idleSeq) return null
    return pickIdleCompaction(s.versions.current, s.versions.compactPointers, s.options.maxFileSize)
  }

  /**
   * Run one compaction of the idle pass; a write or a queued manual compaction aborts it (its outputs are
   * deleted, nothing recorded) and ends the pass. close() aborts it as any compaction.
   */
  async #runIdleCompaction (c: Compaction): Promise<void> {
    const s = this.#s
    const seq = this.#idleSeq
    const stop = (): boolean => s.visibleSeq !== seq || s.manualCompactions.length > 0
    // Jobs on the workers are stopped from here; one on the main thread asks stop() between slices.
    const watch = setInterval(() => { if (stop()) for (const job of s.runningJobs) job.abort() }, IDLE_STOP_POLL_MS)
    watch.unref()
    try {
      await runCompaction(s, c, true, stop)
      s.stats.idleCompactions++
    } catch (err) {
      if (!(err instanceof JobAborted) || s.closing) throw err
      s.idlePass = false
    } finally {
      clearInterval(watch)
    }
  }

  async #flushLoop (): Promise<void> {
    const s = this.#s
    try {
      while (s.imms.length > 0 && s.bgError === null) await this.#flushOldest()
    } catch (err) {
      s.setBackgroundError(err as Error)
    } finally {
      s.flushRunning = false
      this.#loopEnded()
    }
  }

  async #compactionLoop (): Promise<void> {
    const s = this.#s
    try {
      for (;;) {
        if (s.closing || s.bgError !== null) break
        const t = retirableTombstone(s)
        if (t !== undefined) {
          await retireTombstone(s, t)
          continue
        }
        if (s.manualCompactions.length > 0) {
          await runManualCompaction(s)
          continue
        }
        const c = pickCompaction(s.versions.current, s.options, s.versions.compactPointers)
        if (c !== null) {
          await runCompaction(s, c)
          continue
        }
        if (s.idlePass) {
          const idle = this.#nextIdleCompaction()
          if (idle !== null) {
            await this.#runIdleCompaction(idle)
            continue
          }
          s.idlePass = false
        }
        break
      }
    } catch (err) {
      // A job stopped because the database is closing is no failure.
      if (!(err instanceof JobAborted)) s.setBackgroundError(err as Error)
    } finally {
      s.bgRunning = false
      this.#loopEnded()
    }
  }

  /** A loop stopped: stalled writers look again for room, and whatever is due next starts. */
  #loopEnded (): void {
    this.#s.wakeStalled()
    this.schedule()
  }

  /** Flush the oldest frozen memtable to a table, placed by pickLevelForFlush. */
  async #flushOldest (): Promise<void> {
    const s = this.#s
    const imm = s.imms[0].mem
    const started = performance.now()
    // The codec is that of the level the table would be placed at now: a table pushed below level 0 is
    // moved later, never rewritten, so it must not keep level 0's (by default none) codec.
    const predicted = predictedFlushLevel(s, imm)
    const layout = tableLayout(s.options, predicted)
    let meta: FileMeta | null
    if (s.flushThread !== null) {
      const number = s.versions.newFileNumber()
      s.pendingOutputs.add(number)
      try {
        // The worker reads the frozen memtable's arena where it lies; imm stays referenced until it is done.
        meta = await s.flushThread.flush(s.dir, number, imm.run(), layout)
        if (meta !== null) {
          await s.syncDir()
          s.stats.bytesFlushed += meta.size
        }
      } catch (err) {
        s.pendingOutputs.delete(number)
        throw err
      }
    } else {
      meta = await buildTable(s, imm.flushIterator(), true, predicted)
    }
    // Logs older than the next frozen memtable's (or the current one's) are no longer needed.
    const edit: VersionEdit = { logNumber: s.imms[1]?.logNumber ?? s.logNumber }
    const level = meta !== null ? pickLevelForFlush(s, meta, layout.compression) : 0
    if (meta !== null) edit.newFiles = [{ level, file: meta }]
    if (imm.rangeTombstones.length > 0) edit.addedTombstones = [...imm.rangeTombstones]
    try {
      await s.versions.logAndApply(edit)
    } finally {
      if (meta !== null) s.pendingOutputs.delete(meta.number)
    }
    s.imms.shift()
    imm.unref()
    s.stats.flushes++
    s.levelStats[level].add(performance.now() - started, 0, meta?.size ?? 0)
    s.wakeStalled()
    deleteObsoleteFiles(s)
  }
}

/** The level a flush of mem would place its table at now (0 for an empty memtable): see pickLevelForRange. */
function predictedFlushLevel (s: DbState, mem: Memtable): number {
  const it = mem.iterator()
  try {
    it.seekToFirst()
    if (!it.valid()) return 0
    // A copy: the cursor may reuse its key buffer when it moves.
    const start = Buffer.from(userKeyOf(it.key()))
    it.seekToLast()
    return pickLevelForRange(s, start, userKeyOf(it.key()))
  } finally {
    it.close()
  }
}
