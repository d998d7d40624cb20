import { RealFileSystem } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { CliFailure, describeFailure } from '../../cli-kit/failure.js'
import type { Output } from '../../cli-kit/output.js'
import { Progress, progressWanted } from '../../cli-kit/progress.js'
import { tablePaths, withTable } from './table-file.js'

/** A data block whose checksum (or structure) failed. */
interface DamagedBlock { offset: number, size: number, problem: string }

/** What `sst verify` found in one table. */
interface TableVerification {
  file: string
  ok: boolean
  /** Footer, index, filter and properties: verified when the table opens; else why it did not. */
  metaBlocks: 'ok' | string
  dataBlocks: number
  damaged: DamagedBlock[]
}

/**
 * `sst verify FILE|DIR`: the checksum of every block. The footer, index, filter and properties are
 * verified by opening the table; every data block is then read and verified on its own, so that all the
 * damaged blocks are listed, not only the first.
 */
export async function sstVerify (arg: string, flags: CommonFlags, out: Output): Promise<void> {
  const paths = tablePaths(arg)
  const fs = new RealFileSystem()
  const totalBytes = paths.reduce((sum, p) => sum + fs.stat(p).size, 0)
  const progress = Progress.start(progressWanted(flags), 'verify', totalBytes, 'bytes')
  const results: TableVerification[] = []
  try {
    for (const path of paths) results.push(await verifyOne(path, progress))
  } finally {
    progress.stop()
  }
  if (flags.json === true) await out.json({ ok: results.every((r) => r.ok), tables: results })
  else await out.lines(results.flatMap(describe))
  const bad = results.filter((r) => !r.ok)
  if (bad.length > 0) throw new CliFailure(summary(bad, paths.length))
}

async function verifyOne (path: string, progress: Progress): Promise<TableVerification> {
  const result: TableVerification = { file: path, ok: true, metaBlocks: 'ok', dataBlocks: 0, damaged: [] }
  try {
    await withTable(path, async (t) => {
      const blocks = t.layout().dataBlocks
      result.dataBlocks = blocks.length
      for (let i = 0; i < blocks.length; i++) {
        try {
          t.table.dataBlockAt(i, true, false, null)
        } catch (err) {
          result.damaged.push({ ...blocks[i], problem: describeFailure(err) })
        }
        progress.advance(blocks[i].size)
        await progress.breathe()
      }
    })
  } catch (err) {
    result.metaBlocks = describeFailure(err)
  }
  result.ok = result.metaBlocks === 'ok' && result.damaged.length === 0
  return result
}

function describe (r: TableVerification): string[] {
  if (r.metaBlocks !== 'ok') return [`${r.file}: FAILED: ${r.metaBlocks}`]
  if (r.ok) return [`${r.file}: ok: ${r.dataBlocks} data blocks, filter, properties, index and footer checksums verified`]
  return [
    `${r.file}: FAILED: ${r.damaged.length} of ${r.dataBlocks} data blocks damaged`,
    ...r.damaged.map((d) => `  block at offset ${d.offset} (${d.size} bytes): ${d.problem}`)
  ]
}

function summary (bad: TableVerification[], tables: number): string {
  const first = bad[0]
  const where = first.metaBlocks !== 'ok'
    ? first.metaBlocks
    : `${first.file}: damaged data block at offset ${first.damaged[0].offset}${first.damaged.length > 1 ? ` and ${first.damaged.length - 1} more` : ''}`
  return tables === 1 ? where : `${bad.length} of ${tables} tables damaged (first: ${where})`
}
