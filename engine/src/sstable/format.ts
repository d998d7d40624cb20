/**
 * SSTable layout (see engine/FORMAT.md for the byte-level diagrams):
 *
 *   [data block 1][trailer] ... [data block N][trailer]
 *   [filter block][trailer]        (absent when bitsPerKey = 0: handle size 0)
 *   [properties block][trailer]
 *   [index block][trailer]
 *   [footer: FOOTER_SIZE bytes]
 *
 *   trailer := compression type uint8 | maskCrc(crc32c(block contents ++ type)) fixed32
 *              (type: COMPRESSION_NONE, or COMPRESSION_LZ4 for a data block stored compressed: compression.ts)
 *   footer  := index handle | filter handle | properties handle   (each: offset fixed64, size fixed64)
 *              | format version fixed32 | maskCrc(crc32c(footer[0, 52))) fixed32 | magic (8 bytes)
 *
 * A handle's size excludes the trailer. Index-block values are handles too, but as two varint64s.
 */
import { ByteReader, encodeFixed32, encodeFixed64, encodeVarint64, readFixed32 } from '../coding.js'
import { crc32c, maskCrc, unmaskCrc } from '../crc.js'
import { corruption, unsupportedFormat } from '../errors.js'

/**
 * The first 8 bytes of the footer's end: 0x89 'L' 'S' 'M' \r \n 0x1a \n (PNG's trick): a non-ASCII first
 * byte so text is never mistaken for a table, and CR/LF/^Z bytes that a text-mode copy would mangle.
 */
export const TABLE_MAGIC = Buffer.from([0x89, 0x4c, 0x53, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a])

/**
 * Version 2: the layout above, data blocks possibly compressed (their trailer names the codec). Version 1 is
 * the same layout with every block stored as is: this build still reads it. Bump it on any incompatible
 * change; readers refuse versions they do not know (LEVEL_UNSUPPORTED_FORMAT) rather than misread them.
 */
export const TABLE_FORMAT_VERSION = 2

/** Highest version this build reads (it reads every version from 1 up). */
export const MAX_SUPPORTED_TABLE_FORMAT_VERSION = 2

/** Three fixed-width handles (16 bytes each), version (4), footer checksum (4), magic (8): fixed so it can be read blind from the end. */
export const FOOTER_SIZE = 3 * 16 + 4 + 4 + 8

/** Compression type (1) + masked crc32c (4) after every block. */
export const BLOCK_TRAILER_SIZE = 5

export { COMPRESSION_NONE, COMPRESSION_LZ4 } from './compression.js'

/** Where a block lives in the file: offset of its first byte and its size without the trailer. */
export interface BlockHandle { offset: number, size: number }

/** The decoded footer. */
export interface Footer {
  index: BlockHandle
  /** size 0 when the table has no filter. */
  filter: BlockHandle
  properties: BlockHandle
  formatVersion: number
}

/** Appends a handle as two varint64s (index-block values); returns the new offset. */
export function encodeHandleVarint (buf: Buffer, offset: number, h: BlockHandle): number {
  return encodeVarint64(buf, encodeVarint64(buf, offset, h.offset), h.size)
}

/** The FOOTER_SIZE bytes of a footer. */
export function encodeFooter (f: Footer): Buffer {
  const buf = Buffer.alloc(FOOTER_SIZE)
  let p = 0
  for (const h of [f.index, f.filter, f.properties]) {
    p = encodeFixed64(buf, p, h.offset)
    p = encodeFixed64(buf, p, h.size)
  }
  p = encodeFixed32(buf, p, f.formatVersion)
  p = encodeFixed32(buf, p, maskCrc(crc32c(buf.subarray(0, p))))
  TABLE_MAGIC.copy(buf, p)
  return buf
}

/**
 * Decodes and checks the footer read from the last FOOTER_SIZE bytes of a table of fileSize bytes:
 * bad magic -> LEVEL_CORRUPTION ("not an SSTable"); unknown version -> LEVEL_UNSUPPORTED_FORMAT;
 * bad checksum or handles outside the file -> LEVEL_CORRUPTION.
 */
export function decodeFooter (buf: Buffer, fileName: string, fileSize: number): Footer {
  const at = fileSize - FOOTER_SIZE
  if (!buf.subarray(FOOTER_SIZE - 8).equals(TABLE_MAGIC)) {
    throw corruption('not an SSTable: bad magic number at the end of the file', { file: fileName, offset: fileSize - 8 })
  }
  const version = readFixed32(buf, 48)
  if (version < 1 || version > MAX_SUPPORTED_TABLE_FORMAT_VERSION) throw unsupportedFormat(fileName, version)
  if (unmaskCrc(readFixed32(buf, 52)) !== crc32c(buf.subarray(0, 52))) {
    throw corruption('SSTable footer checksum mismatch', { file: fileName, offset: at })
  }
  const r = new ByteReader(buf, fileName, at)
  const handle = (): BlockHandle => ({ offset: r.fixed64(), size: r.fixed64() })
  const footer: Footer = { index: handle(), filter: handle(), properties: handle(), formatVersion: version }
  for (const [name, h] of [['index', footer.index], ['filter', footer.filter], ['properties', footer.properties]] as const) {
    if (name === 'filter' && h.size === 0) continue
    if (h.offset + h.size + BLOCK_TRAILER_SIZE > at) {
      throw corruption(`SSTable footer: ${name} block handle (offset ${h.offset}, size ${h.size}) points past the data`, { file: fileName, offset: at })
    }
  }
  return footer
}
