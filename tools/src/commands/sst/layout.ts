import type { CommonFlags } from '../../cli-kit/common-options.js'
import type { Output } from '../../cli-kit/output.js'
import { counted } from '../../cli-kit/counted.js'
import { textTable } from '../../cli-kit/text-table.js'
import { withTable } from './table-file.js'

/** `sst layout FILE`: the offset and size of every data block, the filter, properties, index and footer. */
export async function sstLayout (path: string, flags: CommonFlags, out: Output): Promise<void> {
  const layout = await withTable(path, (t) => t.layout())
  if (flags.json === true) {
    await out.json({ file: path, ...layout })
    return
  }
  const rows: string[][] = layout.dataBlocks.map((b, i) => [String(b.offset), String(b.size), `data block ${i}`])
  if (layout.filter !== null) {
    const f = layout.filter
    rows.push([String(f.offset), String(f.size), `filter (${f.kind === 'unknown' ? 'unknown kind' : `${f.kind} bloom`}, ${f.bitsPerKey} bits per key, ${f.probes} probes)`])
  }
  rows.push([String(layout.properties.offset), String(layout.properties.size), 'properties'])
  rows.push([String(layout.index.offset), String(layout.index.size), `index (${counted(layout.index.entries, 'entry', 'entries')})`])
  rows.push([String(layout.footer.offset), String(layout.footer.size), `footer (format version ${layout.formatVersion})`])
  await out.lines([
    `${path}: ${layout.fileSize} bytes; each block's size excludes its ${layout.blockTrailerSize}-byte trailer (compression type + checksum)`,
    ...textTable([{ header: 'offset', align: 'right' }, { header: 'size', align: 'right' }, { header: 'block' }], rows)
  ])
}
