import { join } from 'node:path'
import { FOOTER_SIZE, RealFileSystem, TABLE_MAGIC } from 'lsm-level/tools'
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
  /** The file ends in an SSTable footer's magic number. */
  sstable: boolean
  /** It also opens: footer, index, filter and properties intact, a format version this build reads. */
  readable: boolean
  formatVersion?: number
  entries?: number
  /** Why the file is not an SSTable, or why the SSTable does not open (naming the offset). */
  reason?: string
}

/**
 * `sst identify FILE|DIR`: whether a file is an SSTable, judged by its content (the magic number that
 * ends every table, then whether the engine opens it), not by its name. For a directory, every file in
 * it. A single FILE that is not a readable table exits 1.
 */
export async function sstIdentify (arg: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  const isDir = fs.stat(arg).isDirectory
  const paths = isDir ? fs.readdir(arg).sort().map((n) => join(arg, n)).filter((p) => !fs.stat(p).isDirectory) : [arg]
  const found: Identity[] = []
  for (const path of paths) found.push(await identify(fs, path))
  if (flags.json === true) await out.json({ files: found })
  else if (!isDir) await out.lines([describe(found[0])])
  else {
    const tables = found.filter((f) => f.sstable)
    await out.lines([
      ...(tables.length === 0
        ? []
        : textTable([{ header: 'sstable' }, { header: 'size', align: 'right' }, { header: 'entries', align: 'right' }, { header: 'format' }],
          tables.map((t) => [t.file, humanSize(t.size), t.readable ? String(t.entries) : '-', t.readable ? `v${t.formatVersion!}` : `does not open: ${t.reason!}`]))),
      `${tables.length} SSTables, ${found.length - tables.length} other files in ${arg}`
    ])
  }
  if (!isDir && !found[0].readable) throw new CliFailure(found[0].sstable ? `${arg} is an SSTable that does not open` : `${arg} is not an SSTable`)
}

async function identify (fs: RealFileSystem, path: string): Promise<Identity> {
  const size = fs.stat(path).size
  if (size < FOOTER_SIZE) return { file: path, size, sstable: false, readable: false, reason: `${size} bytes, shorter than a table footer (${FOOTER_SIZE})` }
  const file = fs.openReadable(path)
  let magic: Buffer
  try {
    magic = file.read(size - TABLE_MAGIC.length, TABLE_MAGIC.length)
  } finally {
    file.close()
  }
  if (!magic.equals(TABLE_MAGIC)) return { file: path, size, sstable: false, readable: false, reason: `no SSTable magic number at offset ${size - TABLE_MAGIC.length}` }
  try {
    return await withTable(path, (t) => ({ file: path, size, sstable: true, readable: true, formatVersion: t.table.properties.formatVersion, entries: t.table.properties.entries }))
  } catch (err) {
    return { file: path, size, sstable: true, readable: false, reason: describeFailure(err) }
  }
}

function describe (f: Identity): string {
  if (f.readable) return `${f.file}: SSTable, format version ${f.formatVersion!}, ${f.entries!} entries, ${humanSize(f.size)}`
  return f.sstable ? `${f.file}: SSTable, but it does not open: ${f.reason!}` : `${f.file}: not an SSTable: ${f.reason!}`
}
