import { tableFileName, type FileMeta, type RangeTombstone, type Version, type VersionEdit } from 'lsm-level/tools'
import { bytesForJson, bytesForTerminal, type ByteEncoding } from '../../cli-kit/byte-encoding.js'
import { counted } from '../../cli-kit/counted.js'
import { humanSize } from '../../cli-kit/human-size.js'
import { textTable } from '../../cli-kit/text-table.js'
import { internalKeyJson, internalKeyText } from '../internal-entry.js'

/** A table as the MANIFEST records it, in JSON. */
export function fileMetaJson (level: number, f: FileMeta, encoding: ByteEncoding): Record<string, unknown> {
  return {
    level,
    file: tableFileName(f.number),
    number: f.number,
    size: f.size,
    smallest: internalKeyJson(f.smallest, encoding),
    largest: internalKeyJson(f.largest, encoding),
    minSeq: f.minSeq,
    maxSeq: f.maxSeq
  }
}

function tombstoneText (t: RangeTombstone, encoding: ByteEncoding): string {
  return `@${t.seq} [${bytesForTerminal(t.start, encoding)}, ${t.end === null ? '(last key)' : bytesForTerminal(t.end, encoding)})`
}

function tombstoneJson (t: RangeTombstone, encoding: ByteEncoding): Record<string, unknown> {
  return { seq: t.seq, start: bytesForJson(t.start, encoding), end: t.end === null ? null : bytesForJson(t.end, encoding) }
}

/** A version edit as text: its scalar fields on one line, then one line per file, pointer or tombstone. */
export function editLines (offset: number, e: VersionEdit, encoding: ByteEncoding): string[] {
  const fields: string[] = []
  if (e.formatVersion !== undefined) fields.push(`format version ${e.formatVersion}`)
  if (e.comparator !== undefined) fields.push(`comparator ${e.comparator}`)
  if (e.logNumber !== undefined) fields.push(`log number ${e.logNumber}`)
  if (e.nextFileNumber !== undefined) fields.push(`next file number ${e.nextFileNumber}`)
  if (e.lastSequence !== undefined) fields.push(`last sequence ${e.lastSequence}`)
  const lines = [`edit at ${offset}: ${fields.length === 0 ? '(no scalar fields)' : fields.join(', ')}`]
  for (const p of e.compactPointers ?? []) lines.push(`  compact pointer L${p.level}: ${internalKeyText(p.key, encoding)}`)
  for (const d of e.deletedFiles ?? []) lines.push(`  - L${d.level} ${tableFileName(d.number)}`)
  for (const { level, file: f } of e.newFiles ?? []) {
    lines.push(`  + L${level} ${tableFileName(f.number)} ${f.size} bytes, ${internalKeyText(f.smallest, encoding)} .. ${internalKeyText(f.largest, encoding)}, seq ${f.minSeq}..${f.maxSeq}`)
  }
  for (const t of e.addedTombstones ?? []) lines.push(`  + range tombstone ${tombstoneText(t, encoding)}`)
  for (const s of e.removedTombstones ?? []) lines.push(`  - range tombstone @${s}`)
  return lines
}

/** A version edit as JSON (file numbers also given as file names). */
export function editJson (offset: number, e: VersionEdit, encoding: ByteEncoding): Record<string, unknown> {
  return {
    offset,
    ...(e.formatVersion === undefined ? {} : { formatVersion: e.formatVersion }),
    ...(e.comparator === undefined ? {} : { comparator: e.comparator }),
    ...(e.logNumber === undefined ? {} : { logNumber: e.logNumber }),
    ...(e.nextFileNumber === undefined ? {} : { nextFileNumber: e.nextFileNumber }),
    ...(e.lastSequence === undefined ? {} : { lastSequence: e.lastSequence }),
    compactPointers: (e.compactPointers ?? []).map((p) => ({ level: p.level, key: internalKeyJson(p.key, encoding) })),
    deletedFiles: (e.deletedFiles ?? []).map((d) => ({ level: d.level, number: d.number, file: tableFileName(d.number) })),
    newFiles: (e.newFiles ?? []).map(({ level, file }) => fileMetaJson(level, file, encoding)),
    addedTombstones: (e.addedTombstones ?? []).map((t) => tombstoneJson(t, encoding)),
    removedTombstones: e.removedTombstones ?? []
  }
}

/** The live tables of a version, level by level (empty levels left out), and its range tombstones. */
export function versionLines (v: Version, encoding: ByteEncoding): string[] {
  const lines: string[] = []
  v.levels.forEach((files, level) => {
    if (files.length === 0) return
    lines.push(`L${level}: ${counted(files.length, 'file')}, ${humanSize(v.levelBytes(level))}`)
    lines.push(...textTable(
      [{ header: 'file' }, { header: 'size', align: 'right' }, { header: 'smallest' }, { header: 'largest' }, { header: 'seq' }],
      files.map((f) => [tableFileName(f.number), String(f.size), internalKeyText(f.smallest, encoding), internalKeyText(f.largest, encoding), `${f.minSeq}..${f.maxSeq}`]),
      '  '))
  })
  if (lines.length === 0) lines.push('no live tables')
  lines.push(v.rangeTombstones.length === 0 ? 'range tombstones: none' : `range tombstones: ${v.rangeTombstones.map((t) => tombstoneText(t, encoding)).join(', ')}`)
  return lines
}

/** The live tables per level (every level, empty ones too) and the range tombstones, as JSON. */
export function versionJson (v: Version, encoding: ByteEncoding): Record<string, unknown> {
  return {
    levels: v.levels.map((files, level) => ({
      level,
      files: files.length,
      bytes: v.levelBytes(level),
      tables: files.map((f) => fileMetaJson(level, f, encoding))
    })),
    rangeTombstones: v.rangeTombstones.map((t) => tombstoneJson(t, encoding))
  }
}
