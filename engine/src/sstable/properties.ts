/**
 * The properties block: facts about a table, as a block (block-builder.ts) of name -> value entries,
 * names sorted bytewise; numbers are varint64, keys are raw bytes. Unknown names are ignored (newer
 * writers may add some); a missing known name is corruption.
 */
import { ByteReader, ByteWriter } from '../coding.js'
import { corruption } from '../errors.js'
import { BlockBuilder } from './block-builder.js'
import type { Block } from './block.js'

/** What a table holds, written at finish() and read at open. */
export interface TableProperties {
  /** Entries of any kind. */
  entries: number
  /** KIND_DELETE entries. */
  deletions: number
  /** KIND_RANGE_DELETE entries. */
  rangeDeletions: number
  /** Sum of internal-key lengths. */
  rawKeyBytes: number
  rawValueBytes: number
  dataBlocks: number
  indexBytes: number
  filterBytes: number
  /** First and last internal key (empty buffers for an empty table). */
  smallestKey: Buffer
  largestKey: Buffer
  /** Lowest and highest sequence number (0 and 0 for an empty table). */
  minSequence: number
  maxSequence: number
  /** 0 when the table has no filter. */
  filterBitsPerKey: number
  formatVersion: number
  /** Milliseconds since the epoch when the table was finished. */
  creationTime: number
}

type NumberProp = Exclude<keyof TableProperties, 'smallestKey' | 'largestKey'>

/** Stored names of the numeric properties. */
const NUMBER_NAMES: Record<NumberProp, string> = {
  entries: 'lsm.entries',
  deletions: 'lsm.deletions',
  rangeDeletions: 'lsm.range-deletions',
  rawKeyBytes: 'lsm.raw-key-bytes',
  rawValueBytes: 'lsm.raw-value-bytes',
  dataBlocks: 'lsm.data-blocks',
  indexBytes: 'lsm.index-bytes',
  filterBytes: 'lsm.filter-bytes',
  minSequence: 'lsm.min-sequence',
  maxSequence: 'lsm.max-sequence',
  filterBitsPerKey: 'lsm.filter-bits-per-key',
  formatVersion: 'lsm.format-version',
  creationTime: 'lsm.creation-time'
}
const SMALLEST = 'lsm.smallest-key'
const LARGEST = 'lsm.largest-key'

/** The properties block contents. */
export function encodeProperties (p: TableProperties): Buffer {
  const entries: Array<[string, Buffer]> = [[SMALLEST, p.smallestKey], [LARGEST, p.largestKey]]
  const w = new ByteWriter(16)
  for (const [prop, name] of Object.entries(NUMBER_NAMES) as Array<[NumberProp, string]>) {
    w.reset()
    // filterBitsPerKey may be fractional: stored in thousandths.
    w.varint64(prop === 'filterBitsPerKey' ? Math.round(p[prop] * 1000) : p[prop])
    entries.push([name, w.toBuffer()])
  }
  entries.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])))
  const b = new BlockBuilder(1)
  for (const [name, value] of entries) b.add(Buffer.from(name), value)
  return Buffer.from(b.finish())
}

/** Decodes a verified properties block; throws LEVEL_CORRUPTION if a known property is missing or malformed. */
export function decodeProperties (block: Block): TableProperties {
  const seen = new Map<string, Buffer>()
  // Entries are read in order, no seeking: names are not internal keys.
  const it = block.iterator()
  for (it.seekToFirst(); it.valid(); it.next()) seen.set(it.key().toString('latin1'), it.value())
  const at = { file: block.fileName, offset: block.fileOffset }
  const raw = (name: string): Buffer => {
    const v = seen.get(name)
    if (v === undefined) throw corruption(`properties block lacks ${name}`, at)
    return v
  }
  const props: Partial<TableProperties> = {
    smallestKey: Buffer.from(raw(SMALLEST)),
    largestKey: Buffer.from(raw(LARGEST))
  }
  for (const [prop, name] of Object.entries(NUMBER_NAMES) as Array<[NumberProp, string]>) {
    const v = raw(name)
    const r = new ByteReader(v, block.fileName, block.fileOffset)
    const n = r.varint64()
    if (r.remaining !== 0) throw corruption(`property ${name} has trailing bytes`, at)
    props[prop] = prop === 'filterBitsPerKey' ? n / 1000 : n
  }
  return props as TableProperties
}
