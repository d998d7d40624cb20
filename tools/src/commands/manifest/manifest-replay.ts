import { join } from 'node:path'
import {
  COMPARATOR_NAME, DB_FORMAT_VERSION, decodeEdit, readLog, RealFileSystem, Version, VersionBuilder,
  type LogDrop, type VersionEdit
} from 'lsm-level/tools'
import { CliFailure } from '../../cli-kit/failure.js'

/** One MANIFEST record: a version edit and where it starts in the file. */
export interface EditRecord { offset: number, edit: VersionEdit }

/** A MANIFEST read from the first record to the last, as the engine replays it at open. */
export interface ManifestReplay {
  /** The MANIFEST's path. */
  file: string
  /** The database directory it belongs to. */
  dir: string
  edits: EditRecord[]
  /** The live tables per level and the range tombstones after the last edit. */
  version: Version
  logNumber?: number
  nextFileNumber?: number
  lastSequence?: number
  comparator?: string
  formatVersion?: number
  /** A torn last record (a crash during an edit that was never acknowledged): dropped, as recovery does. */
  tornTail: LogDrop[]
}

/**
 * The MANIFEST a path names: a MANIFEST file itself, or the one a database directory's CURRENT names.
 * Throws a CliFailure naming CURRENT when it is missing or malformed.
 */
export function locateManifest (path: string): { file: string, dir: string } {
  const fs = new RealFileSystem()
  if (!fs.stat(path).isDirectory) return { file: path, dir: join(path, '..') }
  const current = join(path, 'CURRENT')
  if (!fs.exists(current)) throw new CliFailure(`${path} has no CURRENT file: not a database directory (or never opened)`, { code: 'LEVELRING_NOT_FOUND' })
  const text = fs.readFile(current).toString('utf8')
  if (!/^MANIFEST-\d+\n$/.test(text)) {
    throw new CliFailure(`${current} (offset 0) does not hold "MANIFEST-<number>\\n" but ${JSON.stringify(text.slice(0, 40))}; levelring db repair rebuilds it`, { code: 'LEVEL_CORRUPTION' })
  }
  const file = join(path, text.slice(0, -1))
  if (!fs.exists(file)) throw new CliFailure(`${current} names ${text.slice(0, -1)}, which does not exist; levelring db repair rebuilds it`, { code: 'LEVEL_CORRUPTION' })
  return { file, dir: path }
}

/**
 * Replays the MANIFEST at `path` (a file, or a directory's live one) with the engine's reader and edit
 * decoder: damage other than a torn tail throws LEVEL_CORRUPTION naming the file and offset.
 */
export function replayManifest (path: string): ManifestReplay {
  const { file, dir } = locateManifest(path)
  const fs = new RealFileSystem()
  const replay: ManifestReplay = { file, dir, edits: [], version: Version.empty(), tornTail: [] }
  const builder = new VersionBuilder(Version.empty())
  const readable = fs.openReadable(file)
  try {
    for (const rec of readLog(readable, { mode: 'tolerate-corrupted-tail', fileName: file, onDrop: (d) => replay.tornTail.push(d) })) {
      const edit = decodeEdit(rec.data, file, rec.offset)
      replay.edits.push({ offset: rec.offset, edit })
      builder.apply(edit)
      if (edit.logNumber !== undefined) replay.logNumber = edit.logNumber
      if (edit.nextFileNumber !== undefined) replay.nextFileNumber = edit.nextFileNumber
      if (edit.lastSequence !== undefined) replay.lastSequence = edit.lastSequence
      if (edit.comparator !== undefined) replay.comparator = edit.comparator
      if (edit.formatVersion !== undefined) replay.formatVersion = edit.formatVersion
    }
  } finally {
    readable.close()
  }
  replay.version = builder.build()
  return replay
}

/** What a MANIFEST lacks or holds that the engine would refuse at open (empty when it would open). */
export function manifestHeaderProblems (r: ManifestReplay): string[] {
  const problems: string[] = []
  if (r.comparator === undefined) problems.push('no comparator name')
  else if (r.comparator !== COMPARATOR_NAME) problems.push(`key order ${r.comparator} is not ${COMPARATOR_NAME}`)
  if (r.nextFileNumber === undefined) problems.push('no next file number')
  if (r.logNumber === undefined) problems.push('no log number')
  if (r.formatVersion !== undefined && r.formatVersion > DB_FORMAT_VERSION) problems.push(`format version ${r.formatVersion}, newer than this build reads (${DB_FORMAT_VERSION})`)
  return problems
}
