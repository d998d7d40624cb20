import type { CommonFlags } from '../../cli-kit/common-options.js'
import { bytesForTerminal, parseBytes } from '../../cli-kit/byte-encoding.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { textTable } from '../../cli-kit/text-table.js'
import { type ToolDatabase, withDatabase } from './database-directory.js'

/** What getProperty('lsm.levels') answers per level. */
interface LevelStats { level: number, files: number, bytes: number }

/** How often the bar reads the engine's compaction counters. */
const POLL_MS = 100

/**
 * `db compact DIR [--from K] [--to K]`: flush, then compact every level over [from, to] (both inclusive,
 * open ends by default), dropping overwritten values and deletions no reader needs.
 */
export async function dbCompact (dir: string, flags: CommonFlags & { from?: string, to?: string }, out: Output): Promise<void> {
  const from = flags.from === undefined ? null : parseBytes(flags.from, flags.encoding, '--from')
  const to = flags.to === undefined ? null : parseBytes(flags.to, flags.encoding, '--to')
  const { before, after } = await withDatabase(dir, async (db) => {
    const before = levels(db)
    const readBefore = bytesRead(db)
    const progress = Progress.start(progressWanted(flags), 'compact', before.reduce((n, l) => n + l.bytes, 0), 'bytes')
    const poll = setInterval(() => { progress.set(bytesRead(db) - readBefore) }, POLL_MS)
    try {
      // null is an open end: LsmLevel.compactRange takes null for "from the first key" / "to the last key".
      await db.compactRange(from as Buffer, to as Buffer)
    } finally {
      clearInterval(poll)
      progress.stop()
    }
    return { before, after: levels(db) }
  })
  if (flags.json === true) {
    await out.json({ dir, from: flags.from ?? null, to: flags.to ?? null, before, after })
    return
  }
  const range = from === null && to === null ? 'the whole key space' : `[${from === null ? '(first key)' : bytesForTerminal(from, flags.encoding)}, ${to === null ? '(last key)' : bytesForTerminal(to, flags.encoding)}]`
  const rows = before.map((b, i) => [`L${b.level}`, `${b.files} → ${after[i].files}`, `${humanSize(b.bytes)} → ${humanSize(after[i].bytes)}`])
    .filter((_, i) => before[i].files + after[i].files > 0)
  await out.lines([`${dir}: compacted ${range}`, ...textTable([{ header: 'level' }, { header: 'files', align: 'right' }, { header: 'bytes', align: 'right' }], rows)])
}

function levels (db: ToolDatabase): LevelStats[] {
  return (db.getProperty('lsm.levels') as LevelStats[]).map(({ level, files, bytes }) => ({ level, files, bytes }))
}

function bytesRead (db: ToolDatabase): number {
  return (db.getProperty('lsm.compaction-stats') as { bytesCompactedRead: number }).bytesCompactedRead
}
