import { Command, InvalidArgumentError } from 'commander'
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import type { ChildSpec } from './engine-child-protocol.js'
import { type RunRecord, runChild } from './engine-child-runner.js'
import { renderChart } from './engine-chart.js'
import { BASELINE_ENGINE, BASELINE_MODULE_ENV, DEFAULT_ENGINES, ENGINE_NAMES, type EngineName, isEngineName, loadEngine } from './engine-registry.js'
import { aggregate, type BenchSettings, type EngineBenchReport, formatTable } from './engine-report.js'
import { isWorkloadName, LARGE_WORKLOAD_NAMES, WORKLOAD_NAMES, WORKLOADS, type WorkloadName } from './engine-workloads.js'
import { KEY_SIZE } from './key-space.js'

// `npm run bench:engine`: db_bench-style workloads through the abstract-level API on lsm-level,
// classic-level, memory-level and a no-I/O ceiling, side by side on the same data.
//
// Every (engine, workload, run) is measured in a child process of its own (engine-child.ts),
// engines alternating A B C D A B C D within a workload, so that drift of the machine over time
// spreads over all engines and each child's peak RSS and disk writes belong to one engine.
//
// 'loaded' workloads (reads, overwrite, deleterandom) need a database holding every key. For a
// persistent engine the harness has one child load it once (reported as the 'load' row), then
// gives every run its own copy of that directory, so every run starts from the same files;
// in --large mode (10 GiB) runs share the loaded directory instead and the mutating workloads run
// last. An in-memory engine cannot be reopened, so its child loads it first, untimed.
// Everything lives under one temporary directory, removed at the end (and on Ctrl-C).

interface Options {
  count: number
  valueSize: number
  reads: number
  concurrency: number
  runs: number
  engines: EngineName[]
  workloads: WorkloadName[]
  json: string
  svg: string
  large: boolean
  timeoutSeconds: number
}

/** --large: 10,000,000 entries of 1 KiB, about 10 GiB: more than the engine may hold in memory. */
const LARGE_COUNT = 10_000_000
const LARGE_VALUE_SIZE = 1024

const options = parseOptions(process.argv)
const notes: string[] = []
const startedAt = new Date()
const root = mkdtempSync(join(tmpdir(), 'levelring-bench-'))
const interrupted = new AbortController()
process.once('SIGINT', () => {
  interrupted.abort()
  rmSync(root, { recursive: true, force: true })
  process.stderr.write(`\ninterrupted; removed ${root}\n`)
  process.exit(130)
})

try {
  await main()
} finally {
  rmSync(root, { recursive: true, force: true })
}

