import { readFixed32 } from '../coding.js'
import { crc32c, unmaskCrc } from '../crc.js'
import { corruption } from '../errors.js'
import type { ReadableFile } from '../fs/file-system.js'
import { BLOCK_SIZE, HEADER_SIZE, MAX_RECORD_TYPE, RecordType, typeCrc } from './log-format.js'

/**
 * How a reader treats damage (bad checksum, bad length, unknown type, broken FIRST/MIDDLE/LAST sequence,
 * truncation):
 * - 'tolerate-corrupted-tail' (default): damage after which no valid fragment follows (a torn last write,
 *   a zero-filled or truncated tail) ends the log silently; damage followed by a valid fragment throws.
 * - 'tolerate-truncated-tail' (the MANIFEST): like the default, but only damage a crash can leave in a file
 *   whose records are each synced before the next is written ends the log silently: the file ending inside a
 *   record, or zero-filled space. A complete fragment with a bad checksum, an unknown type or a stray MIDDLE or
 *   LAST is damage to a record that was durable and acted upon: it throws even at the tail.
 * - 'absolute-consistency': any damage throws, a torn tail included.
 * - 'skip-any-corrupted': (repair) damaged fragments and records are skipped and counted; reading resumes
 *   at the next block.
 */
export type LogReadMode = 'tolerate-corrupted-tail' | 'tolerate-truncated-tail' | 'absolute-consistency' | 'skip-any-corrupted'

/** A record and the file offset of its first fragment's header. */
export interface LogRecord { offset: number, data: Buffer }

/** Bytes the reader dropped, where and why. */
export interface LogDrop { offset: number, bytes: number, reason: string }

/** What a read of a whole log found (the generator's return value). */
export interface LogReadSummary {
  /** Records yielded. */
  records: number
  /** Drop events (damaged regions or incomplete records). */
  droppedRecords: number
  droppedBytes: number
  /** The first drops (at most MAX_REPORTED_DROPS), for messages and tools. */
  drops: LogDrop[]
  /** Offset just past the last fragment of the last good record: a log may be truncated here to cut a torn tail. */
  validEnd: number
}

export interface LogReadOptions {
  mode?: LogReadMode
  /** Named in errors; defaults to the file's path. */
  fileName?: string
  /** Called for every drop that does not throw (tail drops in tolerate mode, all drops in skip mode). */
  onDrop?: (drop: LogDrop) => void
}

/** Keeps summaries of badly damaged logs small; the counters still count every drop. */
export const MAX_REPORTED_DROPS = 100

const WHAT_TO_DO = 'a repair (skip-any-corrupted) can salvage the records around it'

/**
 * Reads the records of a log (wal/log-format.ts) from a file or an in-memory buffer, in order. Throws
 * LEVEL_CORRUPTION (naming the file and the damaged offset) as the mode demands; returns a summary.
 * Yielded data may be a view into the read block or the source buffer; it is not reused by the reader.
 */
