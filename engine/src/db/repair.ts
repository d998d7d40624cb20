import { join } from 'node:path'
import type { FileSystem, ReadableFile, WritableFile } from '../fs/file-system.js'
import { Table } from '../sstable/table.js'
import { TableBuilder } from '../sstable/table-builder.js'
import { readLog } from '../wal/log-reader.js'
import { decodeBatch } from '../wal/batch.js'
import { Memtable } from '../memtable/memtable.js'
import { VersionSet } from '../version/version-set.js'
import { decodeEdit, type VersionEdit } from '../version/version-edit.js'
import { type FileMeta, parseFileName, tableFileName } from '../version/file-meta.js'
import { KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, seqOf, kindOf, userKeyOf } from '../keys.js'
import { type RangeTombstone, decodeTombstoneEnd } from '../range-tombstone.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import { DEFAULTS } from '../options.js'

/** What LsmLevel.repair() kept and dropped. */
export interface RepairReport {
  /** Tables found intact and kept as they were. */
  tablesKept: number
  /** Tables with damaged data blocks, rewritten from the blocks still readable. */
  tablesRewritten: number
  /** Tables whose footer, index or properties were unreadable: moved to lost/ whole. */
  tablesLost: number
  /** Data blocks dropped from rewritten tables. */
  blocksDropped: number
  /** Commit-log records replayed into new tables, and records (or fragments) dropped as damaged. */
  logRecordsRecovered: number
  logRecordsDropped: number
  logBytesDropped: number
  /** Range tombstones carried into the new MANIFEST. */
  rangeTombstones: number
  /** Highest sequence number found. */
  lastSequence: number
  /** Number of live tables in the repaired database (all in level 0). */
  tables: number
  /** Human-readable notes, one per dropped thing, naming file and offset. */
  notes: string[]
}

/**
 * LevelDB's repairer: salvage everything still readable. Intact tables are kept; a table with damaged
 * data blocks is rewritten without them; a table whose index cannot be read is moved to lost/; every
 * commit log is replayed skipping damaged records; range tombstones are recovered from the logs and from
 * whatever of the old MANIFEST is readable. A fresh MANIFEST then lists every table in level 0 (compaction
 * sorts them out later) and CURRENT is switched to it. Files that were set aside are moved to lost/, not deleted.
 */
export async function repairDatabase (dir: string, fs: FileSystem): Promise<RepairReport> {
  const lock = fs.lock(join(dir, 'LOCK'))
  try {
    return await repairLocked(dir, fs)
  } finally {
    lock.release()
  }
}

