import ModuleError from 'module-error'
import type { CompactionJob, CompactionResult } from '../compaction/job.js'
import type { FileMeta } from '../version/file-meta.js'
import type { TableLayout } from '../compaction/job.js'
import type { MemtableRun } from '../memtable/run-iterator.js'

/** A request to the background worker. `abort` is a shared flag the main thread sets to stop the job. */
export type WorkerRequest =
  | { id: number, type: 'flush', dir: string, number: number, run: MemtableRun, layout: TableLayout, abort: SharedArrayBuffer }
  | { id: number, type: 'compact', job: CompactionJob, abort: SharedArrayBuffer }

/** The worker's answer to request `id`. */
export type WorkerResponse =
  | { id: number, ok: true, result: FileMeta | null | CompactionResult }
  | { id: number, ok: false, error: SerializedError }

/** An error as plain data, so that its code, file and offset cross the thread boundary. */
export interface SerializedError {
  message: string
  code?: string
  file?: string
  offset?: number
  op?: string
  syscallCode?: string
  aborted?: boolean
}

/** Structured clone turns Buffers into plain Uint8Arrays: view them as Buffers again (no copy). */
function buf (u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength)
}

export function reviveMeta (m: FileMeta): FileMeta {
  return { ...m, smallest: buf(m.smallest), largest: buf(m.largest) }
}

export function reviveJob (j: CompactionJob): CompactionJob {
  return {
    ...j,
    inputs0: j.inputs0.map(reviveMeta),
    inputs1: j.inputs1.map(reviveMeta),
    grandparents: j.grandparents.map(reviveMeta),
    deeper: j.deeper.map((ranges) => ranges.map(([a, b]) => [buf(a), buf(b)] as [Buffer, Buffer])),
    start: j.start === null ? null : buf(j.start),
    end: j.end === null ? null : buf(j.end)
  }
}

export function serializeError (err: unknown): SerializedError {
  const e = err as Error & { code?: string, file?: string, offset?: number, op?: string, syscallCode?: string }
  return {
    message: e?.message ?? String(err),
    code: typeof e?.code === 'string' ? e.code : undefined,
    file: e?.file,
    offset: e?.offset,
    op: e?.op,
    syscallCode: e?.syscallCode,
    aborted: e?.constructor?.name === 'JobAborted'
  }
}

export function reviveError (s: SerializedError): Error {
  const err = new ModuleError(s.message, { code: s.code }) as ModuleError & Record<string, unknown>
  if (s.file !== undefined) err.file = s.file
  if (s.offset !== undefined) err.offset = s.offset
  if (s.op !== undefined) err.op = s.op
  if (s.syscallCode !== undefined) err.syscallCode = s.syscallCode
  return err
}
