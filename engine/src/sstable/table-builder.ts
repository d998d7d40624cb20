/**
 * Writes an SSTable (layout in format.ts and engine/FORMAT.md) from internal keys added in strictly
 * increasing order. Blocks go to the file as they fill; finish() writes the filter, properties, index and
 * footer and flushes, but does not sync: the caller syncs the file and its directory.
 */
import { copyBytes } from '../coding.js'
import { crc32c, maskCrc } from '../crc.js'
import { invalidArgument } from '../errors.js'
import type { WritableFile } from '../fs/file-system.js'
import {
  compareInternalKeySlices, KIND_DELETE, KIND_RANGE_DELETE, seqAt, sharedPrefixLength, shortestSeparator, shortSuccessor, TRAILER_SIZE
} from '../keys.js'
import { BlockBuilder } from './block-builder.js'
import { BloomFilterBuilder } from './bloom.js'
import { type CompressionName, compressBlock, compressionType } from './compression.js'
import {
  BLOCK_TRAILER_SIZE, COMPRESSION_NONE, encodeFooter, encodeHandleVarint, TABLE_FORMAT_VERSION, type BlockHandle
} from './format.js'
import { encodeProperties, type TableProperties } from './properties.js'
import { exactCopy } from '../version/file-meta.js'

export interface TableBuilderOptions {
  /** Target uncompressed size of a data block (a block is cut once it reaches this). */
  blockSize: number
  /** Entries between restart points in data blocks. */
  restartInterval: number
  /** Bloom filter bits per user key; 0 = no filter. */
  bitsPerKey: number
  /**
   * The filter's layout: 'cache-local' (the default; one 64-byte line per key) or 'classic' (the layout of
   * earlier versions, still read: tests write it to check that tables of those versions keep working).
   */
  filterKind?: 'cache-local' | 'classic'
  /** Codec of the data blocks (default 'none'); a block that would not shrink by 1/8 is stored as is. */
  compression?: CompressionName
  /**
   * The footer's format version (default TABLE_FORMAT_VERSION): tests write 1, with compression 'none', to
   * check that tables of earlier versions keep opening.
   */
  formatVersion?: number
  /** Named in errors. */
  fileName: string
}

/** The compression-type byte each block's checksum ends with, by type. */
const TYPE_BYTES = Array.from({ length: 256 }, (_, type) => Buffer.from([type]))

/** Index entries store whole separator keys: restart points would save little and cost a scan. */
const INDEX_RESTART_INTERVAL = 1

/**
 * Whether the internal key key[start, end) comes after last[0, lastLen) in internal-key order, given the
 * length of their common prefix (which a table builder has already measured for the block's prefix compression).
 */
function follows (last: Buffer, lastLen: number, key: Buffer, start: number, end: number, shared: number): boolean {
  const lastUser = lastLen - TRAILER_SIZE
  const user = end - start - TRAILER_SIZE
  // The user keys differ at a byte both have.
  if (shared < lastUser && shared < user) return key[start + shared] > last[shared]
  // One user key is a prefix of the other: the shorter comes first.
  if (lastUser !== user) return user > lastUser
  // One user key: the trailers decide (newer first).
  return compareInternalKeySlices(last, 0, lastLen, key, start, end) < 0
}

