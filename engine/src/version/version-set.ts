import { join } from 'node:path'
import type { FileSystem, WritableFile } from '../fs/file-system.js'
import { LogWriter } from '../wal/log-writer.js'
import { readLog } from '../wal/log-reader.js'
import { corruption, unsupportedFormat, asIoError } from '../errors.js'
import type { RangeTombstone } from '../range-tombstone.js'
import { type FileMeta, manifestFileName, parseFileName } from './file-meta.js'
import { Version, NUM_LEVELS, compareLevel0, compareBySmallest } from './version.js'
import { type VersionEdit, encodeEdit, decodeEdit, COMPARATOR_NAME } from './version-edit.js'

/**
 * Format version of a database directory (the MANIFEST's records and the set of files). A directory
 * written by a newer lsm-level with a higher number is refused rather than misread.
 */
export const DB_FORMAT_VERSION = 1

/** A MANIFEST past this size is rewritten as one snapshot record, so that replay at open stays quick. */
const MAX_MANIFEST_BYTES = 8 * 1024 * 1024

/**
 * The sequence of versions of a database and the MANIFEST that records it: owns file numbering, the last
 * sequence number, the current version, and which files older versions still hold open.
 */
export class VersionSet {
  readonly #fs: FileSystem
  readonly #dir: string
  #current: Version = Version.empty()
  readonly #live = new Set<Version>()
  #manifestFile: WritableFile | null = null
  #manifestWriter: LogWriter | null = null
  #queue: Promise<void> = Promise.resolve()
  /** Called when a version that held files is released, so obsolete files can go. */
  onVersionReleased: (() => void) | null = null

  nextFileNumber = 2
  lastSequence = 0
  logNumber = 0
  manifestNumber = 0
  readonly compactPointers: Array<Buffer | null> = new Array<Buffer | null>(NUM_LEVELS).fill(null)

  constructor (fs: FileSystem, dir: string) {
    this.#fs = fs
    this.#dir = dir
    this.#install(this.#current)
  }

