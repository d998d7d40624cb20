/**
 * The commit-log format (LevelDB's log format), shared by the WAL and the MANIFEST:
 *
 *   file   := block* (the last block may be partial)
 *   block  := fragment* trailer?        (exactly BLOCK_SIZE bytes except the last)
 *   fragment := checksum fixed32 | length fixed16 | type uint8 | payload[length]
 *   checksum := maskCrc(crc32c(type ++ payload))
 *   trailer  := up to HEADER_SIZE - 1 zero bytes, when the rest of a block cannot hold a header
 *
 * A record is either one FULL fragment or FIRST MIDDLE* LAST. See engine/FORMAT.md for the diagrams.
 */
import { crc32c } from '../crc.js'

/**
 * Fragments never straddle a block, so a reader can resync at the next block boundary after damage and
 * lose at most one block of records; 32 KiB keeps that loss small while headers stay a tiny overhead.
 */
export const BLOCK_SIZE = 32 * 1024

/** checksum (4) + length (2) + type (1). */
export const HEADER_SIZE = 7

/** Fragment types. 0 is never written: zero bytes (preallocated or torn space) must not parse as a record. */
export const RecordType = {
  /** Reserved: a header of zeros is not a record. */
  ZERO: 0,
  /** A whole record in one fragment. */
  FULL: 1,
  /** The first fragment of a record spanning blocks. */
  FIRST: 2,
  /** An inner fragment. */
  MIDDLE: 3,
  /** The final fragment. */
  LAST: 4
} as const

/** Largest type value this version understands; higher values are damage (or a newer format). */
export const MAX_RECORD_TYPE = RecordType.LAST

/** crc32c of each possible type byte alone: a fragment's checksum extends it over the payload, no concatenation. */
const TYPE_CRCS = Array.from({ length: 256 }, (_, t) => crc32c(Buffer.from([t])))

/** The crc32c of the single byte `type` (the start of every fragment checksum). */
export function typeCrc (type: number): number {
  return TYPE_CRCS[type]
}
