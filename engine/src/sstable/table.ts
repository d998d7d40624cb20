/**
 * Reads an SSTable (layout in format.ts and engine/FORMAT.md). Opening reads the footer, index block,
 * filter and properties into memory (all checksum-verified); data blocks are read on demand, through the
 * shared BlockCache when one is given.
 */
import { readFixed32 } from '../coding.js'
import { crc32c, unmaskCrc } from '../crc.js'
import { asIoError, corruption } from '../errors.js'
import type { ReadableFile } from '../fs/file-system.js'
import type { InternalIterator } from '../iterator/internal-iterator.js'
import { compareInternalKeys, encodeTrailer, KIND_SEEK, TRAILER_SIZE } from '../keys.js'
import { Block, BlockEntry } from './block.js'
import { IndexBlock, type IndexIterator } from './index-block.js'
import type { BlockCache, FileBlocks } from './block-cache.js'
import { type BloomProbe, bloomMayContain } from './bloom.js'
import { decompressBlock } from './compression.js'
import { BLOCK_TRAILER_SIZE, COMPRESSION_NONE, decodeFooter, FOOTER_SIZE, type BlockHandle, type Footer } from './format.js'
import { decodeProperties, type TableProperties } from './properties.js'
import { READ_AHEAD_BYTES, type ReadAhead, readAheadBuffers, TableIterator, type TableBlockSource } from './table-iterator.js'

export interface TableOpenOptions {
  /** Identifies the table's blocks in the block cache. */
  fileNumber: number
  blockCache?: BlockCache
  /** Verify the checksum of data blocks read from the file (default true). Cached blocks were verified once. */
  verifyChecksums?: boolean
  /** Named in errors; defaults to the file's path. */
  fileName?: string
  /**
   * Leave the bloom filter unread (default false): for a table only scanned front to back, a compaction's
   * input, whose filter would be read, verified and dropped again unused. Point reads then probe every block.
   */
  skipFilter?: boolean
}

/** An open SSTable. Synchronous; not safe to call re-entrantly from inside its own methods (nothing does). */
export class Table implements TableBlockSource {
  readonly file: ReadableFile
  readonly fileNumber: number
  readonly fileName: string
  readonly fileSize: number
  readonly properties: TableProperties
  readonly #footer: Footer
  readonly #index: IndexBlock
  readonly #filter: Buffer | null
  readonly #cache: BlockCache | undefined
  /** This file's slots in the block cache. */
  readonly #cached: FileBlocks | undefined
  readonly #verify: boolean
  /** Where data blocks end (the first meta block): what approximateOffsetOf answers past the last key. */
  readonly #dataEnd: number
  // Reused by get(): it is synchronous, so one of each per table suffices.
  #lookup = Buffer.allocUnsafe(64)
  #result = new TableGetResult()

  private constructor (file: ReadableFile, opts: TableOpenOptions, footer: Footer, index: IndexBlock, filter: Buffer | null, properties: TableProperties) {
    this.file = file
    this.fileNumber = opts.fileNumber
    this.fileName = opts.fileName ?? file.path
    this.fileSize = file.size
    this.#footer = footer
    this.#index = index
    this.#filter = filter
    this.properties = properties
    this.#cache = opts.blockCache
    this.#cached = opts.blockCache?.fileBlocks(opts.fileNumber, index.count)
    this.#verify = opts.verifyChecksums ?? true
    this.#dataEnd = dataEndOf(footer)
  }

