import { crc32c, maskCrc } from '../crc.js'
import type { WritableFile } from '../fs/file-system.js'
import { BLOCK_SIZE, HEADER_SIZE, RecordType, typeCrc } from './log-format.js'

/**
 * Appends records in the log format (wal/log-format.ts) to a WritableFile: the WAL and the MANIFEST.
 * Records go to the file's buffer; the caller decides when to flush() or sync() the file.
 */
export class LogWriter {
  readonly file: WritableFile
  /** Where in the current block the next fragment starts. */
  #blockOffset: number
  /** A record's fragments are assembled here and appended at once (the file copies them). */
  #scratch = Buffer.allocUnsafe(4096)

  /** Continues a log whose file already holds file.size bytes (0 for a new log). */
  constructor (file: WritableFile) {
    this.file = file
    this.#blockOffset = file.size % BLOCK_SIZE
  }

  /**
   * Appends one record (possibly empty) as FULL or FIRST MIDDLE* LAST fragments; data may be reused after.
   * The whole record goes to the file in one append, so an append that fails leaves no part of it behind
   * (a fragment header without its payload would read as a torn record at the next open).
   */
  addRecord (data: Uint8Array): void {
    let out = this.#reserve(data.length)
    let at = 0
    let pos = 0
    let left = data.length
    let begin = true
    let blockOffset = this.#blockOffset
    do {
      const leftover = BLOCK_SIZE - blockOffset
      if (leftover < HEADER_SIZE) {
        // Too small for a header: zero-fill the trailer and go to the next block.
        out.fill(0, at, at + leftover)
        at += leftover
        blockOffset = 0
      }
      const avail = BLOCK_SIZE - blockOffset - HEADER_SIZE
      const n = left < avail ? left : avail
      const end = left === n
      const type = begin && end
        ? RecordType.FULL
        : begin ? RecordType.FIRST : end ? RecordType.LAST : RecordType.MIDDLE
      at = this.#emit(out, at, type, data, pos, n)
      blockOffset += HEADER_SIZE + n
      pos += n
      left -= n
      begin = false
    } while (left > 0)
    this.file.append(out.subarray(0, at))
    this.#blockOffset = blockOffset
    // A huge record's buffer is not kept for the next, small ones.
    if (out.length > 1024 * 1024) out = this.#scratch = Buffer.allocUnsafe(4096)
  }

  /** A buffer that holds a record of n bytes with every header and trailer it can need. */
  #reserve (n: number): Buffer {
    // Each block holds at least BLOCK_SIZE - HEADER_SIZE - (HEADER_SIZE - 1) payload bytes, plus one more
    // header and trailer at the start.
    const worst = n + (Math.ceil(n / (BLOCK_SIZE - 2 * HEADER_SIZE)) + 1) * 2 * HEADER_SIZE
    if (this.#scratch.length < worst) this.#scratch = Buffer.allocUnsafe(worst)
    return this.#scratch
  }

  #emit (out: Buffer, at: number, type: number, data: Uint8Array, pos: number, n: number): number {
    // A record in one fragment (most) is all of data: no view needed.
    const payload = pos === 0 && n === data.length ? data : data.subarray(pos, pos + n)
    const crc = maskCrc(crc32c(payload, typeCrc(type)))
    out.writeUInt32LE(crc, at)
    out[at + 4] = n & 0xff
    out[at + 5] = n >>> 8
    out[at + 6] = type
    out.set(payload, at + HEADER_SIZE)
    return at + HEADER_SIZE + n
  }
}
