import { join } from 'node:path'
import { asIoError, databaseExists } from '../errors.js'
import type { FileSystem } from '../fs/file-system.js'
import { manifestFileName, tableFileName } from '../version/file-meta.js'
import { COMPARATOR_NAME, encodeEdit, type VersionEdit } from '../version/version-edit.js'
import { DB_FORMAT_VERSION } from '../version/version-set.js'
import { LogWriter } from '../wal/log-writer.js'
import type { DbState } from './state.js'

/**
 * A checkpoint: a new database directory that opens as this database was when the checkpoint began
 * (every write acknowledged before the call, nothing of later ones beyond what a flush swept along), made
 * while the database keeps serving. The caller flushes the memtable first, so the commit log is cut at
 * a table boundary and the checkpoint needs no log: its MANIFEST names the live tables of one version,
 * and the tables themselves are hard links (tables are immutable), or copies where a link cannot be made
 * (another file system). The version is pinned while its tables are linked, so no compaction deletes them
 * meanwhile. The directory must not exist; its files and entries are fsynced before this resolves.
 *
 *   target/
 *     NNNNNN.sst ...        the version's tables, same numbers as in the source
 *     MANIFEST-<next>       one snapshot record: levels, range tombstones, sequence and file counters
 *     CURRENT               names the MANIFEST
 */
export async function writeCheckpoint (s: DbState, target: string): Promise<{ tables: number, linked: number, bytes: number }> {
  const fs = s.fs
  if (fs.exists(target)) throw databaseExists(target, 'a checkpoint is written into a new directory')
  const version = s.versions.current
  version.ref()
  try {
    fs.mkdirp(target)
    let linked = 0
    let bytes = 0
    const files = version.levels.flatMap((level, n) => level.map((file) => ({ level: n, file })))
    for (const { file } of files) {
      const from = join(s.dir, tableFileName(file.number))
      const to = join(target, tableFileName(file.number))
      bytes += file.size
      if (tryLink(fs, from, to)) linked++
      else await copyFile(fs, from, to)
    }
    const manifestNumber = s.versions.nextFileNumber
    const snapshot: VersionEdit = {
      formatVersion: DB_FORMAT_VERSION,
      comparator: COMPARATOR_NAME,
      // No commit log travels with a checkpoint: every log number below the next file's is done.
      logNumber: manifestNumber,
      nextFileNumber: manifestNumber + 1,
      lastSequence: s.versions.lastSequence,
      compactPointers: [],
      newFiles: files,
      addedTombstones: [...version.rangeTombstones]
    }
    const manifest = join(target, manifestFileName(manifestNumber))
    const out = fs.openWritable(manifest)
    try {
      new LogWriter(out).addRecord(encodeEdit(snapshot))
      await out.sync()
    } finally {
      out.close()
    }
    const current = fs.openWritable(join(target, 'CURRENT'))
    try {
      current.append(Buffer.from(manifestFileName(manifestNumber) + '\n', 'utf8'))
      await current.sync()
    } finally {
      current.close()
    }
    await fs.syncDir(target)
    return { tables: files.length, linked, bytes }
  } catch (err) {
    throw asIoError(err, { file: target, op: 'checkpoint' })
  } finally {
    version.unref()
  }
}

/** A hard link where the file system can make one; false when it cannot (the caller copies). */
function tryLink (fs: FileSystem, from: string, to: string): boolean {
  if (fs.link === undefined) return false
  try {
    fs.link(from, to)
    return true
  } catch (err) {
    const code = (err as { code?: string }).code
    if (code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK') return false
    throw err
  }
}

/** Copy a table in 1 MiB pieces and fsync it. */
async function copyFile (fs: FileSystem, from: string, to: string): Promise<void> {
  const input = fs.openReadable(from)
  const output = fs.openWritable(to)
  try {
    const size = fs.stat(from).size
    for (let offset = 0; offset < size; offset += 1024 * 1024) {
      output.append(input.read(offset, Math.min(1024 * 1024, size - offset)))
    }
    await output.sync()
  } finally {
    input.close()
    output.close()
  }
}