  /**
   * Opens a table: reads and verifies footer, index, filter and properties. Throws LEVEL_CORRUPTION (bad
   * magic: "not an SSTable"; bad checksum; bad handles), LEVEL_UNSUPPORTED_FORMAT (unknown version) or
   * LEVEL_IO_ERROR. Does not take ownership of the file: the caller closes it after the table is dropped.
   */
  static open (file: ReadableFile, opts: TableOpenOptions): Table {
    const fileName = opts.fileName ?? file.path
    const size = file.size
    if (size < FOOTER_SIZE) {
      throw corruption(`not an SSTable: ${size} bytes is shorter than the ${FOOTER_SIZE}-byte footer`, { file: fileName, offset: 0 })
    }
    const footer = decodeFooter(readRange(file, fileName, size - FOOTER_SIZE, FOOTER_SIZE), fileName, size)
    const index = IndexBlock.decode(new Block(readVerified(file, fileName, footer.index, 'index'), fileName, footer.index.offset), dataEndOf(footer))
    let filter: Buffer | null = null
    if (footer.filter.size > 0 && opts.skipFilter !== true) {
      filter = readVerified(file, fileName, footer.filter, 'filter')
      if (filter.length < 2) throw corruption(`filter block of ${filter.length} bytes is too short`, { file: fileName, offset: footer.filter.offset })
    }
    const propsBlock = new Block(readVerified(file, fileName, footer.properties, 'properties'), fileName, footer.properties.offset)
    const properties = decodeProperties(propsBlock)
    if (properties.formatVersion !== footer.formatVersion) {
      throw corruption(`properties say format version ${properties.formatVersion}, footer says ${footer.formatVersion}`, { file: fileName, offset: footer.properties.offset })
    }
    return new Table(file, opts, footer, index, filter, properties)
  }

  /** False iff the filter proves userKey is not in the table (true when there is no filter). */
  mayContain (userKey: Buffer): boolean {
    return this.#filter === null || bloomMayContain(this.#filter, userKey)
  }

  /**
   * The newest entry of userKey with seq <= snapshotSeq (any kind: the caller interprets it), or undefined.
   * Checks the filter first and reads at most one data block. The entry object and its key are this
   * table's, reused by its next get(): read them before then. The value is a view into a cached block:
   * copy it before handing it out, never mutate it. probe: userKey's filter hashes, when the caller checks
   * several tables for it (reset for userKey).
   */
  get (userKey: Buffer, snapshotSeq: number, probe?: BloomProbe): TableGetResult | undefined {
    const filter = this.#filter
    if (filter !== null && !(probe !== undefined ? probe.mayMatch(filter) : bloomMayContain(filter, userKey))) return undefined
    const target = this.#lookupKey(userKey, snapshotSeq)
    const n = userKey.length + TRAILER_SIZE
    const index = this.#index
    let i = index.seek(target, n)
    if (i >= index.count) return undefined
    const e = found
    let block = this.#pointReadBlock(i)
    if (!block.find(target, n, e)) {
      // Every entry of this block is < target. The next block starts above this index key, so it can hold
      // userKey only if this index key's user key is userKey itself (versions straddling blocks).
      if (!index.userKeyEquals(i, userKey)) return undefined
      if (++i >= index.count) return undefined
      block = this.#pointReadBlock(i)
      if (!block.find(target, n, e)) return undefined
    }
    if (!e.matches) return undefined
    const r = this.#result
    if (r.key.length !== n) r.key = Buffer.allocUnsafeSlow(n)
    e.writeKey(userKey, r.key)
    r.data = block.data
    r.start = e.valueOffset
    r.end = e.valueOffset + e.valueLength
    return r
  }

