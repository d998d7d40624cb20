/**
 * The engine's internals that the `levelring` inspection tools read files with (`lsm-level/tools`).
 * Not part of the abstract-level API and not covered by semver: tools built from the same tree use it.
 * Re-exports only, so the tools decode every format with the engine's own readers, never a copy of them.
 */
export { readLog } from './wal/log-reader.js'
export type { LogReadMode, LogDrop, LogReadSummary } from './wal/log-reader.js'
export { decodeBatch } from './wal/batch.js'

export { Table } from './sstable/table.js'
export { describeFilter } from './sstable/bloom.js'
export type { TableProperties } from './sstable/properties.js'
export { decodeFooter, FOOTER_SIZE, BLOCK_TRAILER_SIZE, TABLE_MAGIC } from './sstable/format.js'
export type { Footer, BlockHandle } from './sstable/format.js'

export { decodeEdit, COMPARATOR_NAME } from './version/version-edit.js'
export type { VersionEdit } from './version/version-edit.js'
export { VersionBuilder, DB_FORMAT_VERSION } from './version/version-set.js'
export { Version } from './version/version.js'
export { parseFileName, tableFileName, logFileName } from './version/file-meta.js'
export type { FileMeta } from './version/file-meta.js'

export { KIND_DELETE, KIND_VALUE, KIND_RANGE_DELETE, MAX_SEQUENCE, seqOf, kindOf, userKeyOf, lookupKey } from './keys.js'
export { decodeTombstoneEnd, anyTombstoneCovers } from './range-tombstone.js'
export { RangeTombstoneIndex } from './range-tombstone-index.js'
export type { RangeTombstone } from './range-tombstone.js'
export { RealFileSystem } from './fs/real.js'
export type { ReadableFile } from './fs/file-system.js'
