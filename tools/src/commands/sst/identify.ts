import { join } from 'node:path'
import { RealFileSystem } from 'lsm-level/tools'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { CliFailure, describeFailure } from '../../cli-kit/failure.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { textTable } from '../../cli-kit/text-table.js'
import { withTable } from './table-file.js'

/** The verdict on one file. */
interface Identity {
  file: string
  size: number
  sstable: boolean
  formatVersion?: number
  entries?: number
  /** Why the file is not a readable SSTable (the engine's error, naming the offset). */
  reason?: string
}

/**
 * `sst identify FILE|DIR`: whether a file is an SSTable, judged by its content (the footer's magic,
 * version and checksums, as the engine opens it), not by its name. For a directory, every file in it.
 * A single FILE that is not a table exits 1.
 */
export async function sstIdentify (arg: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  const isDir = fs.stat(arg).isDirectory
  const paths = isDir ? fs.readdir(arg).sort().map((n) => join(arg, n)).filter((p) => !fs.stat(p).isDirectory) : [arg]
  const found: Identity[] = []
  for (const path of paths) found.push(await identify(path, fs.stat(path).size))
  if (flags.json === true) await out.json({ files: found })
  else if (!isDir) await out.lines([describe(found[0])])
  else {
    const tables = found.filter((f) => f.sstable)
    await out.lines([
      ...(tables.length === 0
        ? []
        : textTable([{ header: 'sstable' }, { header: 'size', align: 'right' }, { header: 'entries', align: 'right' }, { header: 'format' }],
          tables.map((t) => [t.file, humanSize(t.size), String(t.entries), `v${t.formatVersion!}`]))),
      `${tables.length} SSTables, ${found.length - tables.length} other files in ${arg}`
    ])
  }
  if (!isDir && !found[0].sstable) throw new CliFailure(`${arg} is not an SSTable`, { exitCode: 1 })
}

async function identify (path: string, size: number): Promise<Identity> {
  try {
    return await withTable(path, (t) => ({ file: path, size, sstable: true, formatVersion: t.table.properties.formatVersion, entries: t.table.properties.entries }))
  } catch (err) {
    return { file: path, size, sstable: false, reason: describeFailure(err) }
  }
}

function describe (f: Identity): string {
  return f.sstable
    ? `${f.file}: SSTable, format version ${f.formatVersion!}, ${f.entries!} entries, ${humanSize(f.size)}`
    : `${f.file}: not an SSTable: ${f.reason!}`
}