  /**
   * A cursor over every entry; verifyChecksums defaults to the table's setting, fillCache to true. readAhead
   * (for bulk scans such as compaction) reads large chunks into a reused buffer and leaves the cache alone.
   */
  newIterator (opts: { verifyChecksums?: boolean, fillCache?: boolean, readAhead?: boolean } = {}): InternalIterator {
    return new TableIterator(this, { verifyChecksums: opts.verifyChecksums ?? this.#verify, fillCache: opts.fillCache ?? true, readAhead: opts.readAhead })
  }

  /** Approximate file offset where entries >= ik begin (the data end if ik is past every key). */
  approximateOffsetOf (ik: Buffer): number {
    const i = this.#index.seek(ik)
    return i < this.#index.count ? this.#index.blockOffset(i) : this.#dataEnd
  }

  /**
   * Reads and verifies every data block and checks the entries are strictly increasing and match the
   * index and properties (for `db check` tools). Throws LEVEL_CORRUPTION at the first problem.
   */
  checkAllBlocks (): { dataBlocks: number, entries: number } {
    const index = this.#index
    let blocks = 0
    let entries = 0
    let prev: Buffer | null = null
    for (let i = 0; i < index.count; i++) {
      const h = { offset: index.blockOffset(i), size: index.blockSize(i) }
      const block = this.#readBlock(i, h, true, false)
      const it = block.iterator()
      for (it.seekToFirst(); it.valid(); it.next()) {
        const k = it.key()
        if (prev !== null && compareInternalKeys(prev, k) >= 0) {
          throw corruption('keys out of order', { file: this.fileName, offset: h.offset })
        }
        prev = k
        entries++
      }
      if (prev !== null && compareInternalKeys(prev, index.key(i)) > 0) {
        throw corruption('a data block holds keys beyond its index entry', { file: this.fileName, offset: h.offset })
      }
      blocks++
    }
    if (blocks !== this.properties.dataBlocks || entries !== this.properties.entries) {
      throw corruption(`found ${blocks} blocks / ${entries} entries, properties say ${this.properties.dataBlocks} / ${this.properties.entries}`,
        { file: this.fileName, offset: this.#footer.properties.offset })
    }
    return { dataBlocks: blocks, entries }
  }

  /** Bytes of index and filter held in memory for this table. */
  get memoryBytes (): number {
    return this.#index.memoryBytes + (this.#filter?.length ?? 0)
  }

  /** TableBlockSource: a new cursor over the index. */
  newIndexIterator (): IndexIterator {
    return this.#index.iterator()
  }

  /** TableBlockSource: the data block of index entry i (or of an index cursor's current entry). */
  dataBlockAt (entry: number | IndexIterator, verifyChecksums: boolean, fillCache: boolean, current: Block | null): Block {
    const i = typeof entry === 'number' ? entry : entry.position
    const offset = this.#index.blockOffset(i)
    if (current !== null && current.fileOffset === offset) return current
    return this.#readBlock(i, { offset, size: this.#index.blockSize(i) }, verifyChecksums, fillCache)
  }

  /** TableBlockSource: the data block of index entry i, a transient view into the scan's read-ahead buffer. */
  dataBlockAhead (i: number, verifyChecksums: boolean, ahead: ReadAhead, current: Block | null): Block {
    const offset = this.#index.blockOffset(i)
    if (current !== null && current.fileOffset === offset) return current
    const size = this.#index.blockSize(i)
    const need = size + BLOCK_TRAILER_SIZE
    if (ahead.buffer === null || offset < ahead.start || offset + need > ahead.end) {
      // Read from this block on, up to the chunk size, never past the data blocks (nor less than this block).
      const length = Math.max(need, Math.min(READ_AHEAD_BYTES, this.#dataEnd - offset))
      if (ahead.buffer === null || ahead.buffer.length < length) ahead.buffer = readAheadBuffers.take(length)
      ahead.start = offset
      ahead.end = offset
      readRange(this.file, this.fileName, offset, length, ahead.buffer)
      ahead.end = offset + length
    }
    const at = offset - ahead.start
    const raw = ahead.buffer.subarray(at, at + need)
    const h = { offset, size }
    if (verifyChecksums) verifyBlock(raw, h, this.fileName, 'data')
    // A compressed block decodes into memory of its own; a raw one stays a view into the reused buffer.
    if (raw[size] !== COMPRESSION_NONE) return new Block(decompressBlock(raw.subarray(0, size), raw[size], this.fileName, offset), this.fileName, offset)
    const block = new Block(raw, this.fileName, offset, size)
    block.transient = true
    return block
  }

  /**
   * Data block i for a point lookup. A cached block that point lookups come back to (a second one) is
   * replaced in the cache by a copy with a search index (block-search-index.ts); one read once keeps none.
   */
  #pointReadBlock (i: number): Block {
    const block = this.dataBlockAt(i, this.#verify, true, null)
    const slots = this.#cached
    if (block.searchIndexAt >= 0 || block.cacheOwner !== slots || slots === undefined || ++block.pointReads < 2) return block
    const indexed = block.withSearchIndex()
    if (indexed === null) return block
    this.#cache!.set(slots, i, indexed)
    return indexed
  }

  /** Data block i, at h: from the cache, or read (and cached if fillCache). */
  #readBlock (i: number, h: BlockHandle, verify: boolean, fillCache: boolean): Block {
    const cache = this.#cache
    const slots = this.#cached
    if (cache !== undefined && slots !== undefined) {
      const cached = cache.get(slots, i)
      if (cached !== undefined) return cached
    }
    const raw = readRange(this.file, this.fileName, h.offset, h.size + BLOCK_TRAILER_SIZE)
    if (verify) verifyBlock(raw, h, this.fileName, 'data')
    // The cache holds blocks uncompressed: a hit costs no decoding.
    const type = raw[h.size]
    const block = type !== COMPRESSION_NONE
      ? new Block(decompressBlock(raw.subarray(0, h.size), type, this.fileName, h.offset), this.fileName, h.offset)
      : null
    // Only verified blocks enter the cache: whoever finds a block there may rely on its checksum.
    if (cache === undefined || slots === undefined || !fillCache || !verify) return block ?? new Block(raw, this.fileName, h.offset, h.size)
    if (block !== null) {
      cache.set(slots, i, block)
      return block
    }
    // A cached block must own its memory: a small read is a slice of Node's shared pool, which it would pin whole.
    const own = raw.byteOffset === 0 && raw.buffer.byteLength === raw.length ? raw : copyToOwnMemory(raw)
    const rawBlock = new Block(own, this.fileName, h.offset, h.size)
    cache.set(slots, i, rawBlock)
    return rawBlock
  }

  #lookupKey (userKey: Buffer, seq: number): Buffer {
    const n = userKey.length + TRAILER_SIZE
    if (n > this.#lookup.length) this.#lookup = Buffer.allocUnsafe(Math.max(n, this.#lookup.length * 2))
    const lk = this.#lookup
    if (userKey.length <= 32) for (let i = 0; i < userKey.length; i++) lk[i] = userKey[i]
    else lk.set(userKey, 0)
    encodeTrailer(this.#lookup, userKey.length, seq, KIND_SEEK)
    return this.#lookup
  }
}

const EMPTY = Buffer.alloc(0)

/**
 * What Table.get found: the internal key, and the value as data[start, end) (data is a block's bytes, often
 * a cached block: decode or copy it, never mutate it). Reused by the table's next get().
 */
export class TableGetResult {
  key: Buffer = EMPTY
  data: Buffer = EMPTY
  start = 0
  end = 0
  /** The value as a view (allocates one; readers that decode at once use data/start/end). */
  get value (): Buffer { return this.data.subarray(this.start, this.end) }
}

/** Where get() finds its entry: lookups are synchronous, so one serves every table. */
const found = new BlockEntry()

function copyToOwnMemory (b: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(b.length)
  b.copy(own)
  return own
}

/** Where the data blocks end: the first meta block. */
function dataEndOf (footer: Footer): number {
  return footer.filter.size > 0 ? footer.filter.offset : footer.properties.offset
}

function readRange (file: ReadableFile, fileName: string, offset: number, length: number, into?: Buffer): Buffer {
  try {
    return file.read(offset, length, into)
  } catch (err) {
    throw asIoError(err, { file: fileName, op: `read ${length} bytes at offset ${offset}` })
  }
}

function unknownCompression (type: number, h: BlockHandle, fileName: string): Error {
  return corruption(`meta block has compression type ${type}; only data blocks are compressed`, { file: fileName, offset: h.offset + h.size })
}

/** Throws LEVEL_CORRUPTION unless raw (contents ++ trailer) carries a matching checksum. */
function verifyBlock (raw: Buffer, h: BlockHandle, fileName: string, what: string): void {
  const stored = unmaskCrc(readFixed32(raw, h.size + 1))
  if (stored !== crc32c(raw.subarray(0, h.size + 1))) {
    throw corruption(`${what} block checksum mismatch (block at ${h.offset}, ${h.size} bytes)`, { file: fileName, offset: h.offset })
  }
}

/** A meta block (index, filter, properties), verified; these are never compressed. */
function readVerified (file: ReadableFile, fileName: string, h: BlockHandle, what: string): Buffer {
  const raw = readRange(file, fileName, h.offset, h.size + BLOCK_TRAILER_SIZE)
  verifyBlock(raw, h, fileName, what)
  if (raw[h.size] !== COMPRESSION_NONE) throw unknownCompression(raw[h.size], h, fileName)
  return raw.subarray(0, h.size)
}