async function repairLocked (dir: string, fs: FileSystem): Promise<RepairReport> {
  const report: RepairReport = {
    tablesKept: 0,
    tablesRewritten: 0,
    tablesLost: 0,
    blocksDropped: 0,
    logRecordsRecovered: 0,
    logRecordsDropped: 0,
    logBytesDropped: 0,
    rangeTombstones: 0,
    lastSequence: 0,
    tables: 0,
    notes: []
  }
  const names = fs.readdir(dir)
  const tables: number[] = []
  const logs: number[] = []
  const manifests: number[] = []
  let maxNumber = 1
  for (const name of names) {
    const p = parseFileName(name)
    if (p === undefined) continue
    maxNumber = Math.max(maxNumber, p.number)
    if (p.kind === 'table') tables.push(p.number)
    else if (p.kind === 'log') logs.push(p.number)
    else if (p.kind === 'manifest') manifests.push(p.number)
  }
  let nextNumber = maxNumber + 1
  const lostDir = join(dir, 'lost')
  const setAside = (name: string): void => {
    fs.mkdirp(lostDir)
    fs.rename(join(dir, name), join(lostDir, name))
  }
  const live: FileMeta[] = []
  const tombstones = new Map<number, RangeTombstone>()
  const bump = (seq: number): void => { if (seq > report.lastSequence) report.lastSequence = seq }

  // Range tombstones the old MANIFESTs ever held, and the tables they dropped. A retired tombstone is kept:
  // it hides only entries older than itself, and a table its retirement deleted may still be on disk (a crash
  // before the unlink). Likewise a table a MANIFEST dropped (its entries were compacted away, perhaps with
  // the deletions that hid them) is set aside rather than brought back.
  const dropped = new Set<number>()
  manifests.sort((a, b) => a - b)
  for (const number of manifests) {
    const path = join(dir, `MANIFEST-${String(number).padStart(6, '0')}`)
    let file: ReadableFile | null = null
    try {
      file = fs.openReadable(path)
      for (const rec of readLog(file, { mode: 'skip-any-corrupted', fileName: path })) {
        let e: VersionEdit
        try { e = decodeEdit(rec.data, path, rec.offset) } catch { continue }
        for (const t of e.addedTombstones ?? []) tombstones.set(t.seq, t)
        // Deletions first, as the version builder applies them: a file moved down a level is deleted and re-added.
        for (const d of e.deletedFiles ?? []) dropped.add(d.number)
        for (const f of e.newFiles ?? []) dropped.delete(f.file.number)
        if (e.lastSequence !== undefined) bump(e.lastSequence)
      }
    } catch (err) {
      report.notes.push(`${path}: unreadable (${(err as Error).message}); its range tombstones are lost`)
    } finally {
      file?.close()
    }
  }

  const writeTable = (source: InternalIterator): FileMeta | null => {
    const number = nextNumber++
    const path = join(dir, tableFileName(number))
    source.seekToFirst()
    if (!source.valid()) return null
    const out: WritableFile = fs.openWritable(path)
    try {
      const builder = new TableBuilder(out, {
        blockSize: DEFAULTS.blockSize,
        restartInterval: DEFAULTS.blockRestartInterval,
        bitsPerKey: DEFAULTS.bloomBitsPerKey,
        compression: DEFAULTS.compression[0],
        fileName: path
      })
      for (; source.valid(); source.next()) builder.add(source.key(), source.value())
      const props = builder.finish()
      out.syncSync()
      return { number, size: props.fileSize, smallest: props.smallestKey, largest: props.largestKey, minSeq: props.minSequence, maxSeq: props.maxSequence }
    } finally {
      out.close()
    }
  }

  // Tables: keep, rewrite or set aside.
  for (const number of tables.sort((a, b) => a - b)) {
    const name = tableFileName(number)
    const path = join(dir, name)
    if (dropped.has(number)) {
      report.notes.push(`${path}: the MANIFEST had dropped it (compacted or cleared); moved to lost/`)
      setAside(name)
      continue
    }
    let file: ReadableFile
    try {
      file = fs.openReadable(path)
    } catch (err) {
      report.notes.push(`${path}: cannot be opened (${(err as Error).message})`)
      continue
    }
    let table: Table
    try {
      table = Table.open(file, { fileNumber: number, verifyChecksums: true, fileName: path })
    } catch (err) {
      file.close()
      report.tablesLost++
      report.notes.push(`${path}: ${(err as Error).message}; moved to lost/`)
      setAside(name)
      continue
    }
    let intact = true
    try {
      table.checkAllBlocks()
    } catch {
      intact = false
    }
    if (intact) {
      const p = table.properties
      file.close()
      if (p.entries === 0) continue
      live.push({ number, size: fs.stat(path).size, smallest: p.smallestKey, largest: p.largestKey, minSeq: p.minSequence, maxSeq: p.maxSequence })
      bump(p.maxSequence)
      report.tablesKept++
      continue
    }
    // Rewrite from the readable blocks (a table is at most a few MiB: it is sorted in memory).
    const salvaged = new Memtable()
    const index = table.newIndexIterator()
    for (index.seekToFirst(); index.valid(); index.next()) {
      try {
        const block = table.dataBlockAt(index, true, false, null)
        const it = block.iterator()
        for (it.seekToFirst(); it.valid(); it.next()) {
          salvagedAdd(salvaged, it.key(), it.value())
        }
      } catch (err) {
        report.blocksDropped++
        report.notes.push(`${path}: dropped a data block (${(err as Error).message})`)
      }
    }
    file.close()
    const meta = writeTable(salvaged.iterator())
    setAside(name)
    report.tablesRewritten++
    if (meta !== null) {
      live.push(meta)
      bump(meta.maxSeq)
    }
  }

  // Commit logs: replay every intact record into new tables.
  for (const number of logs.sort((a, b) => a - b)) {
    const name = `${String(number).padStart(6, '0')}.log`
    const path = join(dir, name)
    let mem = new Memtable()
    const flushMem = (): void => {
      const meta = writeTable(mem.iterator())
      if (meta !== null) { live.push(meta); bump(meta.maxSeq) }
      mem = new Memtable()
    }
    let file: ReadableFile | null = null
    try {
      file = fs.openReadable(path)
      const gen = readLog(file, { mode: 'skip-any-corrupted', fileName: path })
      for (;;) {
        const step = gen.next()
        if (step.done === true) {
          const summary = step.value
          report.logRecordsDropped += summary.droppedRecords
          report.logBytesDropped += summary.droppedBytes
          for (const d of summary.drops) report.notes.push(`${path} offset ${d.offset}: dropped ${d.bytes} bytes (${d.reason})`)
          break
        }
        const rec = step.value
        let batch
        try {
          batch = decodeBatch(rec.data, path, rec.offset)
        } catch (err) {
          report.logRecordsDropped++
          report.notes.push(`${path} offset ${rec.offset}: undecodable batch (${(err as Error).message})`)
          continue
        }
        let seq = batch.seq
        for (const op of batch.ops) {
          if (op.kind === KIND_RANGE_DELETE) {
            const end = decodeTombstoneEnd(Buffer.from(op.value ?? Buffer.alloc(0)))
            if (end !== undefined) tombstones.set(seq, { seq, start: Buffer.from(op.key), end })
          } else if (op.kind === KIND_VALUE || op.kind === KIND_DELETE) {
            mem.add(seq, op.kind, Buffer.from(op.key), op.kind === KIND_VALUE ? Buffer.from(op.value!) : Buffer.alloc(0))
          }
          bump(seq)
          seq++
        }
        report.logRecordsRecovered++
        if (mem.approximateBytes >= DEFAULTS.writeBufferSize) flushMem()
      }
    } catch (err) {
      report.notes.push(`${path}: ${(err as Error).message}`)
    } finally {
      file?.close()
    }
    flushMem()
  }

  for (const t of tombstones.values()) bump(t.seq)
  report.rangeTombstones = tombstones.size
  report.tables = live.length

  const versions = new VersionSet(fs, dir)
  versions.nextFileNumber = nextNumber
  versions.lastSequence = report.lastSequence
  versions.logNumber = 0
  await fs.syncDir(dir)
  await versions.logAndApply({
    logNumber: nextNumber,
    lastSequence: report.lastSequence,
    newFiles: live.map((file) => ({ level: 0, file })),
    addedTombstones: [...tombstones.values()]
  })
  versions.close()
  // The logs are now in tables and the old MANIFESTs are superseded.
  for (const number of logs) { try { fs.unlink(join(dir, `${String(number).padStart(6, '0')}.log`)) } catch {} }
  for (const number of manifests) {
    if (number !== versions.manifestNumber) { try { fs.unlink(join(dir, `MANIFEST-${String(number).padStart(6, '0')}`)) } catch {} }
  }
  await fs.syncDir(dir)
  return report
}

/** Add an entry salvaged from a table block (its internal key is already complete) to the sorted buffer. */
function salvagedAdd (mem: Memtable, internalKey: Buffer, value: Buffer): void {
  mem.add(seqOf(internalKey), kindOf(internalKey), Buffer.from(userKeyOf(internalKey)), Buffer.from(value))
}
