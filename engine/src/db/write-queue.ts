import { join } from 'node:path'
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { WritableFile } from '../fs/file-system.js'
import { Memtable } from '../memtable/memtable.js'
import { encodeBatch } from '../wal/batch.js'
import { logFileName } from '../version/file-meta.js'
import { KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE } from '../keys.js'
import { type RangeTombstone, encodeTombstoneEnd } from '../range-tombstone.js'
import { asIoError, notOpen, readOnly } from '../errors.js'
import type { DbState } from './state.js'
import type { BackgroundWork } from './background.js'
import { WriteThrottle } from './write-throttle.js'

/**
 * One write: a put, a point delete, or a range delete (key = start, end = null: to the last key). A key given as a string must be ASCII: its bytes are its characters, and it is already the
 * latin1 form the memtable keys by (no Buffer per key on the write path). A string value is written as UTF-8.
 */
export type WriteOp =
  | { kind: typeof KIND_VALUE, key: Buffer | string, value: Buffer | string }
  | { kind: typeof KIND_DELETE, key: Buffer | string }
  | { kind: typeof KIND_RANGE_DELETE, key: Buffer, end: Buffer | null }

/** Whether ops hold a range deletion (which the log record carries in another shape). */
function hasRangeDelete (ops: WriteOp[]): boolean {
  for (let i = 0; i < ops.length; i++) if (ops[i].kind === KIND_RANGE_DELETE) return true
  return false
}

/** What write() returns to a writer whose record is already in the log when it returns. */
const RESOLVED: Promise<void> = Promise.resolve()

interface PendingWrite {
  ops: WriteOp[]
  sync: boolean
  resolve: () => void
  reject: (err: Error) => void
}

/** A write group is capped so that one group's log record stays a bounded allocation. */
const MAX_GROUP_BYTES = 4 * 1024 * 1024

/** Longest single sleep of a throttled writer (ms): it looks again after, as the rate or the debt may have changed. */
const MAX_THROTTLE_SLEEP_MS = 100

/**
 * The write path: writers queue, and those that arrive together go as one group (group commit): one log
 * record, one fsync when any asked for sync, then the group's ops go into the memtable. Before a group it
 * makes room: switches to a new memtable when the current one is full, and slows or stalls writers while
 * level 0 or the frozen memtables are at their limits.
 */
export class WriteQueue {
  readonly #s: DbState
  readonly #background: BackgroundWork
  readonly #queue: PendingWrite[] = []
  #writing = false
  readonly #throttle: WriteThrottle
  /** Bytes of every record written to the commit logs since open: what the throttle charges writers for. */
  #loggedBytes = 0

  constructor (s: DbState, background: BackgroundWork) {
    this.#s = s
    this.#background = background
    this.#throttle = new WriteThrottle(s.options)
  }

