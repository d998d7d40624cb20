import type { RunRecord } from './engine-child-runner.js'
import { BASELINE_ENGINE, type EngineName } from './engine-registry.js'

// Turns the runs into what a reader compares: per workload and engine the median ops/s, its
// ratio to classic-level, peak RSS, write and space amplification; as an aligned table and JSON.

/** How the benchmark was run: enough to reproduce it and to judge its figures. */
export interface BenchSettings {
  count: number
  valueSize: number
  keySize: number
  reads: number
  concurrency: number
  runs: number
  large: boolean
  engines: EngineName[]
  workloads: string[]
}

/** One workload on one engine, over all its runs. */
export interface ReportRow {
  workload: string
  engine: EngineName
  /** Runs that produced a figure. */
  runs: number
  /** Operations per run (the unit of ops/s). */
  ops: number
  medianOpsPerSec: number | null
  /** medianOpsPerSec / classic-level's on the same workload. */
  ratioToBaseline: number | null
  /** Highest peak RSS of any run (process.resourceUsage().maxRSS of the child). */
  peakRssBytes: number | null
  /** Over the run with the highest sampled RSS in its timed phase: RSS at the start, end and peak of that phase. */
  rssStartBytes: number | null
  rssEndBytes: number | null
  rssTimedMaxBytes: number | null
  /** Key and value bytes the workload writes per run. */
  userBytesWritten: number
  /** Median bytes a run's process wrote to disk (workload and close); null for in-memory engines. */
  diskWriteBytes: number | null
  /** Medians over runs; null where not applicable (in-memory engine, nothing written, nothing live). */
  writeAmp: number | null
  spaceAmp: number | null
  /** S-amp after REST_SECONDS without writes, for workloads that wrote (engine-child.ts). */
  spaceAmpAtRest: number | null
  /** Skips, failures and wrong answers, in words. */
  notes: string[]
}

/** The benchmark's JSON document. */
export interface EngineBenchReport {
  tool: 'levelring bench:engine'
  startedAt: string
  finishedAt: string
  host: { node: string, platform: string, arch: string, cpus: number, cpuModel: string, totalMemoryBytes: number }
  settings: BenchSettings
  baseline: EngineName
  rows: ReportRow[]
  /** Every child's record, RSS traces included. */
  runs: RunRecord[]
  notes: string[]
}

/** Aggregates runs into rows, in the order of workloads then engines given. */
export function aggregate (runs: RunRecord[], workloads: string[], engines: EngineName[]): ReportRow[] {
  const rows: ReportRow[] = []
  for (const workload of workloads) {
    const group: ReportRow[] = []
    for (const engine of engines) {
      const mine = runs.filter(r => r.workload === workload && r.engine === engine)
      if (mine.length > 0) group.push(rowOf(workload, engine, mine))
    }
    const baseline = group.find(r => r.engine === BASELINE_ENGINE)?.medianOpsPerSec ?? null
    for (const row of group) {
      row.ratioToBaseline = row.medianOpsPerSec !== null && baseline !== null && baseline > 0 ? row.medianOpsPerSec / baseline : null
    }
    rows.push(...group)
  }
  return rows
}

