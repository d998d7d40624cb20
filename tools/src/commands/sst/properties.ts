import { RealFileSystem, type TableProperties } from 'lsm-level/tools'
import type { ByteEncoding } from '../../cli-kit/byte-encoding.js'
import type { CommonFlags } from '../../cli-kit/common-options.js'
import { humanSize } from '../../cli-kit/human-size.js'
import type { Output } from '../../cli-kit/output.js'
import { textTable } from '../../cli-kit/text-table.js'
import { internalKeyJson, internalKeyText } from '../internal-entry.js'
import { tablePaths, withTable } from './table-file.js'

/** `sst properties FILE|DIR`: the properties block of each table (entries, key and sequence range, sizes, filter, format). */
export async function sstProperties (arg: string, flags: CommonFlags, out: Output): Promise<void> {
  const fs = new RealFileSystem()
  const tables: Array<{ file: string, size: number, properties: TableProperties }> = []
  for (const path of tablePaths(arg)) {
    tables.push({ file: path, size: fs.stat(path).size, properties: await withTable(path, (t) => t.table.properties) })
  }
  if (flags.json === true) {
    await out.json({ tables: tables.map((t) => ({ file: t.file, size: t.size, properties: propertiesJson(t.properties, flags.encoding) })) })
    return
  }
  const lines: string[] = []
  for (const t of tables) {
    if (lines.length > 0) lines.push('')
    lines.push(...propertiesText(t.file, t.size, t.properties, flags.encoding))
  }
  await out.lines(lines)
}

function propertiesJson (p: TableProperties, encoding: ByteEncoding): Record<string, unknown> {
  return {
    formatVersion: p.formatVersion,
    entries: p.entries,
    deletions: p.deletions,
    rangeDeletions: p.rangeDeletions,
    dataBlocks: p.dataBlocks,
    smallestKey: internalKeyJson(p.smallestKey, encoding),
    largestKey: internalKeyJson(p.largestKey, encoding),
    minSequence: p.minSequence,
    maxSequence: p.maxSequence,
    rawKeyBytes: p.rawKeyBytes,
    rawValueBytes: p.rawValueBytes,
    indexBytes: p.indexBytes,
    filterBytes: p.filterBytes,
    filterBitsPerKey: p.filterBitsPerKey,
    creationTime: new Date(p.creationTime).toISOString()
  }
}

function propertiesText (file: string, size: number, p: TableProperties, encoding: ByteEncoding): string[] {
  const puts = p.entries - p.deletions - p.rangeDeletions
  const rows: string[][] = [
    ['file', `${file} (${humanSize(size)})`],
    ['format version', String(p.formatVersion)],
    ['entries', `${p.entries} (${puts} puts, ${p.deletions} deletions, ${p.rangeDeletions} range deletions)`],
    ['data blocks', String(p.dataBlocks)],
    ['smallest key', internalKeyText(p.smallestKey, encoding)],
    ['largest key', internalKeyText(p.largestKey, encoding)],
    ['sequence range', `${p.minSequence}..${p.maxSequence}`],
    ['raw key bytes', `${p.rawKeyBytes} (${humanSize(p.rawKeyBytes)}, internal keys)`],
    ['raw value bytes', `${p.rawValueBytes} (${humanSize(p.rawValueBytes)})`],
    ['index block', humanSize(p.indexBytes)],
    ['filter', p.filterBitsPerKey === 0 ? 'none' : `bloom, ${p.filterBitsPerKey} bits per key, ${humanSize(p.filterBytes)}`],
    ['created', new Date(p.creationTime).toISOString()]
  ]
  return textTable([{ header: 'property' }, { header: 'value' }], rows)
}