  /** Whether writes are queued or a group is being written (close() waits for them). */
  get busy (): boolean { return this.#writing || this.#queue.length > 0 }

  /**
   * Apply ops atomically. Resolves once the group's log record reached the OS (survives a process crash),
   * or, with sync, once it was fsynced (survives power loss). Rejects with the sticky background error if
   * the engine can no longer write.
   */
  write (ops: WriteOp[], sync: boolean): Promise<void> {
    if (this.#s.closed || this.#s.closing) return Promise.reject(notOpen())
    if (this.#s.options.readOnly) return Promise.reject(readOnly(this.#s.dir))
    if (this.#s.bgError !== null) return Promise.reject(this.#s.bgError)
    if (!sync && this.#mayWriteAtOnce() && !hasRangeDelete(ops)) {
      // Nothing is queued or being written, and the memtable has room: this writer is a group of its own, so
      // its record goes to the log now, with no queue entry, microtask hop or promise of its own. Writers that
      // come after it in the same run of microtasks (while #burst holds) queue as before and share a group.
      try {
        this.#logAndApply(ops, ops, false)
      } catch (err) {
        return Promise.reject(err)
      }
      this.#burst = true
      // A reaction on a settled promise is a microtask without queueMicrotask()'s async-hooks resource.
      void RESOLVED.then(this.#endBurst)
      return RESOLVED
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ ops, sync, resolve, reject })
      if (!this.#writing) {
        this.#writing = true
        // Writers that arrive in the same tick join one group: one log write (and one fsync) for all.
        queueMicrotask(() => { void this.#drainWrites() })
      }
    })
  }

  /**
   * Set by a writer that went straight to the log (see write()), until the microtasks queued so far have run:
   * writers arriving meanwhile were most likely released together (a group's callers issuing their next
   * writes), and queue to share one group instead of one log write each.
   */
  #burst = false
  readonly #endBurst = (): void => { this.#burst = false }

  /** Whether a writer may skip the queue: nothing ahead of it, no room to make, no event-loop turn due. */
  #mayWriteAtOnce (): boolean {
    if (this.#writing || this.#burst || this.#queue.length > 0 || this.#needsRoom()) return false
    // #drainWrites lets the event loop turn while background work runs; so must a writer that skips it.
    return !this.#turnDue()
  }

  /** Whether writers owe the event loop a turn: background work runs and the last turn is 1 ms old. */
  #turnDue (): boolean {
    return (this.#s.flushRunning || this.#s.bgRunning) && performance.now() - this.#turnedAt >= 1
  }

  async #drainWrites (): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        // A caller that awaits one write after another never lets the event loop turn (each write resolves in
        // microtasks), so the background's messages (a flush or compaction done, the next one to start) would
        // wait until writers stall. While background work runs, let the loop turn once a millisecond.
        if (this.#turnDue()) {
          await yieldToEventLoop()
          this.#turnedAt = performance.now()
        }
        if (this.#s.bgError !== null) {
          for (const w of this.#queue.splice(0)) w.reject(this.#s.bgError)
          break
        }
        // Most groups find room at once: no promise for that.
        if (this.#needsRoom()) {
          try {
            await this.#makeRoomForWrite()
          } catch (err) {
            for (const w of this.#queue.splice(0)) w.reject(err as Error)
            break
          }
        }
        const group = this.#takeGroup()
        try {
          const synced = this.#writeGroup(group)
          if (synced !== undefined) await synced
          for (const w of group) w.resolve()
        } catch (err) {
          for (const w of group) w.reject(err as Error)
        }
      }
    } finally {
      this.#writing = false
      if (this.#queue.length > 0 && !this.#s.closed) {
        this.#writing = true
        queueMicrotask(() => { void this.#drainWrites() })
      }
    }
  }

  /** When #drainWrites last let the event loop turn (performance.now()). */
  #turnedAt = 0

  #takeGroup (): PendingWrite[] {
    let bytes = 0
    let n = 0
    while (n < this.#queue.length && (n === 0 || bytes < MAX_GROUP_BYTES)) {
      // String values count their UTF-16 length: an estimate is all a group's bound needs.
      for (const op of this.#queue[n].ops) bytes += op.key.length + (op.kind === KIND_VALUE ? op.value.length : 0) + 16
      n++
    }
    return this.#queue.splice(0, n)
  }

  /**
   * Writes a group's record to the log and applies it to the memtable. Synchronous unless the group asked for
   * sync: then it returns a promise of the fsync (the memtable is updated after it). Throws (or rejects) if
   * the log could not take the record.
   */
  #writeGroup (group: PendingWrite[]): Promise<void> | undefined {
    let ops: WriteOp[]
    let batchOps: Array<{ kind: number, key: Buffer | string, value?: Buffer | string }>
    let sync = false
    if (group.length === 1 && !hasRangeDelete(group[0].ops)) {
      // The common case (one writer, puts and deletes): its ops are the batch as they are.
      ops = batchOps = group[0].ops
      sync = group[0].sync
    } else {
      ops = []
      batchOps = []
      for (const w of group) {
        if (w.sync) sync = true
        for (const op of w.ops) {
          ops.push(op)
          if (op.kind === KIND_VALUE) batchOps.push(op)
          else if (op.kind === KIND_DELETE) batchOps.push({ kind: KIND_DELETE, key: op.key })
          else batchOps.push({ kind: KIND_RANGE_DELETE, key: op.key, value: encodeTombstoneEnd(op.end) })
        }
      }
    }
    return this.#logAndApply(ops, batchOps, sync)
  }

  /**
   * The log-and-memtable half of #writeGroup for a group's ops and their batch form (the same array when no
   * op is a range delete). Synchronous unless sync; throws (or rejects) if the log could not take the record.
   */
  #logAndApply (ops: WriteOp[], batchOps: Array<{ kind: number, key: Buffer | string, value?: Buffer | string }>, sync: boolean): Promise<void> | undefined {
    if (ops.length === 0) return undefined
    const seq = this.#s.versions.lastSequence + 1
    const slices = this.#slices
    // The record is encoded into the memtable's arena: its entries' keys and values are the record's bytes.
    const record = encodeBatch(seq, batchOps as Parameters<typeof encodeBatch>[1], slices, this.#s.mem)
    const log = this.#s.log!
    try {
      this.#s.logWriter!.addRecord(record)
      this.#loggedBytes += record.length
      if (sync) return this.#syncThenApply(log, seq, ops)
      log.flush()
    } catch (err) {
      throw this.#logFailed(err, log, sync)
    }
    this.#applyGroup(seq, ops)
    return undefined
  }

  /** The rest of a sync group's #writeGroup: fsync the log (after any barrier), then apply the group. */
  async #syncThenApply (log: WritableFile, seq: number, ops: WriteOp[]): Promise<void> {
    try {
      if (this.#s.logBarrier !== null) {
        const barrier = this.#s.logBarrier
        await barrier
        if (this.#s.logBarrier === barrier) this.#s.logBarrier = null
      }
      await log.sync()
    } catch (err) {
      throw this.#logFailed(err, log, true)
    }
    this.#applyGroup(seq, ops)
  }

  /** The log may now hold a partial record; nothing after it could be trusted, so writing stops. */
  #logFailed (err: unknown, log: WritableFile, sync: boolean): Error {
    const e = asIoError(err, { file: log.path, op: sync ? 'sync commit log' : 'write commit log' })
    this.#s.setBackgroundError(e)
    return e
  }

  /** A group whose record is in the log: its sequence numbers taken, its ops in the memtable (see #slices). */
  #applyGroup (seq: number, ops: WriteOp[]): void {
    const mem = this.#s.mem
    const slices = this.#slices
    // Sequence numbers are taken only after the record is in the log, so a failed write leaves no gap.
    this.#s.versions.lastSequence = seq + ops.length - 1
    if (hasRangeDelete(ops)) {
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i]
        if (op.kind !== KIND_RANGE_DELETE) continue
        const t: RangeTombstone = { seq: seq + i, start: op.key, end: op.end }
        mem.addRangeTombstone(t)
        this.#s.tombstones.push(t)
        // Flush soon, so the background retires the tombstone and drops the data it hides.
        this.#s.flushRequested = true
      }
    }
    // Nothing reads the memtable between these calls and visibleSeq's update: the group appears at once.
    mem.addBatch(seq, ops, slices)
    if (slices.length > 16384) this.#slices = []
    this.#s.visibleSeq = seq + ops.length - 1
  }

