import { basename, join } from 'node:path'
import {
  BLOCK_TRAILER_SIZE, decodeFooter, describeFilter, FOOTER_SIZE, parseFileName, RealFileSystem, Table,
  type BlockHandle, type Footer, type ReadableFile
} from 'lsm-level/tools'
import { CliFailure } from '../../cli-kit/failure.js'

/** Where each part of a table lies: what `sst layout` prints. Sizes exclude the 5-byte block trailers. */
export interface TableLayout {
  fileSize: number
  formatVersion: number
  dataBlocks: BlockHandle[]
  /** null when the table was written without a filter. */
  filter: (BlockHandle & { kind: 'cache-local' | 'classic' | 'unknown', probes: number, bitsPerKey: number }) | null
  properties: BlockHandle
  index: BlockHandle & { entries: number }
  footer: { offset: number, size: number }
  blockTrailerSize: number
}

/**
 * An SSTable opened for inspection with the engine's own reader: opening reads and verifies the footer,
 * index, filter and properties, so a file that opens is a table of a format this build reads.
 */
export class TableFile {
  readonly path: string
  readonly table: Table
  readonly #file: ReadableFile
  readonly #footer: Footer

  private constructor (path: string, file: ReadableFile, table: Table, footer: Footer) {
    this.path = path
    this.#file = file
    this.table = table
    this.#footer = footer
  }

  /**
   * Opens path as a table. Throws the engine's LEVEL_CORRUPTION ("not an SSTable", a damaged meta block,
   * naming file and offset) or LEVEL_UNSUPPORTED_FORMAT, the OS error for a missing file, and a
   * CliFailure for a directory.
   */
  static open (path: string): TableFile {
    const fs = new RealFileSystem()
    if (fs.stat(path).isDirectory) throw new CliFailure(`${path} is a directory; this command reads one .sst file`, { code: 'LEVELRING_BAD_ARGUMENT' })
    const file = fs.openReadable(path)
    try {
      const table = Table.open(file, { fileNumber: parseFileName(basename(path))?.number ?? 0, verifyChecksums: true, fileName: path })
      // Table.open has verified the footer; decoding it again here gives the meta-block handles.
      const footer = decodeFooter(file.read(file.size - FOOTER_SIZE, FOOTER_SIZE), path, file.size)
      return new TableFile(path, file, table, footer)
    } catch (err) {
      file.close()
      throw err
    }
  }

  /** The offset and size of every block, the filter's parameters and the footer. */
  layout (): TableLayout {
    const index = this.table.newIndexIterator().index
    const dataBlocks: BlockHandle[] = []
    for (let i = 0; i < index.count; i++) dataBlocks.push({ offset: index.blockOffset(i), size: index.blockSize(i) })
    const f = this.#footer
    // The filter's last bytes say its kind and probe count (FORMAT.md, "Filter block").
    const filter = f.filter.size === 0
      ? null
      : { ...f.filter, ...describeFilter(this.#file.read(f.filter.offset, f.filter.size)), bitsPerKey: this.table.properties.filterBitsPerKey }
    return {
      fileSize: this.#file.size,
      formatVersion: f.formatVersion,
      dataBlocks,
      filter,
      properties: f.properties,
      index: { ...f.index, entries: index.count },
      footer: { offset: this.#file.size - FOOTER_SIZE, size: FOOTER_SIZE },
      blockTrailerSize: BLOCK_TRAILER_SIZE
    }
  }

  close (): void {
    this.#file.close()
  }
}

/** Runs fn on the table at path and closes it whatever happens. */
export async function withTable<T> (path: string, fn: (t: TableFile) => T | Promise<T>): Promise<T> {
  const t = TableFile.open(path)
  try {
    return await fn(t)
  } finally {
    t.close()
  }
}

/**
 * The table files an argument names: the file itself, or every *.sst file of a directory in name order
 * (a directory without one is a CliFailure).
 */
export function tablePaths (arg: string): string[] {
  const fs = new RealFileSystem()
  if (!fs.stat(arg).isDirectory) return [arg]
  const names = fs.readdir(arg).filter((n) => parseFileName(n)?.kind === 'table').sort()
  if (names.length === 0) throw new CliFailure(`${arg} holds no .sst files`, { code: 'LEVELRING_NOT_FOUND' })
  return names.map((n) => join(arg, n))
}
