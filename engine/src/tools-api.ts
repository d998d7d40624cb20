/**
 * The engine's internals that the `levelring` inspection tools read files with (`lsm-level/tools`).
 * Not part of the abstract-level API and not covered by semver: tools built from the same tree use it.
 * Re-exports only, so the tools decode every format with the engine's own readers, never a copy of them.
 */
export { readLog, MAX_REPORTED_DROPS } from './wal/log-reader.js'
export type { LogReadMode, LogRecord, LogDrop, LogReadSummary } from './wal/log-reader.js'
export { BLOCK_SIZE as LOG_BLOCK_SIZE, HEADER_SIZE as LOG_HEADER_SIZE } from './wal/log-format.js'
export { decodeBatch, BATCH_HEADER_SIZE } from './wal/batch.js'
export type { BatchOp, DecodedBatch } from './wal/batch.js'

export { Table } from './sstable/table.js'
export type { TableProperties } from './sstable/properties.js'
export { decodeFooter, FOOTER_SIZE, BLOCK_TRAILER_SIZE, TABLE_MAGIC, MAX_SUPPORTED_TABLE_FORMAT_VERSION } from './sstable/format.js'
export type { Footer, BlockHandle } from './sstable/format.js'
export { MAX_PROBES as BLOOM_MAX_PROBES } from './sstable/bloom.js'

export { decodeEdit, COMPARATOR_NAME } from './version/version-edit.js'
export type { VersionEdit } from './version/version-edit.js'
export { VersionBuilder, DB_FORMAT_VERSION } from './version/version-set.js'
export { Version, NUM_LEVELS } from './version/version.js'
export { parseFileName, tableFileName, logFileName, manifestFileName } from './version/file-meta.js'
export type { FileMeta, FileKind } from './version/file-meta.js'

export { KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE, TRAILER_SIZE, MAX_SEQUENCE, seqOf, kindOf, userKeyOf, lookupKey } from './keys.js'
export { decodeTombstoneEnd } from './range-tombstone.js'
export type { RangeTombstone } from './range-tombstone.js'
export type { LocatedError } from './errors.js'
export { RealFileSystem } from './fs.js'
export type { FileSystem, ReadableFile, FileLock } from './fs.js'
