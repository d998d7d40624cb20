import { LsmLevel } from 'lsm-level'
import { RealFileSystem } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { CliFailure } from '../../cli-kit/failure.js'
import type { Output } from '../../cli-kit/output.js'
import { counted } from '../../cli-kit/counted.js'
import { textTable } from '../../cli-kit/text-table.js'

/**
 * `db repair DIR`: the engine's repair (LevelDB's repairer): keeps every intact table, rewrites damaged
 * ones from their readable blocks, replays every readable commit-log record, writes a new MANIFEST, and
 * moves what it set aside to DIR/lost/. Refuses a database a running process holds (LEVEL_LOCKED).
 */
export async function dbRepair (dir: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  // No CURRENT is fine here: a lost CURRENT or MANIFEST is what repair is for.
  if (!fs.exists(dir) || !fs.stat(dir).isDirectory) throw new CliFailure(`${dir}: no such database directory`, { code: 'LEVELRING_NOT_FOUND' })
  if (flags.progress !== false && flags.json !== true && process.stderr.isTTY === true) {
    // The engine's repair reports no progress while it runs: say that it started.
    process.stderr.write(`repairing ${dir} ...\n`)
  }
  const report = await LsmLevel.repair(dir)
  if (flags.json === true) {
    await out.json({ dir, ...report })
    return
  }
  const rows: string[][] = [
    ['tables kept', String(report.tablesKept)],
    ['tables rewritten', `${report.tablesRewritten} (${counted(report.blocksDropped, 'damaged block')} dropped)`],
    ['tables set aside', `${report.tablesLost} (moved to lost/)`],
    ['log records recovered', String(report.logRecordsRecovered)],
    ['log records dropped', `${report.logRecordsDropped} (${report.logBytesDropped} bytes)`],
    ['range tombstones', String(report.rangeTombstones)],
    ['last sequence', String(report.lastSequence)],
    ['live tables now', `${report.tables} (all in level 0; compaction sorts them out)`]
  ]
  await out.lines([`${dir}: repaired`, ...textTable([{ header: 'what' }, { header: 'count' }], rows), ...report.notes.map((n) => `note: ${n}`)])
}
