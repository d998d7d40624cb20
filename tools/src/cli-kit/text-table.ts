/** A column of a text table: right-aligned columns are for numbers. */
export interface Column { header: string, align?: 'left' | 'right' }

/**
 * Rows laid out in aligned columns separated by two spaces, a header line first (trailing spaces
 * trimmed). Cells are plain strings: the caller has already formatted numbers, sizes and keys.
 */
export function textTable (columns: readonly Column[], rows: ReadonlyArray<readonly string[]>, indent = ''): string[] {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? '').length)))
  const render = (cells: readonly string[]): string =>
    indent + columns.map((c, i) => {
      const cell = cells[i] ?? ''
      return c.align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i])
    }).join('  ').trimEnd()
  return [render(columns.map((c) => c.header)), ...rows.map(render)]
}
