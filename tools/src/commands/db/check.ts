import { join } from 'node:path'
import { decodeBatch, readLog, RealFileSystem, tableFileName, type LogReadMode } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { counted } from '../../cli-kit/counted.js'
import { CliFailure, describeFailure } from '../../cli-kit/failure.js'
import type { Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { manifestHeaderProblems, replayManifest } from '../manifest/manifest-replay.js'
import { withTable } from '../sst/table-file.js'
import { commitLogs } from './commit-logs.js'
import { withDatabaseLocked } from './database-directory.js'

/** The verdict on one file of the database. */
interface FileCheck { file: string, ok: boolean, detail: string }

/**
 * `db check DIR`: everything an open would read, read without opening: the MANIFEST, every block of every
 * live table (checksums, key order, counts against the properties), and every record of the commit logs
 * not yet in a table, with the recovery rules (only the newest log may end in a torn tail). Every file is
 * checked even after a problem, so the report lists them all.
 */
export async function dbCheck (dir: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  const checks = await withDatabaseLocked(dir, async () => {
    const r = replayManifest(dir)
    const results: FileCheck[] = manifestHeaderProblems(r).map((p) => ({ file: r.file, ok: false, detail: `MANIFEST header: ${p}` }))
    results.push(...r.tornTail.map((d) => ({ file: r.file, ok: true, detail: `torn last edit at ${d.offset} ignored, as recovery does` })))
    const tables = r.version.levels.flatMap((files, level) => files.map((f) => ({ level, f, path: join(dir, tableFileName(f.number)) })))
    const logs = commitLogs(dir, r.logNumber ?? 0).filter((l) => l.pending)
    const total = tables.reduce((n, t) => n + t.f.size, 0) + logs.reduce((n, l) => n + l.size, 0)
    const progress = Progress.start(progressWanted(flags), 'check', total, 'bytes')
    try {
      for (const { level, f, path } of tables) {
        results.push(await checkTable(fs, path, level, f.size))
        progress.advance(f.size)
        await progress.breathe()
      }
      logs.forEach((log, i) => {
        // Only the newest log can have been cut by a crash; an older one was complete when the next began.
        results.push(checkLog(join(dir, log.file), i === logs.length - 1 ? 'tolerate-corrupted-tail' : 'absolute-consistency'))
        progress.advance(log.size)
      })
    } finally {
      progress.stop()
    }
    return { manifest: r.file, tables: tables.length, logs: logs.length, results }
  })
  const bad = checks.results.filter((c) => !c.ok)
  if (flags.json === true) await out.json({ dir, ok: bad.length === 0, ...checks })
  else {
    await out.lines([
      ...checks.results.map((c) => `${c.file}: ${c.ok ? 'ok' : 'FAILED'}: ${c.detail}`),
      `${dir}: ${counted(checks.tables, 'live table')} and ${counted(checks.logs, 'commit log')} checked: ${bad.length === 0 ? 'no problems' : counted(bad.length, 'problem')}`
    ])
  }
  if (bad.length > 0) {
    throw new CliFailure(`${dir}: ${counted(bad.length, 'damaged file')} (first: ${bad[0].file}: ${bad[0].detail}); levelring db repair salvages what is readable`)
  }
}

async function checkTable (fs: RealFileSystem, path: string, level: number, recordedSize: number): Promise<FileCheck> {
  if (!fs.exists(path)) return { file: path, ok: false, detail: `L${level} table named by the MANIFEST is missing` }
  const size = fs.stat(path).size
  if (size !== recordedSize) return { file: path, ok: false, detail: `${size} bytes on disk, the MANIFEST records ${recordedSize}` }
  try {
    const { dataBlocks, entries } = await withTable(path, (t) => t.table.checkAllBlocks())
    return { file: path, ok: true, detail: `L${level}, ${counted(dataBlocks, 'data block')}, ${counted(entries, 'entry', 'entries')}` }
  } catch (err) {
    return { file: path, ok: false, detail: describeFailure(err) }
  }
}

function checkLog (path: string, mode: LogReadMode): FileCheck {
  const file = new RealFileSystem().openReadable(path)
  try {
    const records = readLog(file, { mode, fileName: path })
    let ops = 0
    for (;;) {
      const step = records.next()
      if (step.done === true) {
        const tail = step.value.droppedBytes > 0 ? `; a torn tail of ${step.value.droppedBytes} bytes at ${step.value.drops[0]?.offset ?? '?'} (recovery drops it)` : ''
        return { file: path, ok: true, detail: `${counted(step.value.records, 'record')}, ${counted(ops, 'op')}${tail}` }
      }
      ops += decodeBatch(step.value.data, path, step.value.offset).ops.length
    }
  } catch (err) {
    return { file: path, ok: false, detail: describeFailure(err) }
  } finally {
    file.close()
  }
}
