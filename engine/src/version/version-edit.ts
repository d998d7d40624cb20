/**
 * A version edit: one MANIFEST record, the difference between two versions. The MANIFEST is a log file
 * (the commit-log format of wal/) whose records are edits; replaying them from the first gives the
 * current version. Layout of a record (every integer a varint64 unless said; bytes = varint length + bytes):
 *
 *   +-----+---------+-----+---------+---  ...  ---+
 *   | tag | fields  | tag | fields  |             |
 *   +-----+---------+-----+---------+---  ...  ---+
 *
 *   tag 1  format version        version
 *   tag 2  comparator            bytes (utf8 name; must equal COMPARATOR_NAME)
 *   tag 3  log number            number of the oldest commit log still needed
 *   tag 4  next file number      number
 *   tag 5  last sequence         number
 *   tag 6  compact pointer       level, bytes (internal key)
 *   tag 7  deleted file          level, number
 *   tag 8  new file              level, number, size, bytes smallest, bytes largest, minSeq, maxSeq
 *   tag 9  add range tombstone   seq, bytes start, byte hasEnd, [bytes end]
 *   tag 10 remove range tombstone seq
 */
import { encodeVarint64, varintLength, ByteReader } from '../coding.js'
import type { RangeTombstone } from '../range-tombstone.js'
import { exactCopy, type FileMeta } from './file-meta.js'

/** Name of the only key order this engine writes: bytewise user keys, sequence descending. */
export const COMPARATOR_NAME = 'lsm-level.BytewiseComparator'

const TAG_FORMAT_VERSION = 1
const TAG_COMPARATOR = 2
const TAG_LOG_NUMBER = 3
const TAG_NEXT_FILE = 4
const TAG_LAST_SEQUENCE = 5
const TAG_COMPACT_POINTER = 6
const TAG_DELETED_FILE = 7
const TAG_NEW_FILE = 8
const TAG_ADD_TOMBSTONE = 9
const TAG_REMOVE_TOMBSTONE = 10

export interface VersionEdit {
  formatVersion?: number
  comparator?: string
  logNumber?: number
  nextFileNumber?: number
  lastSequence?: number
  compactPointers?: Array<{ level: number, key: Buffer }>
  deletedFiles?: Array<{ level: number, number: number }>
  newFiles?: Array<{ level: number, file: FileMeta }>
  addedTombstones?: RangeTombstone[]
  removedTombstones?: number[]
}

class EditWriter {
  buf = Buffer.allocUnsafe(256)
  pos = 0

  #ensure (n: number): void {
    if (this.pos + n <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n))
    this.buf.copy(next, 0, 0, this.pos)
    this.buf = next
  }

  varint (v: number): void {
    this.#ensure(10)
    this.pos = encodeVarint64(this.buf, this.pos, v)
  }

  bytes (b: Buffer): void {
    this.#ensure(varintLength(b.length) + b.length)
    this.pos = encodeVarint64(this.buf, this.pos, b.length)
    b.copy(this.buf, this.pos)
    this.pos += b.length
  }
}

/** Serialize an edit as one MANIFEST record. */
export function encodeEdit (e: VersionEdit): Buffer {
  const w = new EditWriter()
  if (e.formatVersion !== undefined) { w.varint(TAG_FORMAT_VERSION); w.varint(e.formatVersion) }
  if (e.comparator !== undefined) { w.varint(TAG_COMPARATOR); w.bytes(Buffer.from(e.comparator, 'utf8')) }
  if (e.logNumber !== undefined) { w.varint(TAG_LOG_NUMBER); w.varint(e.logNumber) }
  if (e.nextFileNumber !== undefined) { w.varint(TAG_NEXT_FILE); w.varint(e.nextFileNumber) }
  if (e.lastSequence !== undefined) { w.varint(TAG_LAST_SEQUENCE); w.varint(e.lastSequence) }
  for (const p of e.compactPointers ?? []) { w.varint(TAG_COMPACT_POINTER); w.varint(p.level); w.bytes(p.key) }
  for (const d of e.deletedFiles ?? []) { w.varint(TAG_DELETED_FILE); w.varint(d.level); w.varint(d.number) }
  for (const { level, file: f } of e.newFiles ?? []) {
    w.varint(TAG_NEW_FILE); w.varint(level); w.varint(f.number); w.varint(f.size)
    w.bytes(f.smallest); w.bytes(f.largest); w.varint(f.minSeq); w.varint(f.maxSeq)
  }
  for (const t of e.addedTombstones ?? []) {
    w.varint(TAG_ADD_TOMBSTONE); w.varint(t.seq); w.bytes(t.start)
    if (t.end === null) w.varint(0)
    else { w.varint(1); w.bytes(t.end) }
  }
  for (const s of e.removedTombstones ?? []) { w.varint(TAG_REMOVE_TOMBSTONE); w.varint(s) }
  return Buffer.from(w.buf.subarray(0, w.pos))
}

/** Parse one MANIFEST record; throws LEVEL_CORRUPTION naming the file and offset when malformed. */
export function decodeEdit (record: Buffer, fileName: string, fileOffset: number): VersionEdit {
  const r = new ByteReader(record, fileName, fileOffset)
  const e: VersionEdit = {}
  const copyBytes = (): Buffer => {
    const n = r.varint64()
    if (n > r.remaining) throw r.fail('length past the end of the record')
    const b = exactCopy(r.buf.subarray(r.pos, r.pos + n))
    r.pos += n
    return b
  }
  const level = (): number => {
    const l = r.varint64()
    if (l >= 64) throw r.fail(`level ${l} out of range`)
    return l
  }
  while (r.remaining > 0) {
    const tag = r.varint64()
    switch (tag) {
      case TAG_FORMAT_VERSION: e.formatVersion = r.varint64(); break
      case TAG_COMPARATOR: e.comparator = copyBytes().toString('utf8'); break
      case TAG_LOG_NUMBER: e.logNumber = r.varint64(); break
      case TAG_NEXT_FILE: e.nextFileNumber = r.varint64(); break
      case TAG_LAST_SEQUENCE: e.lastSequence = r.varint64(); break
      case TAG_COMPACT_POINTER: (e.compactPointers ??= []).push({ level: level(), key: copyBytes() }); break
      case TAG_DELETED_FILE: (e.deletedFiles ??= []).push({ level: level(), number: r.varint64() }); break
      case TAG_NEW_FILE: {
        const l = level()
        const number = r.varint64()
        const size = r.varint64()
        const smallest = copyBytes()
        const largest = copyBytes()
        const minSeq = r.varint64()
        const maxSeq = r.varint64()
        if (smallest.length < 8 || largest.length < 8) throw r.fail('file bound shorter than an internal key')
        ;(e.newFiles ??= []).push({ level: l, file: { number, size, smallest, largest, minSeq, maxSeq } })
        break
      }
      case TAG_ADD_TOMBSTONE: {
        const seq = r.varint64()
        const start = copyBytes()
        const hasEnd = r.varint64()
        if (hasEnd > 1) throw r.fail('bad range tombstone end flag')
        const end = hasEnd === 1 ? copyBytes() : null
        ;(e.addedTombstones ??= []).push({ seq, start, end })
        break
      }
      case TAG_REMOVE_TOMBSTONE: (e.removedTombstones ??= []).push(r.varint64()); break
      default: throw r.fail(`unknown version edit tag ${tag}`)
    }
  }
  return e
}
