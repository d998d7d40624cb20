import type { NodeMetrics } from './node-metrics.js'

/** What the engine's 'lsm.stats' property answers (engine/src/db/properties.ts); read at scrape time. */
export interface EngineStats {
  readonly levels: ReadonlyArray<{ readonly level: number, readonly files: number, readonly bytes: number, readonly targetBytes: number | null }>
  readonly memtableBytes: number
  readonly blockCache: { readonly hits: number, readonly misses: number, readonly entries: number, readonly bytes: number, readonly hitRate: number }
  readonly pendingCompactionBytes: number
  readonly openTables: number
  /** Range tombstones not yet retired (a node's dropped partition ranges, until compaction applies them). */
  readonly rangeTombstones: number
  readonly flushes: number
  readonly compactions: number
  readonly trivialMoves: number
  readonly bytesFlushed: number
  readonly bytesCompactedRead: number
  readonly bytesCompactedWritten: number
  readonly writeStallsMs: number
  readonly slowdowns: number
}

export interface EngineMetricSources {
  /** The engine's statistics; undefined when the engine has none (or is closed). */
  readonly stats: () => EngineStats | undefined
  /** Bytes of encoded objects the node handed the engine (the user bytes write amplification divides by). */
  readonly storedBytes: () => number
}

/**
 * Register the storage engine's statistics: files and bytes per level, memtable and block cache,
 * pending compaction, flushes, compactions, write stalls and slowdowns, and write amplification.
 * Each scrape reads the engine's 'lsm.stats' property once per metric family; nothing runs between scrapes.
 */
export function registerEngineMetrics (metrics: NodeMetrics, sources: EngineMetricSources): void {
  function * each (f: (s: EngineStats) => Iterable<[Record<string, string>, number]>): Iterable<[Record<string, string>, number]> {
    const s = sources.stats()
    if (s !== undefined) yield * f(s)
  }
  const gauge = (name: string, help: string, read: (s: EngineStats) => number): void => {
    metrics.scrapedGauge({ name, help, read: () => each((s) => [[{}, read(s)]]) })
  }
  const total = (name: string, help: string, read: (s: EngineStats) => number): void => {
    metrics.scrapedTotal({ name, help, read: () => each((s) => [[{}, read(s)]]) })
  }
  metrics.scrapedGauge({
    name: 'levelring_engine_level_files', help: 'SSTable files per LSM level', labelNames: ['level'],
    read: () => each((s) => s.levels.map((l) => [{ level: String(l.level) }, l.files]))
  })
  metrics.scrapedGauge({
    name: 'levelring_engine_level_bytes', help: 'Bytes of SSTables per LSM level', labelNames: ['level'],
    read: () => each((s) => s.levels.map((l) => [{ level: String(l.level) }, l.bytes]))
  })
  metrics.scrapedGauge({
    name: 'levelring_engine_level_target_bytes', help: 'Size a level may reach before compaction moves data down (levels 1 and up)', labelNames: ['level'],
    read: () => each((s) => s.levels.filter((l) => l.targetBytes !== null).map((l) => [{ level: String(l.level) }, l.targetBytes!]))
  })
  gauge('levelring_engine_memtable_bytes', 'Bytes in the memtables (the active one and those waiting to be flushed)', (s) => s.memtableBytes)
  gauge('levelring_engine_block_cache_bytes', 'Bytes of blocks in the block cache', (s) => s.blockCache.bytes)
  gauge('levelring_engine_block_cache_entries', 'Blocks in the block cache', (s) => s.blockCache.entries)
  total('levelring_engine_block_cache_hits_total', 'Block reads served from the block cache', (s) => s.blockCache.hits)
  total('levelring_engine_block_cache_misses_total', 'Block reads that went to the file', (s) => s.blockCache.misses)
  gauge('levelring_engine_block_cache_hit_ratio', 'Block cache hits over all block reads since the engine opened', (s) => s.blockCache.hitRate)
  gauge('levelring_engine_pending_compaction_bytes', 'Bytes compaction must rewrite to bring every level under its target', (s) => s.pendingCompactionBytes)
  gauge('levelring_engine_open_tables', 'SSTables open in the table cache', (s) => s.openTables)
  gauge('levelring_engine_range_tombstones', 'Range tombstones not yet retired (dropped partition ranges until the engine applies them)', (s) => s.rangeTombstones)
  total('levelring_engine_flushes_total', 'Memtables flushed to level-0 tables', (s) => s.flushes)
  total('levelring_engine_compactions_total', 'Compactions run (trivial moves not included)', (s) => s.compactions)
  total('levelring_engine_trivial_moves_total', 'Tables moved down a level without rewriting', (s) => s.trivialMoves)
  total('levelring_engine_flushed_bytes_total', 'Bytes written by flushes', (s) => s.bytesFlushed)
  total('levelring_engine_compaction_read_bytes_total', 'Bytes read by compactions', (s) => s.bytesCompactedRead)
  total('levelring_engine_compaction_written_bytes_total', 'Bytes written by compactions', (s) => s.bytesCompactedWritten)
  total('levelring_engine_write_stall_seconds_total', 'Time writes waited for a flush or compaction (stalls)', (s) => s.writeStallsMs / 1000)
  total('levelring_engine_write_slowdowns_total', 'Writes delayed because level 0 was near its limit', (s) => s.slowdowns)
  metrics.scrapedTotal({
    name: 'levelring_storage_written_bytes_total',
    help: 'Bytes of encoded objects this node stored in the engine (user bytes)',
    * read () { yield [{}, sources.storedBytes()] }
  })
  metrics.scrapedGauge({
    name: 'levelring_engine_write_amplification',
    help: 'Bytes the engine wrote (commit log, taken as the stored bytes, plus flushes and compactions) per byte stored; 0 before anything is stored',
    read: () => each((s) => {
      const stored = sources.storedBytes()
      return [[{}, stored === 0 ? 0 : (stored + s.bytesFlushed + s.bytesCompactedWritten) / stored]]
    })
  })
}
