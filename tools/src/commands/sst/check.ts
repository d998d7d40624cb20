import { KIND_DELETE, KIND_RANGE_DELETE, kindOf } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { counted } from '../../cli-kit/counted.js'
import { CliFailure, describeFailure } from '../../cli-kit/failure.js'
import type { Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { tablePaths, withTable } from './table-file.js'

/** What `sst check` found in one table. */
interface TableCheck {
  file: string
  ok: boolean
  /** Set when the table failed a check: one line naming the file and offset. */
  problem?: string
  dataBlocks?: number
  entries?: number
  deletions?: number
  rangeDeletions?: number
  properties?: { entries: number, deletions: number, rangeDeletions: number, dataBlocks: number }
}

/**
 * `sst check FILE|DIR`: every data block reads and verifies, keys are in order and within their index
 * entries, and the counts of entries, deletions and range deletions match the properties block.
 */
export async function sstCheck (arg: string, flags: CommonFlags, out: Output): Promise<void> {
  const paths = tablePaths(arg)
  const progress = Progress.start(progressWanted(flags), 'check', paths.length)
  const results: TableCheck[] = []
  try {
    for (const path of paths) {
      results.push(await checkOne(path))
      progress.advance()
      await progress.breathe()
    }
  } finally {
    progress.stop()
  }
  if (flags.json === true) await out.json({ ok: results.every((r) => r.ok), tables: results })
  else await out.lines(results.map(describe))
  const bad = results.filter((r) => !r.ok)
  if (bad.length > 0) {
    throw new CliFailure(paths.length === 1 ? bad[0].problem! : `${bad.length} of ${paths.length} tables failed the check (first: ${bad[0].problem!})`)
  }
}

async function checkOne (path: string): Promise<TableCheck> {
  try {
    return await withTable(path, (t) => {
      const p = t.table.properties
      // Order, index bounds, block and entry counts: the engine's own check (throws at the first problem).
      const { dataBlocks, entries } = t.table.checkAllBlocks()
      let deletions = 0
      let rangeDeletions = 0
      const it = t.table.newIterator({ fillCache: false })
      try {
        for (it.seekToFirst(); it.valid(); it.next()) {
          const kind = kindOf(it.key())
          if (kind === KIND_DELETE) deletions++
          else if (kind === KIND_RANGE_DELETE) rangeDeletions++
        }
      } finally {
        it.close()
      }
      const result: TableCheck = {
        file: path,
        ok: true,
        dataBlocks,
        entries,
        deletions,
        rangeDeletions,
        properties: { entries: p.entries, deletions: p.deletions, rangeDeletions: p.rangeDeletions, dataBlocks: p.dataBlocks }
      }
      if (deletions !== p.deletions || rangeDeletions !== p.rangeDeletions) {
        const at = t.layout().properties.offset
        result.ok = false
        result.problem = `${path}: found ${deletions} deletions and ${rangeDeletions} range deletions, the properties block (offset ${at}) says ${p.deletions} and ${p.rangeDeletions}`
      }
      return result
    })
  } catch (err) {
    return { file: path, ok: false, problem: describeFailure(err) }
  }
}

function describe (r: TableCheck): string {
  if (r.entries === undefined) return `${r.file}: FAILED: ${r.problem!}`
  const counts = `${counted(r.entries, 'entry', 'entries')} (${counted(r.deletions!, 'deletion')}, ${counted(r.rangeDeletions!, 'range deletion')}) in ${counted(r.dataBlocks!, 'data block')}`
  return r.ok ? `${r.file}: ok: ${counts}, as the properties say` : `${r.file}: FAILED: ${counts}; ${r.problem!}`
}
