import { invalidArgument } from './errors.js'
import type { Bound } from './iterator/db-iterator.js'

/**
 * How abstract-level's data (Buffer, Uint8Array or string, in the buffer, view or utf8 encoding) becomes the
 * bytes the engine stores, and back.
 */

/** A key or value as abstract-level hands it over, after its encoding. */
export type Data = Buffer | Uint8Array | string
/** The encodings the database supports natively. */
export type Encoding = 'buffer' | 'view' | 'utf8'


export function toBuffer (data: Data, encoding: Encoding): Buffer {
  if (encoding === 'utf8') return Buffer.from(data as string, 'utf8')
  // Copy: the caller may reuse its buffer after the write resolves, and the memtable keeps ours.
  return Buffer.from(data as Uint8Array)
}

/** True iff s has only ASCII characters (its UTF-8 bytes are then its latin1 string: itself). */
export function isAscii (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** data[start, end) decoded, or copied for the caller (the bytes may be a cached block's that other readers share). */
export function fromSlice (data: Buffer, start: number, end: number, encoding: Encoding): Data {
  if (encoding === 'utf8') return data.toString('utf8', start, end)
  const out = Buffer.allocUnsafe(end - start)
  data.copy(out, 0, start, end)
  return encoding === 'view' ? new Uint8Array(out.buffer, out.byteOffset, out.length) : out
}

/** The first `length` bytes of b, decoded or copied for the caller. */
export function fromBytes (b: Buffer, length: number, encoding: Encoding): Data {
  if (encoding === 'utf8') return b.toString('utf8', 0, length)
  // Copy: the bytes may be a view into a cached block that other readers share.
  const out = Buffer.allocUnsafe(length)
  b.copy(out, 0, 0, length)
  return encoding === 'view' ? new Uint8Array(out.buffer, out.byteOffset, out.length) : out
}

/** A key as the write path takes it: an ASCII string as it is (its bytes are its characters), else a Buffer. */
export function toKey (data: Data, encoding: Encoding): Buffer | string {
  return encoding === 'utf8' && isAscii(data as string) ? data as string : toBuffer(data, encoding)
}

/**
 * A value as the engine takes it: a string as it is (the log record gets its UTF-8 bytes written straight
 * in, and the memtable keeps them there), anything else copied into a Buffer.
 */
export function toValue (data: Data, encoding: Encoding): Buffer | string {
  return encoding === 'utf8' ? data as string : toBuffer(data, encoding)
}

/** Rejects a key or value longer than the option allows (LEVEL_INVALID_KEY / LEVEL_INVALID_VALUE). */
export function checkSize (b: Buffer | string, max: number, what: 'key' | 'value'): void {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings need no counting.
  const length = typeof b !== 'string' ? b.length : b.length * 3 <= max ? 0 : Buffer.byteLength(b, 'utf8')
  if (length > max) {
    throw invalidArgument(`${what} of ${length} bytes exceeds the limit of ${max} bytes (option max${what === 'key' ? 'Key' : 'Value'}Size)`,
      what === 'key' ? 'LEVEL_INVALID_KEY' : 'LEVEL_INVALID_VALUE')
  }
}

/** Range options of abstract-level as engine bounds, in the key encoding already applied. */
export function boundsOf (options: { gt?: unknown, gte?: unknown, lt?: unknown, lte?: unknown }, enc: Encoding): { lower: Bound | null, upper: Bound | null } {
  let lower: Bound | null = null
  let upper: Bound | null = null
  if (options.gte !== undefined) lower = { key: toBuffer(options.gte as Data, enc), inclusive: true }
  else if (options.gt !== undefined) lower = { key: toBuffer(options.gt as Data, enc), inclusive: false }
  if (options.lte !== undefined) upper = { key: toBuffer(options.lte as Data, enc), inclusive: true }
  else if (options.lt !== undefined) upper = { key: toBuffer(options.lt as Data, enc), inclusive: false }
  return { lower, upper }
}
