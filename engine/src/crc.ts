/**
 * CRC-32C (Castagnoli), the checksum of every log record and table block, and LevelDB's masking.
 * The hardware-accelerated implementation comes from @node-rs/crc32 (a solved problem, not the product).
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32'

/**
 * Added after rotating when masking: a CRC stored next to data that itself contains CRCs (a log record
 * holding a table block, say) would otherwise make CRC-of-CRC patterns that checksum to trivial values.
 */
export const CRC_MASK_DELTA = 0xa282ead8

/** CRC-32C of buf, extending `initial` (the CRC of the bytes before buf) when given; uint32. */
export function crc32c (buf: Uint8Array, initial?: number): number {
  return nativeCrc32c(buf, initial) >>> 0
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