export class TableBuilder {
  readonly #file: WritableFile
  readonly #opts: TableBuilderOptions
  #offset: number
  #data: BlockBuilder
  #index = new BlockBuilder(INDEX_RESTART_INTERVAL)
  #filter: BloomFilterBuilder | null
  #lastHash = -1
  #lastKey: Buffer = Buffer.allocUnsafe(64)
  #lastKeyLen = 0
  #pendingHandle: BlockHandle | null = null
  #handleScratch = Buffer.allocUnsafe(20)
  #trailer = Buffer.allocUnsafe(BLOCK_TRAILER_SIZE)
  #closed = false
  readonly #compression: number
  readonly #formatVersion: number
  #props: TableProperties = {
    entries: 0,
    deletions: 0,
    rangeDeletions: 0,
    rawKeyBytes: 0,
    rawValueBytes: 0,
    dataBlocks: 0,
    indexBytes: 0,
    filterBytes: 0,
    smallestKey: Buffer.alloc(0),
    largestKey: Buffer.alloc(0),
    minSequence: 0,
    maxSequence: 0,
    filterBitsPerKey: 0,
    formatVersion: TABLE_FORMAT_VERSION,
    creationTime: 0
  }

  constructor (file: WritableFile, opts: TableBuilderOptions) {
    if (!(opts.blockSize >= 1)) throw invalidArgument(`blockSize must be >= 1, got ${opts.blockSize}`)
    if (!(opts.bitsPerKey >= 0)) throw invalidArgument(`bitsPerKey must be >= 0, got ${opts.bitsPerKey}`)
    this.#file = file
    this.#opts = opts
    this.#offset = file.size
    this.#data = new BlockBuilder(opts.restartInterval)
    this.#filter = opts.bitsPerKey > 0 ? new BloomFilterBuilder(opts.bitsPerKey, opts.filterKind ?? 'cache-local') : null
    this.#props.filterBitsPerKey = opts.bitsPerKey
    this.#compression = compressionType(opts.compression ?? 'none')
    this.#formatVersion = opts.formatVersion ?? TABLE_FORMAT_VERSION
    this.#props.formatVersion = this.#formatVersion
  }

  /** Bytes written so far plus the open data block: what the file would roughly be if finished now. */
  get estimatedSize (): number {
    return this.#offset + this.#data.currentSizeEstimate()
  }

  /** Entries added so far. */
  get entries (): number { return this.#props.entries }

  /**
   * Adds an entry whose value is value[vstart, vend) (all of it by default); ik must be greater than every key
   * added before (internal-key order).
   */
  add (ik: Buffer, value: Uint8Array, vstart = 0, vend = value.length): void {
    this.addEntry(ik, 0, ik.length, value, vstart, vend)
  }

  /**
   * add() of the internal key key[kstart, kend), read where it lies: a compaction passes its input cursor's
   * bytes, so that no buffer is made per entry. Nothing of key or value is kept after the call.
   */
  addEntry (key: Buffer, kstart: number, kend: number, value: Uint8Array, vstart: number, vend: number): void {
    if (this.#closed) throw new Error('TableBuilder.add() after finish() or abandon()')
    const klen = kend - kstart
    if (klen < TRAILER_SIZE) throw invalidArgument(`internal key of ${klen} bytes is too short`, 'LEVEL_INVALID_KEY')
    const trailer = kend - TRAILER_SIZE
    const p = this.#props
    let shared = 0
    if (p.entries > 0) {
      const last = this.#lastKey
      const lastLen = this.#lastKeyLen
      shared = sharedPrefixLength(last, 0, key, kstart, Math.min(lastLen, klen))
      if (!follows(last, lastLen, key, kstart, kend, shared)) {
        throw invalidArgument(`table keys out of order in ${this.#opts.fileName}: an added key is not greater than the previous one`, 'LEVEL_INVALID_KEY')
      }
      if (this.#pendingHandle !== null) {
        // Once a block: the views cost nothing beside the block's write.
        this.#addIndexEntry(shortestSeparator(last.subarray(0, lastLen), key.subarray(kstart, kend)), this.#pendingHandle)
        this.#pendingHandle = null
      }
    } else {
      p.smallestKey = exactCopy(key.subarray(kstart, kend))
      p.minSequence = p.maxSequence = seqAt(key, trailer)
    }

    if (this.#filter !== null) {
      const h = this.#filter.hash(key, kstart, trailer)
      // Versions of one user key are adjacent: hash each user key once (an equal hash adds the same bits anyway).
      if (h !== this.#lastHash) {
        this.#filter.addHash(h)
        this.#lastHash = h
      }
    }

    const seq = seqAt(key, trailer)
    if (seq < p.minSequence) p.minSequence = seq
    if (seq > p.maxSequence) p.maxSequence = seq
    const kind = key[trailer]
    if (kind === KIND_DELETE) p.deletions++
    else if (kind === KIND_RANGE_DELETE) p.rangeDeletions++
    p.entries++
    p.rawKeyBytes += klen
    p.rawValueBytes += vend - vstart

    // The block's previous key is this.#lastKey (or none, in a new block): it shares `shared` bytes with this one.
    this.#data.addShared(key, kstart, kend, shared, value, vstart, vend)
    if (klen > this.#lastKey.length) {
      this.#lastKey = Buffer.allocUnsafe(Math.max(klen, this.#lastKey.length * 2))
      shared = 0
    }
    copyBytes(key, kstart + shared, this.#lastKey, shared, klen - shared)
    this.#lastKeyLen = klen

    if (this.#data.currentSizeEstimate() >= this.#opts.blockSize) this.#flushDataBlock()
  }

  /** Writes the rest of the table and flushes the file (no sync); returns its properties and size. */
  finish (): TableProperties & { fileSize: number } {
    if (this.#closed) throw new Error('TableBuilder.finish() after finish() or abandon()')
    this.#closed = true
    const p = this.#props
    if (!this.#data.empty) this.#flushDataBlock()
    if (this.#pendingHandle !== null) {
      this.#addIndexEntry(shortSuccessor(this.#lastKey.subarray(0, this.#lastKeyLen)), this.#pendingHandle)
      this.#pendingHandle = null
    }
    if (p.entries > 0) p.largestKey = exactCopy(this.#lastKey.subarray(0, this.#lastKeyLen))

    let filterHandle: BlockHandle = { offset: 0, size: 0 }
    if (this.#filter !== null) {
      const filter = this.#filter.finish()
      p.filterBytes = filter.length
      filterHandle = this.#writeBlock(filter)
    }
    const index = this.#index.finish()
    p.indexBytes = index.length
    p.creationTime = Date.now()
    const propertiesHandle = this.#writeBlock(encodeProperties(p))
    const indexHandle = this.#writeBlock(index)
    const footer = encodeFooter({ index: indexHandle, filter: filterHandle, properties: propertiesHandle, formatVersion: this.#formatVersion })
    this.#file.append(footer)
    this.#offset += footer.length
    this.#file.flush()
    return { ...p, fileSize: this.#offset }
  }

  /** Gives up on the table: nothing more is written; the caller closes and deletes the file. */
  abandon (): void {
    this.#closed = true
  }

  #addIndexEntry (key: Buffer, h: BlockHandle): void {
    const end = encodeHandleVarint(this.#handleScratch, 0, h)
    this.#index.add(key, this.#handleScratch.subarray(0, end))
  }

  #flushDataBlock (): void {
    const raw = this.#data.finish()
    const compressed = this.#compression === COMPRESSION_NONE ? null : compressBlock(raw, this.#compression)
    this.#pendingHandle = compressed === null ? this.#writeBlock(raw) : this.#writeBlock(compressed, this.#compression)
    this.#data.reset()
    this.#props.dataBlocks++
  }

  /** Appends contents and its trailer (type, masked crc32c over contents ++ type); returns its handle. */
  #writeBlock (contents: Buffer, type = COMPRESSION_NONE): BlockHandle {
    const handle = { offset: this.#offset, size: contents.length }
    const t = this.#trailer
    t[0] = type
    t.writeUInt32LE(maskCrc(crc32c(TYPE_BYTES[type], crc32c(contents))), 1)
    this.#file.append(contents)
    this.#file.append(t)
    this.#offset += contents.length + BLOCK_TRAILER_SIZE
    return handle
  }
}