async function main (): Promise<void> {
  const engines = await usableEngines(options)
  const workloads = runOrder(options)
  const limits = { timeoutMs: options.timeoutSeconds * 1000, sampleIntervalMs: 200, signal: interrupted.signal }
  const base = { count: options.count, valueSize: options.valueSize, reads: options.reads, concurrency: options.concurrency }
  const runs: RunRecord[] = []
  const total = countChildren(engines, workloads)
  let done = 0
  const progress = (record: RunRecord): void => {
    done++
    const figure = record.error !== undefined
      ? `FAILED: ${record.error}`
      : record.skipped !== undefined ? `skipped: ${record.skipped}` : `${Math.round(record.opsPerSec).toLocaleString('en-US')} ops/s`
    process.stderr.write(`[${done}/${total}] ${record.workload} run ${record.run} ${record.engine}: ${figure}\n`)
  }

  // One loaded directory per persistent engine, if any workload starts from a loaded database.
  const loaded = new Map<EngineName, string>()
  if (workloads.some(w => WORKLOADS[w].start === 'loaded')) {
    for (const { name, persistent } of engines) {
      if (!persistent) continue
      const location = join(root, name, 'loaded')
      const record = await runChild({ ...base, role: 'load', engine: name, run: 0, location, scratch: join(root, name, 'scratch') }, limits)
      runs.push(record)
      progress(record)
      if (record.error === undefined) loaded.set(name, location)
    }
  }

  for (const workload of workloads) {
    const unsupported = new Set<EngineName>()
    for (let run = 1; run <= options.runs; run++) {
      for (const { name, persistent } of engines) {
        if (unsupported.has(name)) continue
        const spec: ChildSpec = {
          ...base, role: 'run', engine: name, workload, run, location: join(root, name, `${workload}-${run}`), scratch: join(root, name, 'scratch')
        }
        if (WORKLOADS[workload].start === 'loaded' && persistent) {
          const source = loaded.get(name)
          if (source === undefined) {
            unsupported.add(name)
            notes.push(`${name}: ${workload} not run, its load failed`)
            continue
          }
          if (options.large) spec.location = source
          else cpSync(source, spec.location, { recursive: true })
        }
        const record = await runChild(spec, limits)
        if (spec.location !== loaded.get(name)) rmSync(spec.location, { recursive: true, force: true })
        if (record.skipped !== undefined) unsupported.add(name)
        runs.push(record)
        progress(record)
      }
    }
  }

  const rows = aggregate(runs, ['load', ...workloads], engines.map(e => e.name))
  const settings: BenchSettings = {
    count: options.count,
    valueSize: options.valueSize,
    keySize: KEY_SIZE,
    reads: options.reads,
    concurrency: options.concurrency,
    runs: options.runs,
    large: options.large,
    engines: engines.map(e => e.name),
    workloads
  }
  const report: EngineBenchReport = {
    tool: 'levelring bench:engine',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    host: { node: process.version, platform: process.platform, arch: process.arch, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', totalMemoryBytes: totalmem() },
    settings,
    baseline: BASELINE_ENGINE,
    rows,
    runs,
    notes
  }

  const title = `${options.count.toLocaleString('en-US')} entries, ${KEY_SIZE} B keys, ${options.valueSize} B values, median of ${options.runs}`
  process.stdout.write(`\nbench:engine — ${title}${options.large ? ' (--large)' : ''}\n\n`)
  process.stdout.write(formatTable(rows, options.large) + '\n')
  if (notes.length > 0) process.stdout.write('\n' + notes.map(n => `note: ${n}`).join('\n') + '\n')
  process.stdout.write(`\nload: the fill (batches of 1000, random order) that a persistent engine's loaded workloads start from, one copy per run;\nafter it (untimed) each engine compacts the whole key range with its compactRange, so reads start from a settled database;
in-memory engines load inside each run's child, untimed.  ops/s: median over runs, warm-up excluded.
peak RSS: the child's maxRSS over its life: node itself, the warm-up, and for in-memory engines all the data.
disk written: bytes the child wrote to disk during the workload and close (/proc/self/io write_bytes); reads can write too (compactions they trigger).
W-amp: disk written / key+value bytes the workload wrote.  S-amp: bytes of the database files after close / live key+value bytes
(shown for writing workloads; files of a compaction that close() cut short count, as they occupy the disk until the next open).
at rest: S-amp again after the database was reopened and left without writes for ${process.env.LEVELRING_BENCH_REST_SECONDS ?? 15} s (LEVELRING_BENCH_REST_SECONDS),
for workloads that wrote: the space the data takes once each engine's background compaction caught up with the burst.\n`)

  writeOutput(options.json, JSON.stringify(report, null, 2) + '\n')
  writeOutput(options.svg, renderChart(rows, `bench:engine — ${title}`))
  process.stdout.write(`\nwrote ${options.json} and ${options.svg}\n`)
}

/** The requested engines that load, with whether each persists; says which could not and why. */
async function usableEngines (options: Options): Promise<Array<{ name: EngineName, persistent: boolean }>> {
  const usable: Array<{ name: EngineName, persistent: boolean }> = []
  for (const name of options.engines) {
    let persistent: boolean
    try {
      const create = await loadEngine(name)
      // Constructing does no I/O; it tells us the manifest.
      persistent = create(join(root, 'manifest-probe')).supports.permanence
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err)
      const line = name.startsWith('lsm-level')
        ? `lsm-level is not built (import failed: ${why}); run \`npx tsc -b\` first. Benchmarking the others.`
        : `${name} could not be loaded (${why}); benchmarking the others.`
      process.stderr.write(line + '\n')
      notes.push(line)
      continue
    }
    if (options.large && !persistent) {
      const line = `${name} keeps everything in memory; --large (${options.count.toLocaleString('en-US')} × ${options.valueSize} B) is not run on it.`
      process.stderr.write(line + '\n')
      notes.push(line)
      continue
    }
    usable.push({ name, persistent })
  }
  if (!usable.some(e => e.name === BASELINE_ENGINE)) notes.push(`${BASELINE_ENGINE} is not among the engines: no ratios.`)
  return usable
}

