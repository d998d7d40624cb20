/** Binary units, as `ls -h` and the engine's README use them. */
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** A byte count as an operator reads it: "812 B", "4.0 KiB", "1.21 MiB". */
export function humanSize (bytes: number): string {
  let v = bytes
  let u = 0
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) { v /= 1024; u++ }
  if (u === 0) return `${v} B`
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${UNITS[u]}`
}
