import { MAX_SEQUENCE, makeInternalKey, compareInternalKeys, kindOf, seqOf, userKeyOf } from '../keys.js'
import type { FileMeta } from '../version/file-meta.js'
import { type Version, NUM_LEVELS } from '../version/version.js'
import { maxBytesForLevel, pendingCompactionBytes } from '../compaction/limits.js'
import type { DbState } from './state.js'
import { delayedWriteRate } from './write-throttle.js'
import { crcImplementation } from '../crc.js'
import { lz4Implementation } from '../sstable/compression.js'

/** Approximate bytes on disk used by keys in [start, end). */
export function approximateSize (s: DbState, start: Buffer, end: Buffer): number {
  const v = s.versions.current
  const a = makeInternalKey(start, MAX_SEQUENCE, 0xff)
  const b = makeInternalKey(end, MAX_SEQUENCE, 0xff)
  let total = 0
  for (const files of v.levels) {
    for (const f of files) {
      if (compareInternalKeys(f.largest, a) < 0 || compareInternalKeys(f.smallest, b) >= 0) continue
      total += s.tables.approximateOffsetOf(f, b) - s.tables.approximateOffsetOf(f, a)
    }
  }
  return total
}

/** Named introspection values; see engine/README.md for the list. */
export function getProperty (s: DbState, name: string): unknown {
  const v = s.versions.current
  const levels = v.levels.map((files, level) => ({
    level,
    files: files.length,
    bytes: v.levelBytes(level),
    targetBytes: level === 0 ? null : maxBytesForLevel(level, s.options)
  }))
  const cache = s.blockCache.stats()
  const hitRate = cache.hits + cache.misses === 0 ? 0 : cache.hits / (cache.hits + cache.misses)
  switch (name) {
    case 'lsm.levels': return levels
    case 'lsm.memtable-bytes': return s.memtableBytes()
    case 'lsm.block-cache': return { ...cache, hitRate, capacityBytes: s.options.blockCacheSize }
    case 'lsm.block-cache-hit-rate': return hitRate
    case 'lsm.pending-compaction-bytes': return pendingCompactionBytes(v, s.options)
    case 'lsm.delayed-write-rate': return delayedWriteRate(pendingCompactionBytes(v, s.options), s.options)
    case 'lsm.open-tables': return s.tables.openCount
    case 'lsm.sequence': return s.visibleSeq
    case 'lsm.range-tombstones': return s.tombstones.length
    case 'lsm.background-error': return s.bgError?.message ?? null
    case 'lsm.compaction-stats': return { ...s.stats }
    case 'lsm.idle-compaction': return s.idlePass
    case 'lsm.stats': return {
      levels,
      memtableBytes: s.memtableBytes(),
      blockCache: { ...cache, hitRate },
      pendingCompactionBytes: pendingCompactionBytes(v, s.options),
      openTables: s.tables.openCount,
      sequence: s.visibleSeq,
      snapshots: [...s.snapshots.values()].reduce((a, b) => a + b, 0),
      rangeTombstones: s.tombstones.length,
      backgroundError: s.bgError?.message ?? null,
      idleCompaction: s.idlePass,
      ...s.stats
    }
    case 'lsm.compression': return [...s.options.compression]
    case 'lsm.implementations': return { crc32c: crcImplementation(), lz4: lz4Implementation() }
    case 'leveldb.stats': return levelDbStats(s, v)
    case 'leveldb.sstables': return levelDbSstables(v)
    case 'leveldb.approximate-memory-usage': return String(s.memtableBytes() + cache.bytes)
    default: {
      const m = /^(lsm|leveldb)\.num-files-at-level(\d+)$/.exec(name)
      if (m !== null && Number(m[2]) < NUM_LEVELS) {
        const files = v.levels[Number(m[2])].length
        // leveldb.* properties answer strings, as LevelDB (and so classic-level) does.
        return m[1] === 'leveldb' ? String(files) : files
      }
      return undefined
    }
  }
}

/** Live table files with their levels (for tools). */
export function liveTables (s: DbState): Array<{ level: number, file: FileMeta }> {
  const out: Array<{ level: number, file: FileMeta }> = []
  s.versions.current.levels.forEach((files, level) => { for (const file of files) out.push({ level, file }) })
  return out
}

/** LevelDB's `leveldb.stats` text: a row per level that has files or did work (DBImpl::GetProperty's format). */
function levelDbStats (s: DbState, v: Version): string {
  let out = '                               Compactions\n' +
    'Level  Files Size(MB) Time(sec) Read(MB) Write(MB)\n' +
    '--------------------------------------------------\n'
  const mb = (bytes: number): string => (bytes / 1048576).toFixed(0)
  for (let level = 0; level < NUM_LEVELS; level++) {
    const files = v.levels[level].length
    const work = s.levelStats[level]
    if (files === 0 && work.ms === 0) continue
    out += `${String(level).padStart(3)} ${String(files).padStart(8)} ${mb(v.levelBytes(level)).padStart(8)} ` +
      `${(work.ms / 1000).toFixed(0).padStart(9)} ${mb(work.bytesRead).padStart(8)} ${mb(work.bytesWritten).padStart(9)}\n`
  }
  return out
}

/** LevelDB's `leveldb.sstables` text (Version::DebugString): per level, `number:size[smallest .. largest]`. */
function levelDbSstables (v: Version): string {
  let out = ''
  for (let level = 0; level < NUM_LEVELS; level++) {
    out += `--- level ${level} ---\n`
    for (const f of v.levels[level]) out += ` ${f.number}:${f.size}[${debugKey(f.smallest)} .. ${debugKey(f.largest)}]\n`
  }
  return out
}

/** An internal key as LevelDB prints it: 'user key' @ sequence : kind, unprintable bytes as \xNN. */
function debugKey (ik: Buffer): string {
  let text = ''
  for (const b of userKeyOf(ik)) text += b >= 0x20 && b <= 0x7e ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
  return `'${text}' @ ${seqOf(ik)} : ${kindOf(ik)}`
}
