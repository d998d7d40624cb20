/**
 * CRC-32C (Castagnoli), the checksum of every log record and table block, and LevelDB's masking.
 * Both implementations are libraries (a solved problem, not the product): short inputs (commit-log and
 * MANIFEST records) go through crc-32's JavaScript tables, longer ones (table blocks) through the
 * hardware-accelerated @node-rs/crc32. Its N-API call has a fixed cost of a few hundred nanoseconds before
 * the first byte, so below NATIVE_CRC_FROM bytes the table is faster. The native module loads on the first
 * long input: a thread that only writes the log never loads it, and never pays the addon's memory.
 * @node-rs/crc32 is an optional dependency: where its addon is missing (a platform without a prebuilt
 * binary, an install without optional dependencies) or PURE_JS_ENV is set, every input goes to crc-32.
 */
import { createRequire } from 'node:module'
import CRC32C from 'crc-32/crc32c.js'
import { PURE_JS_ENV } from './sstable/compression.js'

/** Inputs of at least this many bytes go to the native implementation. */
export const NATIVE_CRC_FROM = 384

type Crc32c = (buf: Uint8Array, initial?: number) => number

/** crc-32's CRC-32C, in the native one's shape. */
const jsCrc32c: Crc32c = (buf, initial) => CRC32C.buf(buf, initial ?? 0)

let long: Crc32c | null = null

/** The implementation for long inputs: @node-rs/crc32's crc32c (loaded on first use), else crc-32's. */
function longCrc32c (): Crc32c {
  if (long === null) {
    long = jsCrc32c
    if (process.env[PURE_JS_ENV] !== '1') {
      try {
        long = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: Crc32c }).crc32c
      } catch {}
    }
  }
  return long
}

/** Which implementation checksums table blocks in this process: 'native' (@node-rs/crc32) or 'javascript'. */
export function crcImplementation (): 'native' | 'javascript' {
  return longCrc32c() === jsCrc32c ? 'javascript' : 'native'
}

/**
 * Added after rotating when masking: a CRC stored next to data that itself contains CRCs (a log record
 * holding a table block, say) would otherwise make CRC-of-CRC patterns that checksum to trivial values.
 */
export const CRC_MASK_DELTA = 0xa282ead8

/** CRC-32C of buf, extending `initial` (the CRC of the bytes before buf) when given; uint32. */
export function crc32c (buf: Uint8Array, initial?: number): number {
  if (buf.length < NATIVE_CRC_FROM) return CRC32C.buf(buf, initial ?? 0) >>> 0
  return longCrc32c()(buf, initial) >>> 0
}

/** LevelDB's masked representation of a CRC, the form stored on disk: rotate right 15 bits, add a constant. */
export function maskCrc (crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + CRC_MASK_DELTA) >>> 0
}

/** Inverse of maskCrc. */
export function unmaskCrc (masked: number): number {
  const rot = (masked - CRC_MASK_DELTA) >>> 0
  return ((rot >>> 17) | (rot << 15)) >>> 0
}