function rowOf (workload: string, engine: EngineName, runs: RunRecord[]): ReportRow {
  const ok = runs.filter(r => r.error === undefined && r.skipped === undefined)
  const notes = new Set<string>()
  for (const r of runs) {
    if (r.skipped !== undefined) notes.add(`skipped: ${r.skipped}`)
    if (r.error !== undefined) notes.add(`run ${r.run} failed: ${r.error}`)
    if (r.expectedFound !== undefined && r.found !== r.expectedFound) {
      notes.add(`WRONG ANSWERS: found ${String(r.found)} of ${r.expectedFound} expected (run ${r.run})`)
    }
  }
  const rssRun = ok.reduce<RunRecord | null>((top, r) => top === null || (r.rssTrace.timedMaxBytes ?? 0) > (top.rssTrace.timedMaxBytes ?? 0) ? r : top, null)
  return {
    workload,
    engine,
    runs: ok.length,
    ops: ok[0]?.ops ?? 0,
    medianOpsPerSec: median(ok.map(r => r.opsPerSec)),
    ratioToBaseline: null,
    peakRssBytes: ok.length === 0 ? null : Math.max(...ok.map(r => r.maxRssBytes)),
    rssStartBytes: rssRun?.rssStartBytes ?? null,
    rssEndBytes: rssRun?.rssEndBytes ?? null,
    rssTimedMaxBytes: rssRun === null ? null : Math.max(rssRun.rssTrace.timedMaxBytes ?? 0, rssRun.rssStartBytes, rssRun.rssEndBytes),
    userBytesWritten: ok[0]?.userBytesWritten ?? 0,
    diskWriteBytes: median(ok.flatMap(r => r.diskBytes === null || r.diskWriteBytes === null ? [] : [r.diskWriteBytes])),
    writeAmp: median(ok.flatMap(r => r.writeAmp === null ? [] : [r.writeAmp])),
    spaceAmp: median(ok.flatMap(r => r.spaceAmp === null ? [] : [r.spaceAmp])),
    spaceAmpAtRest: median(ok.flatMap(r => r.spaceAmpAtRest == null ? [] : [r.spaceAmpAtRest])),
    notes: [...notes]
  }
}

/** The median of values, null for none. */
export function median (values: number[]): number | null {
  if (values.length === 0) return null
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/**
 * The rows as an aligned text table; with showRssRange, RSS at start..end (peak) of the timed
 * phase too. S-amp is left out for workloads that write nothing: their live data is the load's,
 * and their figure would only say whether a compaction they triggered was cut short by close().
 */
export function formatTable (rows: ReportRow[], showRssRange: boolean): string {
  const header = ['workload', 'engine', 'ops/s', `× ${BASELINE_ENGINE}`, 'peak RSS', 'disk written', 'W-amp', 'S-amp', 'at rest']
  if (showRssRange) header.push('RSS start..end (peak)')
  header.push('notes')
  const rightAligned = new Set([2, 3, 4, 5, 6, 7, 8])
  const lines: string[][] = [header]
  let previous = ''
  for (const row of rows) {
    const cells = [
      row.workload === previous ? '' : row.workload,
      row.engine,
      row.medianOpsPerSec === null ? '-' : Math.round(row.medianOpsPerSec).toLocaleString('en-US'),
      row.ratioToBaseline === null ? '-' : `${row.ratioToBaseline.toFixed(2)}×`,
      mebibytes(row.peakRssBytes),
      mebibytes(row.diskWriteBytes),
      row.writeAmp === null ? '-' : row.writeAmp.toFixed(2),
      row.spaceAmp === null || row.userBytesWritten === 0 ? '-' : row.spaceAmp.toFixed(2),
      row.spaceAmpAtRest === null ? '-' : row.spaceAmpAtRest.toFixed(2)
    ]
    if (showRssRange) {
      cells.push(row.rssStartBytes === null
        ? '-'
        : `${mebibytes(row.rssStartBytes)}..${mebibytes(row.rssEndBytes)} (${mebibytes(row.rssTimedMaxBytes)})`)
    }
    cells.push(row.notes.join('; '))
    lines.push(cells)
    previous = row.workload
  }
  const widths = header.map((_, column) => Math.max(...lines.map(cells => cells[column].length)))
  return lines.map(cells => cells.map((cell, column) => {
    if (column === cells.length - 1) return cell
    return rightAligned.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])
  }).join('  ').trimEnd()).join('\n')
}

function mebibytes (bytes: number | null): string {
  return bytes === null ? '-' : `${(bytes / 2 ** 20).toFixed(1)} MiB`
}