  /** Scratch of #writeGroup: where each op's key and value sit in the memtable's arena (see encodeBatch). */
  #slices: number[] = []

  /** Whether #makeRoomForWrite has anything to do before the next group (else the group may go at once). */
  #needsRoom (): boolean {
    if (this.#s.bgError !== null) return true
    if (this.#s.versions.current.levels[0].length >= this.#s.options.level0SlowdownTrigger) return true
    if (this.#throttleDelay() > 0) return true
    return this.#memtableFull()
  }

  /** Milliseconds the next group owes the compaction-debt throttle (0 while closing: compaction no longer runs). */
  #throttleDelay (): number {
    if (this.#s.closing) return 0
    return this.#throttle.delayMs(this.#s.versions.current, this.#loggedBytes, performance.now())
  }

  /** Whether the memtable must be switched before the next group: full, or a flush was asked for. */
  #memtableFull (): boolean {
    return this.#s.mem.approximateBytes >= this.#s.options.writeBufferSize || (this.#s.flushRequested && !this.#s.mem.isEmpty)
  }

  /**
   * Before a group: switch to a new memtable when the current one is full (waiting if the previous one
   * is still being flushed), and slow down or stop while level 0 has too many files.
   */
  async #makeRoomForWrite (): Promise<void> {
    let slowed = false
    for (;;) {
      if (this.#s.bgError !== null) throw this.#s.bgError
      const delay = this.#throttleDelay()
      if (delay > 0) {
        const t0 = performance.now()
        await new Promise((resolve) => setTimeout(resolve, Math.min(delay, MAX_THROTTLE_SLEEP_MS)))
        this.#s.stats.writeDelayMs += performance.now() - t0
        continue
      }
      const l0 = this.#s.versions.current.levels[0].length
      if (!slowed && l0 >= this.#s.options.level0SlowdownTrigger && l0 < this.#s.options.level0StopTrigger) {
        // Delay each group a little rather than stop all writers for seconds at the stop trigger.
        slowed = true
        this.#s.stats.slowdowns++
        await new Promise((resolve) => setTimeout(resolve, 1))
        continue
      }
      const full = this.#memtableFull()
      if (!full) return
      // While closing, compaction no longer runs: waiting on level 0 would never end (the log holds the data).
      if (this.#s.imms.length >= this.#s.options.maxImmutableMemtables || (l0 >= this.#s.options.level0StopTrigger && !this.#s.closing)) {
        const t0 = Date.now()
        await this.#background.waitForProgress()
        this.#s.stats.writeStallsMs += Date.now() - t0
        continue
      }
      await this.#switchMemtable()
      return
    }
  }

  /** Freeze the memtable and start a new commit log; the frozen one is flushed in the background. */
  async #switchMemtable (): Promise<void> {
    this.#s.flushRequested = false
    const old = this.#s.log!
    const number = this.#s.versions.newFileNumber()
    try {
      this.#s.openLog(number)
    } catch (err) {
      const e = asIoError(err, { file: join(this.#s.dir, logFileName(number)), op: 'create commit log' })
      this.#s.setBackgroundError(e)
      throw e
    }
    // Earlier writes must be as durable as later synced ones, and the new log's directory entry must be
    // durable: both are started now and awaited only by the first synced write to the new log, so that
    // unsynced writers never wait for an fsync at a memtable switch.
    const previous = this.#s.logBarrier
    const barrier = Promise.all([
      previous,
      old.sync().finally(() => { try { old.close() } catch {} }),
      this.#s.fs.syncDir(this.#s.dir)
    ]).then(() => {}, (err: unknown) => {
      const e = asIoError(err, { file: old.path, op: 'sync commit log' })
      this.#s.setBackgroundError(e)
      throw e
    })
    barrier.catch(() => {})
    this.#s.logBarrier = barrier
    this.#s.imms.push({ mem: this.#s.mem, logNumber: this.#s.logNumber })
    this.#s.logNumber = number
    this.#s.mem = new Memtable(this.#s.arenas)
    this.#background.schedule()
  }
}
