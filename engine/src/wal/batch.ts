/**
 * A write batch: the payload of one WAL record, applied atomically.
 *
 *   batch := seq fixed64 | count fixed32 | entry[count]
 *   entry := kind uint8 | keyLen varint32 | key | (valueLen varint32 | value)   -- value for KIND_VALUE and KIND_RANGE_DELETE
 *
 * Entry i gets sequence number seq + i.
 */
import { ByteReader, encodeFixed32, encodeFixed64, encodeVarint32, varintLength } from '../coding.js'
import { corruption, invalidArgument } from '../errors.js'
import { KIND_DELETE, KIND_RANGE_DELETE, KIND_VALUE, MAX_SEQUENCE, type Kind } from '../keys.js'

/** seq (8) + count (4). */
export const BATCH_HEADER_SIZE = 12

/** One operation of a batch. */
export interface BatchOp {
  kind: Kind
  key: Buffer
  /** Required for KIND_VALUE and KIND_RANGE_DELETE (the end bound), absent for KIND_DELETE. */
  value?: Buffer
}

/** A decoded batch. */
export interface DecodedBatch { seq: number, ops: BatchOp[] }

function hasValue (kind: number): boolean {
  return kind === KIND_VALUE || kind === KIND_RANGE_DELETE
}

/** Byte lengths of string values between encodeBatch's two passes (reused: encoding is synchronous). */
let stringLengths: number[] = []

/** Where encodeBatch may put a record: `reserve(size)` sets aside size bytes of `data` and returns their offset. */
export interface BatchTarget {
  reserve: (size: number) => number
  /** Read after reserve(): reserving may replace it with a larger buffer. */
  readonly data: Buffer
}

/**
 * Encodes ops with first sequence number seq into one exactly-sized record: a buffer of its own, or, with
 * `into`, bytes reserved in into.data (the record returned is a view of them). A key may be an ASCII string,
 * a value any string (its UTF-8 bytes are written, saving the caller a Buffer per value). With `slices`,
 * entry i's key lands at [slices[4i], +slices[4i + 1]) and its value at [slices[4i + 2], +slices[4i + 3])
 * (offset -1 for an op without value), offsets in into.data, or in the record without `into`: the memtable
 * keeps them instead of buffers of its own.
 */
export function encodeBatch (seq: number, ops: ReadonlyArray<{ kind: number, key: Uint8Array | string, value?: Uint8Array | string }>, slices?: number[], into?: BatchTarget): Buffer {
  // Compared as seq > MAX - (n - 1): seq + n - 1 can round back into range near 2^53.
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > MAX_SEQUENCE - Math.max(ops.length - 1, 0)) {
    throw invalidArgument(`batch sequence ${seq} with ${ops.length} ops is out of range`)
  }
  let size = BATCH_HEADER_SIZE
  let strings = 0
  for (const op of ops) {
    size += 1 + varintLength(op.key.length) + op.key.length
    if (hasValue(op.kind)) {
      const v = op.value
      if (v === undefined) throw invalidArgument(`batch op of kind ${op.kind} needs a value`)
      let n: number
      if (typeof v === 'string') {
        n = Buffer.byteLength(v, 'utf8')
        stringLengths[strings++] = n
      } else {
        n = v.length
      }
      size += varintLength(n) + n
    } else if (op.kind !== KIND_DELETE) {
      throw invalidArgument(`unknown batch op kind ${op.kind}`)
    }
  }
  let buf: Buffer
  let start = 0
  if (into !== undefined) {
    start = into.reserve(size)
    buf = into.data
  } else {
    buf = Buffer.allocUnsafe(size)
  }
  let p = encodeFixed64(buf, start, seq)
  p = encodeFixed32(buf, p, ops.length)
  strings = 0
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]
    buf[p++] = op.kind
    p = encodeVarint32(buf, p, op.key.length)
    const key = op.key
    if (slices !== undefined) { slices[4 * i] = p; slices[4 * i + 1] = key.length }
    // A string key is ASCII (the caller's promise): one byte per character.
    if (typeof key === 'string') buf.write(key, p, key.length, 'latin1')
    else buf.set(key, p)
    p += key.length
    if (hasValue(op.kind)) {
      const v = op.value as Uint8Array | string
      if (typeof v === 'string') {
        const n = stringLengths[strings++]
        p = encodeVarint32(buf, p, n)
        if (slices !== undefined) { slices[4 * i + 2] = p; slices[4 * i + 3] = n }
        if (n > 0) buf.write(v, p, n, 'utf8')
        p += n
      } else {
        p = encodeVarint32(buf, p, v.length)
        if (slices !== undefined) { slices[4 * i + 2] = p; slices[4 * i + 3] = v.length }
        buf.set(v, p)
        p += v.length
      }
    } else if (slices !== undefined) {
      slices[4 * i + 2] = -1
      slices[4 * i + 3] = 0
    }
  }
  if (stringLengths.length > 4096) stringLengths = []
  return into !== undefined ? buf.subarray(start, start + size) : buf
}

/**
 * Decodes a batch; keys and values are views into buf (copy them to keep them beyond buf's life).
 * Throws LEVEL_CORRUPTION naming fileName and the offset (offset = buf's position in the file) if malformed.
 */
export function decodeBatch (buf: Buffer, fileName = '(batch)', offset = 0): DecodedBatch {
  const r = new ByteReader(buf, fileName, offset)
  if (buf.length < BATCH_HEADER_SIZE) throw r.fail(`write batch too short (${buf.length} bytes, header is ${BATCH_HEADER_SIZE})`, 0)
  const seq = r.fixed64()
  const count = r.fixed32()
  // Each entry takes at least 2 bytes: a count beyond that is damage, not a reason to allocate.
  if (count > (buf.length - BATCH_HEADER_SIZE) / 2) throw r.fail(`write batch count ${count} does not fit in ${buf.length} bytes`, 8)
  if (count > 0 && seq > MAX_SEQUENCE - (count - 1)) throw r.fail(`write batch sequence ${seq} + ${count} overflows`, 0)
  const ops: BatchOp[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const at = r.pos
    const kind = r.byte()
    if (kind !== KIND_VALUE && kind !== KIND_DELETE && kind !== KIND_RANGE_DELETE) throw r.fail(`write batch entry ${i} has unknown kind ${kind}`, at)
    const key = r.lengthPrefixed()
    ops[i] = hasValue(kind) ? { kind: kind as Kind, key, value: r.lengthPrefixed() } : { kind: kind as Kind, key }
  }
  if (r.remaining !== 0) throw r.fail(`write batch has ${r.remaining} bytes after its ${count} entries`)
  return { seq, ops }
}

/** Number of entries in an encoded batch, without decoding it. */
export function batchCount (buf: Buffer, fileName = '(batch)', offset = 0): number {
  if (buf.length < BATCH_HEADER_SIZE) throw corruption('write batch too short', { file: fileName, offset })
  return buf.readUInt32LE(8)
}