/** Workloads in the order; in --large mode the mutating ones last (they change the shared load). */
function runOrder (options: Options): WorkloadName[] {
  const ordered = WORKLOAD_NAMES.filter(w => options.workloads.includes(w))
  if (!options.large) return ordered
  return [...ordered.filter(w => !WORKLOADS[w].mutates), ...ordered.filter(w => WORKLOADS[w].mutates)]
}

function countChildren (engines: Array<{ persistent: boolean }>, workloads: WorkloadName[]): number {
  const loads = workloads.some(w => WORKLOADS[w].start === 'loaded') ? engines.filter(e => e.persistent).length : 0
  return loads + workloads.length * options.runs * engines.length
}

function writeOutput (file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true })
  writeFileSync(file, text)
}

function parseOptions (argv: string[]): Options {
  const program = new Command('bench:engine')
    .description('db_bench-style workloads on lsm-level, classic-level, memory-level and a no-I/O ceiling')
    .option('--count <n>', `entries per workload (default 1,000,000; --large: ${LARGE_COUNT.toLocaleString('en-US')})`, positiveInteger)
    .option('--value-size <bytes>', `value size (default 100; --large: ${LARGE_VALUE_SIZE})`, positiveInteger)
    .option('--reads <n>', 'operations of the random-read workloads (default: --count)', positiveInteger)
    .option('--concurrency <n>', 'operations in flight in putconcurrent and fillsync', positiveInteger, 64)
    .option('--runs <n>', 'runs per engine and workload; the median is reported (default 3; --large: 1)', positiveInteger)
    .option('--engines <list>', `comma-separated, of ${ENGINE_NAMES.join(',')} (default: all but lsm-level-baseline, another build named by ${BASELINE_MODULE_ENV})`, list(isEngineName, 'engine'))
    .option('--workloads <list>', `comma-separated, of ${WORKLOAD_NAMES.join(',')}`, list(isWorkloadName, 'workload'))
    .option('--json <file>', 'where to write the JSON results', 'bench-results/engine.json')
    .option('--svg <file>', 'where to write the SVG chart', 'bench-results/engine.svg')
    .option('--large', `${LARGE_COUNT.toLocaleString('en-US')} entries of ${LARGE_VALUE_SIZE} B values; ${LARGE_WORKLOAD_NAMES.join(', ')}; persistent engines only`, false)
    .option('--timeout <seconds>', 'limit per child process', positiveInteger, 3600)
    .parse(argv)
  const o = program.opts<{
    count?: number, valueSize?: number, reads?: number, concurrency: number, runs?: number, engines?: EngineName[],
    workloads?: WorkloadName[], json: string, svg: string, large: boolean, timeout: number
  }>()
  const count = o.count ?? (o.large ? LARGE_COUNT : 1_000_000)
  return {
    count,
    valueSize: o.valueSize ?? (o.large ? LARGE_VALUE_SIZE : 100),
    reads: o.reads ?? count,
    concurrency: o.concurrency,
    runs: o.runs ?? (o.large ? 1 : 3),
    engines: o.engines ?? [...DEFAULT_ENGINES],
    workloads: o.workloads ?? (o.large ? LARGE_WORKLOAD_NAMES : [...WORKLOAD_NAMES]),
    json: o.json,
    svg: o.svg,
    large: o.large,
    timeoutSeconds: o.timeout
  }
}

function positiveInteger (text: string): number {
  const n = Number(text.replace(/_/g, ''))
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got '${text}'`)
  return n
}

function list<T extends string> (known: (name: string) => name is T, what: string) {
  return (text: string): T[] => {
    const names = text.split(',').map(s => s.trim()).filter(s => s !== '')
    const unknown = names.filter(n => !known(n))
    if (unknown.length > 0 || names.length === 0) throw new InvalidArgumentError(`unknown ${what} '${unknown.join(',')}'`)
    return [...new Set(names)] as T[]
  }
}
