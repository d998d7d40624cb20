import type { ReportRow } from './engine-report.js'

// A plain SVG bar chart of the report for the README: per workload one bar per engine, median
// ops/s on a logarithmic axis (the ceiling can be a hundred times classic-level, and a linear
// axis would flatten everyone else), the ratio to classic-level written beside each bar.

const ENGINE_COLOURS: Record<string, string> = {
  'lsm-level': '#2f6fba',
  'lsm-level-lowmem': '#7fa6d6',
  'classic-level': '#8a8a8a',
  'memory-level': '#d08a2e',
  ceiling: '#58a55c'
}
const BAR_HEIGHT = 12
const BAR_GAP = 2
const GROUP_GAP = 10
const LABEL_WIDTH = 150
const PLOT_WIDTH = 560
const RIGHT_MARGIN = 160
const TOP = 40

/** An SVG document charting the rows' median ops/s, or one saying there is nothing to chart. */
export function renderChart (rows: ReportRow[], title: string): string {
  const measured = rows.filter(r => r.medianOpsPerSec !== null && r.medianOpsPerSec > 0)
  const values = measured.map(r => r.medianOpsPerSec as number)
  const low = 10 ** Math.floor(Math.log10(Math.min(...values, 1e6)))
  const high = 10 ** Math.ceil(Math.log10(Math.max(...values, 10)))
  const x = (v: number): number => LABEL_WIDTH + PLOT_WIDTH * (Math.log10(v) - Math.log10(low)) / (Math.log10(high) - Math.log10(low))

  const parts: string[] = []
  let y = TOP
  const workloads = [...new Set(measured.map(r => r.workload))]
  for (const workload of workloads) {
    const group = measured.filter(r => r.workload === workload)
    parts.push(`<text x="${LABEL_WIDTH - 8}" y="${y + (group.length * (BAR_HEIGHT + BAR_GAP)) / 2 + 4}" text-anchor="end">${escape(workload)}</text>`)
    for (const row of group) {
      const value = row.medianOpsPerSec as number
      const ratio = row.ratioToBaseline === null ? '' : ` (${row.ratioToBaseline.toFixed(2)}×)`
      parts.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${(x(value) - LABEL_WIDTH).toFixed(1)}" height="${BAR_HEIGHT}" fill="${ENGINE_COLOURS[row.engine] ?? '#444'}"/>`)
      parts.push(`<text x="${(x(value) + 4).toFixed(1)}" y="${y + BAR_HEIGHT - 2}" font-size="10">${compact(value)}${ratio}</text>`)
      y += BAR_HEIGHT + BAR_GAP
    }
    y += GROUP_GAP
  }

  const axis: string[] = []
  for (let tick = low; tick <= high; tick *= 10) {
    axis.push(`<line x1="${x(tick).toFixed(1)}" y1="${TOP - 6}" x2="${x(tick).toFixed(1)}" y2="${y}" stroke="#ddd"/>`)
    axis.push(`<text x="${x(tick).toFixed(1)}" y="${y + 14}" text-anchor="middle" font-size="10">${compact(tick)}</text>`)
  }
  const legend = Object.entries(ENGINE_COLOURS)
    .filter(([engine]) => measured.some(r => r.engine === engine))
    .map(([engine, colour], i) => `<rect x="${LABEL_WIDTH + i * 130}" y="14" width="10" height="10" fill="${colour}"/><text x="${LABEL_WIDTH + 14 + i * 130}" y="23">${escape(engine)}</text>`)

  const width = LABEL_WIDTH + PLOT_WIDTH + RIGHT_MARGIN
  const height = y + 40
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="8" y="${height - 10}" font-size="10" fill="#555">${escape(title)} — median ops/s, log scale; ratio to classic-level in brackets</text>`,
    ...axis,
    ...legend,
    ...parts,
    '</svg>',
    ''
  ].join('\n')
}

function compact (value: number): string {
  const [divisor, unit] = value >= 1e6 ? [1e6, 'M'] : value >= 1e3 ? [1e3, 'k'] : [1, '']
  const scaled = value / divisor
  return `${scaled.toFixed(scaled >= 10 ? 0 : 1).replace(/\.0$/, '')}${unit}`
}

function escape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}
