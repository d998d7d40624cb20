import { join } from 'node:path'
import ModuleError from 'module-error'
import { Memtable } from '../memtable/memtable.js'
import { readLog } from '../wal/log-reader.js'
import { decodeBatch, type DecodedBatch } from '../wal/batch.js'
import type { VersionEdit } from '../version/version-edit.js'
import { logFileName, parseFileName } from '../version/file-meta.js'
import { KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE } from '../keys.js'
import { decodeTombstoneEnd } from '../range-tombstone.js'
import { corruption, asIoError, databaseExists, databaseNotFound, invalidArgument, locked as lockedError } from '../errors.js'
import type { DbState } from './state.js'
import type { BackgroundWork } from './background.js'
import { buildTable } from './table-output.js'
import { deleteObsoleteFiles } from './obsolete-files.js'

const EMPTY = Buffer.alloc(0)

/**
 * Open (creating if allowed) the database in s.dir: take the lock, replay the MANIFEST and every commit log
 * newer than it into level-0 tables, start a new commit log, and start due background work. On failure
 * everything taken is released.
 */
export async function openDatabase (s: DbState, background: BackgroundWork, createIfMissing: boolean, errorIfExists: boolean): Promise<void> {
const fs = s.fs
  try {
    if (fs.exists(s.dir)) {
      if (!fs.stat(s.dir).isDirectory) {
        throw invalidArgument(`${s.dir} exists and is not a directory`)
      }
    } else if (createIfMissing) {
      fs.mkdirp(s.dir)
    } else {
      throw databaseNotFound(s.dir)
    }
  } catch (err) {
    if (err instanceof ModuleError) throw err
    throw asIoError(err, { file: s.dir, op: 'create database directory' })
  }
  try {
    s.lock = fs.lock(join(s.dir, 'LOCK'))
  } catch (err) {
    if ((err as ModuleError).code === 'LEVEL_LOCKED') throw err
    // The OS refused the LOCK file itself (permissions, a read-only or full disk): not another holder.
    if (typeof (err as NodeJS.ErrnoException).code === 'string') throw asIoError(err, { file: join(s.dir, 'LOCK'), op: 'take the lock' })
    throw lockedError(s.dir, (err as Error).message)
  }
  try {
    const exists = s.versions.recover()
    if (exists && errorIfExists) {
      throw databaseExists(s.dir)
    }
    if (!exists && !createIfMissing) {
      throw databaseNotFound(s.dir)
    }
    s.tombstones = [...s.versions.current.rangeTombstones]
    const edit: VersionEdit = {}
    await replayLogs(s, edit)
    if (s.options.readOnly) {
      // Nothing is written: the logs' contents stay in memory, no new log or MANIFEST, no compaction.
      s.visibleSeq = s.versions.lastSequence
      return
    }
    s.logNumber = s.versions.newFileNumber()
    s.openLog(s.logNumber)
    await s.syncDir()
    edit.logNumber = s.logNumber
    try {
      await s.versions.logAndApply(edit)
    } finally {
      // The tables the logs were written to are in a version now (or the open failed): no longer pending, or
      // they would be kept on disk for the database's life once compaction replaced them.
      for (const { file } of edit.newFiles ?? []) s.pendingOutputs.delete(file.number)
    }
    s.visibleSeq = s.versions.lastSequence
    deleteObsoleteFiles(s)
    background.schedule()
  } catch (err) {
    s.releaseResources()
    // A file-system call that failed without a LEVEL_* wrapping (listing or reading the directory).
    const code = (err as NodeJS.ErrnoException).code
    throw typeof code === 'string' && !code.startsWith('LEVEL_') ? asIoError(err, { file: s.dir, op: 'open database' }) : err
  }
}

