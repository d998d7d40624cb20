/**
 * Block compression of SSTable data blocks. A block's trailer names its codec (format.ts); a compressed
 * block's contents are:
 *
 *   LZ4 (type 4):  uncompressed length fixed32 | LZ4 block (the raw block format, no frame)
 *
 * which is lz4_flex's "size-prepended" layout, so the native codec's output is stored and read as it is. The
 * codec was chosen by measurement on real data blocks (`npm run bench:codecs`): LZ4 decodes a 4 KiB block
 * several times faster than Snappy or Zstd, and every cache miss pays that. Both directions use the native
 * lz4-napi when it loads, and lz4js (the same format in JavaScript) where it does not: lz4js decodes at about
 * half the native speed, and encodes much slower, as it must clear a 256 KiB hash table for every block.
 */
import { createRequire } from 'node:module'
import { corruption } from '../errors.js'

/** Codec names the `compression` option takes. */
export type CompressionName = 'none' | 'lz4'

/** Trailer byte of a block stored as is. */
export const COMPRESSION_NONE = 0
/** Trailer byte of an LZ4 block: RocksDB's number for LZ4, so a dump reads the same in both worlds. */
export const COMPRESSION_LZ4 = 4

/**
 * A block is stored compressed only if that saves at least 1/8 of it (LevelDB's rule): below that, the
 * decoding cost of every cache miss buys too little disk.
 */
export const MIN_SAVING_DIVISOR = 8

/** Bytes before the LZ4 block: its uncompressed length. */
const LZ4_HEADER = 4

/** Largest uncompressed block a reader accepts: a block holds at most one value (maxValueSize 32 MiB) and its key. */
const MAX_BLOCK_BYTES = 256 * 1024 * 1024

interface Lz4js {
  compressBound: (n: number) => number
  compressBlock: (src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array) => number
  decompressBlock: (src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number) => number
}
interface NativeLz4 {
  compressSync: (raw: Buffer) => Buffer
  uncompressSync: (stored: Uint8Array) => Buffer
}

const require = createRequire(import.meta.url)
const lz4js = require('lz4js') as Lz4js

/** Set to 1 to use only the JavaScript implementations (CRC-32C and LZ4), as on a platform without the addons. */
export const PURE_JS_ENV = 'LSM_LEVEL_PURE_JS'

let nativeCodec: NativeLz4 | null | undefined
let jsHashTable: Uint32Array | null = null

/** lz4-napi, or null when the addon (an optional dependency) is missing or PURE_JS_ENV is set. */
function nativeLz4 (): NativeLz4 | null {
  if (nativeCodec === undefined) {
    nativeCodec = null
    if (process.env[PURE_JS_ENV] !== '1') {
      try {
        nativeCodec = require('lz4-napi') as NativeLz4
      } catch {}
    }
  }
  return nativeCodec
}

/** Which LZ4 implementation this process uses: 'native' (lz4-napi) or 'javascript' (lz4js). */
export function lz4Implementation (): 'native' | 'javascript' {
  return nativeLz4() !== null ? 'native' : 'javascript'
}

/** The trailer byte of a codec name. */
export function compressionType (name: CompressionName): number {
  return name === 'lz4' ? COMPRESSION_LZ4 : COMPRESSION_NONE
}

/**
 * raw compressed with the codec of `type`, or null when it does not save 1/8 of raw's size (the caller then
 * stores raw with COMPRESSION_NONE).
 */
export function compressBlock (raw: Buffer, type: number): Buffer | null {
  if (type !== COMPRESSION_LZ4) return null
  const limit = raw.length - Math.ceil(raw.length / MIN_SAVING_DIVISOR)
  const native = nativeLz4()
  let out: Buffer
  if (native !== null) {
    out = native.compressSync(raw)
  } else {
    out = Buffer.allocUnsafe(LZ4_HEADER + lz4js.compressBound(raw.length))
    out.writeUInt32LE(raw.length, 0)
    // lz4js keeps positions of the previous input in the table: a cleared table per block keeps blocks independent.
    if (jsHashTable === null) jsHashTable = new Uint32Array(1 << 16)
    else jsHashTable.fill(0)
    const n = lz4js.compressBlock(raw, out.subarray(LZ4_HEADER), 0, raw.length, jsHashTable)
    if (n === 0) return null
    out = out.subarray(0, LZ4_HEADER + n)
  }
  return out.length <= limit ? out : null
}

/**
 * The uncompressed contents of a block stored with `type` (not COMPRESSION_NONE), in memory of its own.
 * Throws LEVEL_CORRUPTION naming file and offset when the type is unknown or the contents do not decode
 * to exactly the length they announce.
 */
export function decompressBlock (stored: Buffer, type: number, file: string, offset: number): Buffer {
  if (type !== COMPRESSION_LZ4) throw corruption(`block has unknown compression type ${type}`, { file, offset })
  if (stored.length < LZ4_HEADER) throw corruption(`LZ4 block of ${stored.length} bytes is too short`, { file, offset })
  const length = stored.readUInt32LE(0)
  if (length > MAX_BLOCK_BYTES) throw corruption(`LZ4 block announces ${length} bytes`, { file, offset })
  const native = nativeLz4()
  if (native !== null) {
    // lz4_flex checks every offset and length against its buffers: damage is an error, never a stray write.
    let out: Buffer
    try {
      out = native.uncompressSync(stored)
    } catch (err) {
      throw corruption(`LZ4 block does not decode (${(err as Error).message})`, { file, offset })
    }
    if (out.length !== length) throw corruption(`LZ4 block decodes to ${out.length} bytes, announced ${length}`, { file, offset })
    return out
  }
  const out = Buffer.allocUnsafeSlow(length)
  // Bytes past out's end are dropped by the typed array, and a bad offset reads zeros: a damaged block
  // cannot write outside out, and shows up as a length that differs from the announced one.
  const end = lz4js.decompressBlock(stored, out, LZ4_HEADER, stored.length - LZ4_HEADER, 0)
  if (end !== length) throw corruption(`LZ4 block decodes to ${end} bytes, announced ${length}`, { file, offset })
  return out
}