  get current (): Version { return this.#current }

  newFileNumber (): number { return this.nextFileNumber++ }

  /** Make sure later numbers are above n (a file found on disk during recovery). */
  markFileNumberUsed (n: number): void {
    if (this.nextFileNumber <= n) this.nextFileNumber = n + 1
  }

  /** Number of every table some live version still references. */
  liveFiles (): Set<number> {
    const s = new Set<number>()
    for (const v of this.#live) v.fileNumbers(s)
    return s
  }

  /**
   * Rebuild the current version from CURRENT and the MANIFEST it names. Returns false when the directory has
   * no CURRENT (a new database). Damage in the MANIFEST is LEVEL_CORRUPTION: it is never skipped.
   */
  recover (): boolean {
    const currentPath = join(this.#dir, 'CURRENT')
    if (!this.#fs.exists(currentPath)) {
      this.#checkNothingToLose(currentPath)
      return false
    }
    let name: string
    try {
      name = this.#fs.readFile(currentPath).toString('utf8')
    } catch (err) {
      throw asIoError(err, { file: currentPath, op: 'read' })
    }
    if (!/^MANIFEST-\d+\n$/.test(name)) {
      throw corruption('CURRENT does not name a MANIFEST', { file: currentPath, offset: 0 })
    }
    name = name.slice(0, -1)
    const manifestPath = join(this.#dir, name)
    if (!this.#fs.exists(manifestPath)) {
      throw corruption(`CURRENT names ${name}, which does not exist`, { file: currentPath, offset: 0 })
    }
    refuseLevelDb(this.#fs, manifestPath)
    const builder = new VersionBuilder(Version.empty())
    let sawComparator = false
    let sawNextFile = false
    let sawLogNumber = false
    const file = this.#fs.openReadable(manifestPath)
    try {
      // A MANIFEST's tail can be torn only by a crash during an edit that was never acknowledged; any
      // damage before that is corruption. So is a complete last record with a bad checksum: every edit is
      // synced before it is acted upon, so skipping one that was would lose the files it added.
      for (const rec of readLog(file, { mode: 'tolerate-truncated-tail', fileName: manifestPath })) {
        const e = decodeEdit(rec.data, manifestPath, rec.offset)
        if (e.formatVersion !== undefined && e.formatVersion > DB_FORMAT_VERSION) {
          throw unsupportedFormat(manifestPath, e.formatVersion)
        }
        if (e.comparator !== undefined) {
          if (e.comparator !== COMPARATOR_NAME) {
            throw corruption(`key order ${e.comparator} is not ${COMPARATOR_NAME}`, { file: manifestPath, offset: rec.offset })
          }
          sawComparator = true
        }
        if (e.logNumber !== undefined) { this.logNumber = e.logNumber; sawLogNumber = true }
        if (e.nextFileNumber !== undefined) { this.nextFileNumber = e.nextFileNumber; sawNextFile = true }
        if (e.lastSequence !== undefined) this.lastSequence = e.lastSequence
        for (const p of e.compactPointers ?? []) this.compactPointers[p.level] = p.key
        builder.apply(e)
      }
    } finally {
      file.close()
    }
    if (!sawComparator || !sawNextFile || !sawLogNumber) {
      throw corruption('MANIFEST lacks its header (comparator, next file number or log number)', { file: manifestPath, offset: 0 })
    }
    this.manifestNumber = Number(name.slice('MANIFEST-'.length))
    this.markFileNumberUsed(this.manifestNumber)
    this.#setCurrent(builder.build())
    return true
  }

  /**
   * A directory without CURRENT is a new database only if it holds no data: CURRENT is installed before the
   * first write is acknowledged, so a table or a non-empty commit log beside a missing CURRENT means damage.
   * Opening it as new would delete them as obsolete.
   */
  #checkNothingToLose (currentPath: string): void {
    if (!this.#fs.exists(this.#dir)) return
    for (const name of this.#fs.readdir(this.#dir)) {
      const p = parseFileName(name)
      if (p?.kind === 'table' || (p?.kind === 'log' && this.#fs.stat(join(this.#dir, name)).size > 0)) {
        throw corruption(`CURRENT is missing but ${name} holds data`, { file: currentPath, offset: 0 })
      }
    }
  }

  /**
   * Apply an edit: write it to the MANIFEST, fsync, and only then make it the current version. Edits are
   * applied one at a time in call order. The first edit after open starts a new MANIFEST holding a
   * snapshot of the whole version, and CURRENT is switched to it atomically.
   */
  logAndApply (edit: VersionEdit): Promise<void> {
    const run = this.#queue.then(() => this.#logAndApply(edit))
    this.#queue = run.catch(() => {})
    return run
  }

  async #logAndApply (edit: VersionEdit): Promise<void> {
    edit.lastSequence = Math.max(edit.lastSequence ?? 0, this.lastSequence)
    if (edit.logNumber === undefined) edit.logNumber = this.logNumber
    const builder = new VersionBuilder(this.#current)
    builder.apply(edit)
    const next = builder.build()

    let newManifest = false
    if (this.#manifestFile === null || this.#manifestFile.size > MAX_MANIFEST_BYTES) {
      await this.#startManifest()
      newManifest = true
    }
    // After #startManifest, which takes a number of its own.
    edit.nextFileNumber = this.nextFileNumber
    const file = this.#manifestFile!
    const writer = this.#manifestWriter!
    try {
      writer.addRecord(encodeEdit(edit))
      await file.sync()
    } catch (err) {
      // A half-written edit must not be followed by more: the next edit starts a fresh MANIFEST.
      this.#closeManifest()
      throw asIoError(err, { file: file.path, op: 'write MANIFEST' })
    }
    if (newManifest) await this.#setCurrentFile()
    this.logNumber = edit.logNumber
    for (const p of edit.compactPointers ?? []) this.compactPointers[p.level] = p.key
    this.#setCurrent(next)
  }

  async #startManifest (): Promise<void> {
    this.#closeManifest()
    const number = this.newFileNumber()
    const path = join(this.#dir, manifestFileName(number))
    let file: WritableFile
    try {
      file = this.#fs.openWritable(path)
    } catch (err) {
      throw asIoError(err, { file: path, op: 'create MANIFEST' })
    }
    const writer = new LogWriter(file)
    const snapshot: VersionEdit = {
      formatVersion: DB_FORMAT_VERSION,
      comparator: COMPARATOR_NAME,
      logNumber: this.logNumber,
      nextFileNumber: this.nextFileNumber,
      lastSequence: this.lastSequence,
      compactPointers: [],
      newFiles: [],
      addedTombstones: [...this.#current.rangeTombstones]
    }
    this.compactPointers.forEach((key, level) => { if (key !== null) snapshot.compactPointers!.push({ level, key }) })
    this.#current.levels.forEach((files, level) => { for (const f of files) snapshot.newFiles!.push({ level, file: f }) })
    try {
      writer.addRecord(encodeEdit(snapshot))
      await file.sync()
    } catch (err) {
      try { file.close() } catch {}
      throw asIoError(err, { file: path, op: 'write MANIFEST' })
    }
    this.#manifestFile = file
    this.#manifestWriter = writer
    this.#pendingManifestNumber = number
  }

  #pendingManifestNumber = 0

  /** Point CURRENT at the new MANIFEST: temp file, fsync, rename over CURRENT, fsync the directory. */
  async #setCurrentFile (): Promise<void> {
    const number = this.#pendingManifestNumber
    const tmp = join(this.#dir, `${number}.tmp`)
    const current = join(this.#dir, 'CURRENT')
    try {
      const f = this.#fs.openWritable(tmp)
      try {
        f.append(Buffer.from(manifestFileName(number) + '\n', 'utf8'))
        await f.sync()
      } finally {
        f.close()
      }
      // The new MANIFEST's directory entry must be durable before CURRENT can name it: a file system may make
      // the rename durable before the earlier create (LevelDB syncs the directory with every new MANIFEST).
      await this.#fs.syncDir(this.#dir)
      this.#fs.rename(tmp, current)
      await this.#fs.syncDir(this.#dir)
    } catch (err) {
      this.#closeManifest()
      try { this.#fs.unlink(tmp) } catch {}
      throw asIoError(err, { file: current, op: 'install CURRENT' })
    }
    this.manifestNumber = number
  }

  #closeManifest (): void {
    if (this.#manifestFile !== null) {
      try { this.#manifestFile.close() } catch {}
    }
    this.#manifestFile = null
    this.#manifestWriter = null
  }

  #setCurrent (v: Version): void {
    const old = this.#current
    this.#install(v)
    this.#current = v
    old.unref()
  }

  #install (v: Version): void {
    v.setOnUnref((released) => {
      this.#live.delete(released)
      this.onVersionReleased?.()
    })
    this.#live.add(v)
    v.ref()
  }

  /** Close the MANIFEST (after the last edit). */
  close (): void {
    this.#closeManifest()
  }
}

/** Accumulates edits over a base version and produces the next version. */
export class VersionBuilder {
  readonly #levels: Array<Map<number, FileMeta>>
  readonly #tombstones: Map<number, RangeTombstone>

  constructor (base: Version) {
    this.#levels = base.levels.map((files) => new Map(files.map((f) => [f.number, f])))
    while (this.#levels.length < NUM_LEVELS) this.#levels.push(new Map())
    this.#tombstones = new Map(base.rangeTombstones.map((t) => [t.seq, t]))
  }

  apply (e: VersionEdit): void {
    for (const d of e.deletedFiles ?? []) this.#levels[d.level]?.delete(d.number)
    for (const { level, file } of e.newFiles ?? []) {
      if (level >= NUM_LEVELS) throw new RangeError(`level ${level} beyond ${NUM_LEVELS - 1}`)
      this.#levels[level].set(file.number, file)
    }
    for (const t of e.addedTombstones ?? []) this.#tombstones.set(t.seq, t)
    for (const s of e.removedTombstones ?? []) this.#tombstones.delete(s)
  }

  build (): Version {
    const levels = this.#levels.map((m, level) => {
      const files = [...m.values()]
      files.sort(level === 0 ? compareLevel0 : compareBySmallest)
      return files
    })
    const tombstones = [...this.#tombstones.values()].sort((a, b) => a.seq - b.seq)
    return new Version(levels, tombstones)
  }
}

/** The comparator name LevelDB records in every MANIFEST (classic-level's, leveldown's databases). */
const LEVELDB_COMPARATOR = Buffer.from('leveldb.BytewiseComparator')

/**
 * Throws LEVEL_UNSUPPORTED_FORMAT, saying how to migrate, when the MANIFEST is LevelDB's: its first record
 * names LevelDB's comparator near its start. Without this, such a directory would fail with a corruption
 * error whose advice (repair) does not apply.
 */
function refuseLevelDb (fs: FileSystem, manifestPath: string): void {
  const file = fs.openReadable(manifestPath)
  try {
    const head = file.read(0, Math.min(file.size, 64))
    if (head.includes(LEVELDB_COMPARATOR)) {
      const err = unsupportedFormat(manifestPath, 'LevelDB')
      err.message = `${manifestPath.slice(0, manifestPath.lastIndexOf('/'))} is a LevelDB (classic-level) database, whose format lsm-level does not read; ` +
        'copy it into a new lsm-level database with `levelring db import-leveldb SRC DST` (see "Differences from classic-level" in lsm-level\'s README)'
      throw err
    }
  } finally {
    file.close()
  }
}