/** Replay commit logs the MANIFEST does not cover, writing what they hold into level-0 tables. */
async function replayLogs (s: DbState, edit: VersionEdit): Promise<void> {
const fs = s.fs
  const logs: number[] = []
  for (const name of fs.readdir(s.dir)) {
    const p = parseFileName(name)
    if (p === undefined) continue
    s.versions.markFileNumberUsed(p.number)
    if (p.kind === 'log' && p.number >= s.versions.logNumber) logs.push(p.number)
  }
  logs.sort((a, b) => a - b)
  let mem = new Memtable()
  let maxSeq = s.versions.lastSequence
  const slices: number[] = []
  // Writes are logged in sequence order without gaps, so the replay can tell where the surviving history
  // ends: at a torn tail, or where the next record's sequence does not follow. An older log can lose its
  // tail only to a power loss that hit before its fsync (started at the memtable switch) finished; writes in
  // later logs were then unsynced too (a synced write waits for that fsync), so they are dropped with it,
  // and what remains is a prefix of the history. In absolute-consistency mode any damage is an error.
  const absolute = s.options.walRecoveryMode === 'absolute-consistency'
  let nextSeq = -1
  let ended = false
  for (let i = 0; i < logs.length && !ended; i++) {
    const path = join(s.dir, logFileName(logs[i]))
    // A memtable switch never leaves a log empty (the memtable had writes): an empty log before one with data
    // lost every write it held to a power loss, and the history ends there as at a torn tail.
    if (fs.stat(path).size === 0 && logs.slice(i + 1).some((n) => fs.stat(join(s.dir, logFileName(n))).size > 0)) {
      if (absolute) throw corruption('empty commit log before one with data: its writes were lost', { file: path, offset: 0 })
      break
    }
    // An older log's tail is torn only by a power loss during its fsync (the file cut short or zero-filled); a
    // complete last record with a bad checksum there is damage, and skipping it would drop the newer logs' writes,
    // synced ones included.
    const newest = logs.slice(i + 1).every((n) => fs.stat(join(s.dir, logFileName(n))).size === 0)
    const file = fs.openReadable(path)
    try {
      const records = readLog(file, { mode: absolute ? 'absolute-consistency' : newest ? 'tolerate-corrupted-tail' : 'tolerate-truncated-tail', fileName: path })
      for (;;) {
        const step = records.next()
        if (step.done === true) {
          if (step.value.droppedBytes > 0) ended = true
          break
        }
        const rec = step.value
        const batch = decodeBatch(rec.data, path, rec.offset)
        if (nextSeq !== -1 && batch.seq !== nextSeq) {
          if (absolute) throw corruption(`sequence ${batch.seq} follows ${nextSeq - 1}: an earlier log lost its tail`, { file: path, offset: rec.offset })
          ended = true
          break
        }
        applyRecord(mem, batch, rec.data, slices, path, rec.offset)
        const seq = batch.seq + batch.ops.length
        nextSeq = seq
        if (seq - 1 > maxSeq) maxSeq = seq - 1
        if (mem.approximateBytes >= s.options.writeBufferSize) {
          if (s.options.readOnly) s.imms.push({ mem, logNumber: logs[i] })
          else await writeLevel0(s, mem, edit)
          mem = new Memtable()
        }
      }
    } finally {
      file.close()
    }
  }
  if (s.options.readOnly) {
    s.mem = mem
    for (const m of [mem, ...s.imms.map((i) => i.mem)]) s.tombstones.push(...m.rangeTombstones)
    s.tombstones.sort((a, b) => a.seq - b.seq)
  } else if (!mem.isEmpty) {
    await writeLevel0(s, mem, edit)
  }
  s.versions.lastSequence = maxSeq
  edit.lastSequence = maxSeq
}

/**
 * Apply one log record (the batch decoded from `record`) to the memtable as the write path does: the record's
 * bytes copied into the memtable's arena in one piece, its entries keyed and valued where they lie there,
 * and linked in one addBatch() (sorted, each found from the one before) rather than one search each.
 */
function applyRecord (mem: Memtable, batch: DecodedBatch, record: Buffer, slices: number[], file: string, offset: number): void {
  const ops = batch.ops
  const at = mem.reserve(record.length)
  record.copy(mem.data, at)
  // Entry i's key and value are views into record: the same bytes lie at the same distance from `at`.
  const shift = at - record.byteOffset
  let seq = batch.seq
  for (let i = 0; i < ops.length; i++, seq++) {
    const op = ops[i]
    if (op.kind === KIND_RANGE_DELETE) {
      const end = decodeTombstoneEnd(op.value ?? EMPTY)
      if (end === undefined) throw corruption('malformed range delete', { file, offset })
      mem.addRangeTombstone({ seq, start: Buffer.from(op.key), end })
    } else if (op.kind !== KIND_VALUE && op.kind !== KIND_DELETE) {
      throw corruption(`unknown entry kind ${op.kind as number}`, { file, offset })
    }
    slices[4 * i] = op.key.byteOffset + shift
    slices[4 * i + 1] = op.key.length
    slices[4 * i + 2] = op.value === undefined ? 0 : op.value.byteOffset + shift
    slices[4 * i + 3] = op.value === undefined ? 0 : op.value.length
  }
  mem.addBatch(batch.seq, ops, slices)
}

/** Write a recovered memtable to a level-0 table and record it in the edit (at open, before serving). */
async function writeLevel0 (s: DbState, mem: Memtable, edit: VersionEdit): Promise<void> {
  const meta = await buildTable(s, mem.flushIterator(), false)
  if (meta !== null) (edit.newFiles ??= []).push({ level: 0, file: meta })
  if (mem.rangeTombstones.length > 0) {
    (edit.addedTombstones ??= []).push(...mem.rangeTombstones)
    s.tombstones.push(...mem.rangeTombstones)
    s.tombstones.sort((a, b) => a.seq - b.seq)
  }
}
