import { Worker } from 'node:worker_threads'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { CompactionJob, CompactionResult, TableLayout } from '../compaction/job.js'
import { JobAborted } from '../compaction/job.js'
import type { FileMeta } from '../version/file-meta.js'
import type { MemtableRun } from '../memtable/run-iterator.js'
import { reviveError, reviveMeta, type WorkerRequest, type WorkerResponse } from './protocol.js'

/** The worker script beside this module; absent when the engine runs from TypeScript sources (tests). */
const WORKER_URL = new URL('./worker.js', import.meta.url)

/** Whether flushes and compactions can run on a worker thread here. */
export function backgroundThreadAvailable (): boolean {
  return WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL))
}

interface Pending { resolve: (v: unknown) => void, reject: (e: Error) => void }

/** A job sent to a worker: its result, and a way to ask it to stop at its next slice. */
export interface RunningJob<T> {
  result: Promise<T>
  abort: () => void
}

/**
 * The main thread's handle on one background worker, shared by every database of the process (a worker
 * costs tens of milliseconds to start): started on first use, ref'd only while it has jobs, so it never
 * keeps a process alive.
 */
export class BackgroundThread {
  #worker: Worker | null = null
  readonly #pending = new Map<number, Pending>()
  #nextId = 1

  #start (): Worker {
    if (this.#worker !== null) return this.#worker
    // A small young generation: the worker's garbage is short-lived buffers and cursors, and V8's default
    // (tens of MiB per isolate) costs resident memory for no speed.
    const w = new Worker(WORKER_URL, { resourceLimits: { maxYoungGenerationSizeMb: 4 } })
    w.on('message', (msg: WorkerResponse) => {
      const p = this.#pending.get(msg.id)
      if (p === undefined) return
      this.#pending.delete(msg.id)
      if (this.#pending.size === 0) w.unref()
      if (msg.ok) p.resolve(msg.result)
      else p.reject(msg.error.aborted === true ? new JobAborted() : reviveError(msg.error))
    })
    // A dead worker fails only the jobs it had; the next job starts a new one.
    const fail = (err: Error): void => {
      if (this.#worker !== w) return
      this.#worker = null
      for (const p of this.#pending.values()) p.reject(err)
      this.#pending.clear()
    }
    w.on('error', fail)
    w.on('exit', (code) => fail(new Error(`background worker exited with code ${code}`)))
    w.unref()
    this.#worker = w
    return w
  }

  #send<T> (req: Omit<WorkerRequest, 'id' | 'abort'>, transfer: ArrayBuffer[] = []): RunningJob<T> {
    const abort = new SharedArrayBuffer(4)
    const stop = (): void => { Atomics.store(new Int32Array(abort), 0, 1) }
    const w = this.#start()
    const id = this.#nextId++
    const result = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      w.ref()
      w.postMessage({ ...req, id, abort } as WorkerRequest, transfer)
    })
    return { result, abort: stop }
  }

  /**
   * Build a table from a frozen memtable's run (Memtable.run()). Its arrays are shared memory, read by the
   * worker where they lie: they must not change until this resolves.
   */
  async flush (dir: string, number: number, run: MemtableRun, layout: TableLayout): Promise<FileMeta | null> {
    const meta = await this.#send<FileMeta | null>({ type: 'flush', dir, number, run, layout } as Omit<WorkerRequest, 'id' | 'abort'>).result
    return meta === null ? null : reviveMeta(meta)
  }

  /** Run a compaction; abort() makes it stop early (its outputs are deleted). */
  compact (job: CompactionJob): RunningJob<CompactionResult> {
    const running = this.#send<CompactionResult>({ type: 'compact', job } as Omit<WorkerRequest, 'id' | 'abort'>)
    return {
      result: running.result.then((r) => ({ ...r, outputs: r.outputs.map(reviveMeta) })),
      abort: running.abort
    }
  }
}

let shared: { flush: BackgroundThread, compaction: BackgroundThread[] } | null = null

/**
 * The process's background workers: the first serves flushes and compactions alike; each further one runs
 * only the further key ranges of a compaction split into subcompactions, and starts on first such use.
 */
export function sharedBackgroundThreads (compactionThreads = 1): { flush: BackgroundThread, compaction: BackgroundThread[] } {
  // One worker serves both flushes and whole compactions: each thread costs tens of MiB of resident memory
  // (its heap and malloc arena), and the worker yields between slices, so a flush is never stuck behind a
  // whole compaction.
  if (shared === null) {
    const one = new BackgroundThread()
    shared = { flush: one, compaction: [one] }
  }
  while (shared.compaction.length < compactionThreads) shared.compaction.push(new BackgroundThread())
  return { flush: shared.flush, compaction: shared.compaction.slice(0, compactionThreads) }
}
