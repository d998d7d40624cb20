import type { CommonFlags } from '../../cli-kit/common-options.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { textTable } from '../../cli-kit/text-table.js'
import { replayManifest } from '../manifest/manifest-replay.js'
import { versionJson, versionLines } from '../manifest/version-view.js'
import { commitLogs } from './commit-logs.js'
import { withDatabaseLocked } from './database-directory.js'

/** Width of the longest level bar, in characters. */
const BAR_WIDTH = 40

/**
 * `db lsm DIR`: the shape of the tree: files and bytes per level as bars, every live table, and the
 * commit logs whose writes are not yet in a table. Read from the MANIFEST under the database's lock,
 * without opening it (nothing is replayed, flushed or compacted).
 */
export async function dbLsm (dir: string, flags: CommonFlags, out: Output): Promise<void> {
  await withDatabaseLocked(dir, async () => {
    const r = replayManifest(dir)
    const logs = commitLogs(dir, r.logNumber ?? 0)
    const v = r.version
    if (flags.json === true) {
      await out.json({ dir, manifest: r.file, lastSequence: r.lastSequence, nextFileNumber: r.nextFileNumber, logNumber: r.logNumber, ...versionJson(v, flags.encoding), logs })
      return
    }
    const bytes = v.levels.map((_, level) => v.levelBytes(level))
    const widest = Math.max(1, ...bytes)
    const lastUsed = Math.max(0, ...v.levels.map((files, level) => files.length > 0 ? level : 0))
    const rows = v.levels.slice(0, lastUsed + 1).map((files, level) => {
      const bar = bytes[level] === 0 ? '' : '█'.repeat(Math.max(1, Math.round(BAR_WIDTH * bytes[level] / widest)))
      return [`L${level}`, String(files.length), humanSize(bytes[level]), bar]
    })
    const tables = v.levels.reduce((n, files) => n + files.length, 0)
    rows.push(['total', String(tables), humanSize(bytes.reduce((a, b) => a + b, 0)), ''])
    const pending = logs.filter((l) => l.pending)
    const obsolete = logs.filter((l) => !l.pending)
    await out.lines([
      `${dir}: ${r.file.slice(dir.length + 1)}, last sequence ${String(r.lastSequence)}, next file number ${String(r.nextFileNumber)}`,
      ...textTable([{ header: 'level' }, { header: 'files', align: 'right' }, { header: 'bytes', align: 'right' }, { header: '' }], rows),
      `commit logs not yet in a table: ${pending.length === 0 ? 'none' : pending.map((l) => `${l.file} (${humanSize(l.size)})`).join(', ')}`,
      ...(obsolete.length === 0 ? [] : [`obsolete commit logs (deleted at the next open): ${obsolete.map((l) => l.file).join(', ')}`]),
      '',
      ...versionLines(v, flags.encoding)
    ])
  })
}