export function * readLog (source: ReadableFile | Buffer, options: LogReadOptions = {}): Generator<LogRecord, LogReadSummary, undefined> {
  const mode = options.mode ?? 'tolerate-corrupted-tail'
  const isBuffer = Buffer.isBuffer(source)
  const fileName = options.fileName ?? (isBuffer ? '(buffer)' : (source as ReadableFile).path)
  const size = isBuffer ? source.length : (source as ReadableFile).size
  const summary: LogReadSummary = { records: 0, droppedRecords: 0, droppedBytes: 0, drops: [], validEnd: 0 }
  /** Damage in tolerate mode that is a tolerated tail only if nothing valid follows. */
  const pending: LogDrop[] = []

  const drop = (d: LogDrop): void => {
    summary.droppedRecords++
    summary.droppedBytes += d.bytes
    if (summary.drops.length < MAX_REPORTED_DROPS) summary.drops.push(d)
    options.onDrop?.(d)
  }
  const fail = (d: LogDrop, extra = ''): Error =>
    corruption(`log damaged: ${d.reason}${extra}; ${WHAT_TO_DO}`, { file: fileName, offset: d.offset })
  /** truncation: the damage is the file ending early or zero-filled space, which a crash can leave. */
  const damage = (offset: number, bytes: number, reason: string, truncation = false): void => {
    const d = { offset, bytes, reason }
    if (mode === 'absolute-consistency') throw fail(d)
    if (mode === 'tolerate-truncated-tail' && !truncation) throw fail(d, ' (only a log cut short or zero-filled at its end is taken for a torn write here)')
    if (mode === 'tolerate-corrupted-tail' || mode === 'tolerate-truncated-tail') pending.push(d)
    else drop(d)
  }
  /** A valid fragment proves earlier damage was not a torn tail. */
  const validFollows = (offset: number): void => {
    if (pending.length > 0) throw fail(pending[0], ` (valid data follows at offset ${offset}, so this is not a torn tail)`)
  }

  /**
   * Damage that makes the rest of the block unreadable. Reading resumes at the next block (as LevelDB does:
   * a payload may itself contain log-like bytes, so nothing inside the block is trusted as a record), but in
   * tolerate mode the rest of the block is searched for a checksum-valid fragment: finding one proves the
   * damage is not a torn tail.
   */
  const damageRestOfBlock = (block: Buffer, p: number, blockStart: number, blockLen: number, reason: string, truncation = false): void => {
    damage(blockStart + p, blockLen - p, reason, truncation)
    if (mode === 'tolerate-corrupted-tail' || mode === 'tolerate-truncated-tail') {
      const q = findValidFragment(block, p + 1, blockLen)
      if (q >= 0) validFollows(blockStart + q)
    }
  }

  // The record being assembled from FIRST MIDDLE* LAST.
  let parts: Buffer[] = []
  let partsBytes = 0
  let recordStart = -1

  for (let blockStart = 0; blockStart < size; blockStart += BLOCK_SIZE) {
    const blockLen = Math.min(BLOCK_SIZE, size - blockStart)
    const block = isBuffer ? source.subarray(blockStart, blockStart + blockLen) : (source as ReadableFile).read(blockStart, blockLen)
    const lastBlock = blockStart + blockLen >= size
    let p = 0
    while (true) {
      const left = blockLen - p
      if (left < HEADER_SIZE) {
        // In a full block this is the zero trailer; in the file's last block, a header cut short.
        if (left > 0 && blockLen < BLOCK_SIZE) damage(blockStart + p, left, `fragment header truncated at end of log (${left} of ${HEADER_SIZE} bytes)`, true)
        break
      }
      const at = blockStart + p
      const stored = readFixed32(block, p)
      const len = block[p + 4] | (block[p + 5] << 8)
      const type = block[p + 6]
      if (type === RecordType.ZERO && len === 0 && stored === 0) {
        damageRestOfBlock(block, p, blockStart, blockLen, 'zero-filled space where a fragment header belongs', true)
        break
      }
      if (HEADER_SIZE + len > left) {
        const truncated = lastBlock && blockLen < BLOCK_SIZE
        damageRestOfBlock(block, p, blockStart, blockLen, truncated
          ? `fragment truncated at end of log (length ${len}, ${left - HEADER_SIZE} bytes present)`
          : `bad fragment length ${len} (only ${left - HEADER_SIZE} bytes left in the block)`, truncated)
        break
      }
      const payload = block.subarray(p + HEADER_SIZE, p + HEADER_SIZE + len)
      if (unmaskCrc(stored) !== crc32c(payload, typeCrc(type))) {
        // The length cannot be trusted either: give up on the rest of this block.
        damageRestOfBlock(block, p, blockStart, blockLen, 'fragment checksum mismatch')
        break
      }
      p += HEADER_SIZE + len
      const fragmentBytes = HEADER_SIZE + len
      if (type === RecordType.ZERO || type > MAX_RECORD_TYPE) {
        damage(at, fragmentBytes, `unknown fragment type ${type}`)
        validFollows(at)
        continue
      }
      if (type === RecordType.FULL || type === RecordType.FIRST) {
        if (recordStart >= 0) {
          damage(recordStart, partsBytes, `record at ${recordStart} has a FIRST fragment without a LAST`)
          parts = []
          partsBytes = 0
          recordStart = -1
        }
        validFollows(at)
        if (type === RecordType.FULL) {
          summary.records++
          summary.validEnd = at + fragmentBytes
          yield { offset: at, data: payload }
        } else {
          recordStart = at
          parts.push(payload)
          partsBytes += fragmentBytes
        }
        continue
      }
      // MIDDLE or LAST
      if (recordStart < 0) {
        damage(at, fragmentBytes, `${type === RecordType.MIDDLE ? 'MIDDLE' : 'LAST'} fragment without a FIRST`)
        validFollows(at)
        continue
      }
      validFollows(at)
      parts.push(payload)
      partsBytes += fragmentBytes
      if (type === RecordType.LAST) {
        const data = Buffer.concat(parts)
        const start = recordStart
        parts = []
        partsBytes = 0
        recordStart = -1
        summary.records++
        summary.validEnd = at + fragmentBytes
        yield { offset: start, data }
      }
    }
  }

  if (recordStart >= 0) damage(recordStart, partsBytes, `record at ${recordStart} cut off at end of log (FIRST without LAST)`, true)
  // Whatever damage is still pending had nothing valid after it: a torn tail, dropped silently.
  for (const d of pending) drop(d)
  return summary
}

/** Offset of the first checksum-valid fragment with a known type in block[from, end), or -1. */
function findValidFragment (block: Buffer, from: number, end: number): number {
  for (let q = from; q + HEADER_SIZE <= end; q++) {
    const type = block[q + 6]
    if (type === RecordType.ZERO || type > MAX_RECORD_TYPE) continue
    const len = block[q + 4] | (block[q + 5] << 8)
    if (q + HEADER_SIZE + len > end) continue
    if (unmaskCrc(readFixed32(block, q)) === crc32c(block.subarray(q + HEADER_SIZE, q + HEADER_SIZE + len), typeCrc(type))) return q
  }
  return -1
}
