/**
 * Any JSON value as indented `name: value` lines, for answers whose shape the tool does not know in
 * advance (fields a newer node adds): scalars inline, lists of scalars comma-separated, nested objects
 * and lists of objects indented below their name.
 */
export function fieldLines (value: unknown, indent = ''): string[] {
  if (!isObject(value)) return [`${indent}${scalarText(value)}`]
  const lines: string[] = []
  for (const [name, v] of Object.entries(value)) {
    if (Array.isArray(v)) {
      if (v.length === 0) lines.push(`${indent}${name}: (none)`)
      else if (v.every((x) => !isObject(x) && !Array.isArray(x))) lines.push(`${indent}${name}: ${v.map(scalarText).join(', ')}`)
      else {
        lines.push(`${indent}${name}:`)
        for (const item of v) {
          const inner = fieldLines(item, indent + '    ')
          inner[0] = `${indent}  - ${inner[0].slice(indent.length + 4)}`
          lines.push(...inner)
        }
      }
    } else if (isObject(v)) {
      lines.push(`${indent}${name}:`, ...fieldLines(v, indent + '  '))
    } else {
      lines.push(`${indent}${name}: ${scalarText(v)}`)
    }
  }
  return lines.length === 0 ? [`${indent}(empty)`] : lines
}

/** A scalar (or anything else) as one short piece of text. */
export function scalarText (v: unknown): string {
  if (v === null || v === undefined) return '-'
  if (typeof v === 'string') return v
  if (typeof v === 'number' || typeof v === 'boolean') return String(v)
  return JSON.stringify(v)
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
