import { crc32c, maskCrc } from '../crc.js'
import type { WritableFile } from '../fs.js'
import { BLOCK_SIZE, HEADER_SIZE, RecordType, typeCrc } from './log-format.js'

/** Zero bytes for a block trailer too short for a header. */
const ZEROES = Buffer.alloc(HEADER_SIZE)

/**
 * Appends records in the log format (wal/log-format.ts) to a WritableFile: the WAL and the MANIFEST.
 * Records go to the file's buffer; the caller decides when to flush() or sync() the file.
 */
export class LogWriter {
  readonly file: WritableFile
  /** Where in the current block the next fragment starts. */
  #blockOffset: number
  #header = Buffer.allocUnsafe(HEADER_SIZE)

  /** Continues a log whose file already holds file.size bytes (0 for a new log). */
  constructor (file: WritableFile) {
    this.file = file
    this.#blockOffset = file.size % BLOCK_SIZE
  }

  /** Appends one record (possibly empty) as FULL or FIRST MIDDLE* LAST fragments; data may be reused after. */
  addRecord (data: Uint8Array): void {
    let pos = 0
    let left = data.length
    let begin = true
    do {
      const leftover = BLOCK_SIZE - this.#blockOffset
      if (leftover < HEADER_SIZE) {
        // Too small for a header: zero-fill the trailer and go to the next block.
        if (leftover > 0) this.file.append(ZEROES.subarray(0, leftover))
        this.#blockOffset = 0
      }
      const avail = BLOCK_SIZE - this.#blockOffset - HEADER_SIZE
      const n = left < avail ? left : avail
      const end = left === n
      const type = begin && end
        ? RecordType.FULL
        : begin ? RecordType.FIRST : end ? RecordType.LAST : RecordType.MIDDLE
      this.#emit(type, data, pos, n)
      pos += n
      left -= n
      begin = false
    } while (left > 0)
  }

  #emit (type: number, data: Uint8Array, pos: number, n: number): void {
    const payload = data.subarray(pos, pos + n)
    const h = this.#header
    const crc = maskCrc(crc32c(payload, typeCrc(type)))
    h.writeUInt32LE(crc, 0)
    h[4] = n & 0xff
    h[5] = n >>> 8
    h[6] = type
    this.file.append(h)
    if (n > 0) this.file.append(payload)
    this.#blockOffset += HEADER_SIZE + n
  }
}
