import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import {
  blankResult, type ChildResult, type ChildSpec, parseChildResult, RESULT_MARKER, TIMED_END_LINE, TIMED_START_LINE
} from './engine-child-protocol.js'
import { readResidentBytes } from './process-stats.js'

// The harness side of a benchmark child: start it, sample its RSS from outside (a child busy in
// a loop of resolved promises would never run its own timers), enforce a time limit, and collect
// its result. One child at a time, so children never compete for the two cores.

const CHILD_SCRIPT = fileURLToPath(new URL('./engine-child.js', import.meta.url))

/** Most RSS samples kept per run in the JSON: enough to draw the curve of a run of hours. */
const MAX_KEPT_SAMPLES = 500

/** RSS of a child over time, sampled by the harness from /proc/<pid>/status. */
export interface RssTrace {
  intervalMs: number
  /** [milliseconds since spawn, resident bytes], at most MAX_KEPT_SAMPLES (bucket maxima). */
  samples: Array<[number, number]>
  /** When the timed phase started and ended (ms since spawn), if the child got that far. */
  timedFromMs: number | null
  timedToMs: number | null
  /** Highest sample inside the timed phase (null if none fell inside it). */
  timedMaxBytes: number | null
}

/** A child's result with what the harness observed of it. */
export interface RunRecord extends ChildResult {
  rssTrace: RssTrace
}

/** How to supervise a child. */
export interface ChildLimits {
  timeoutMs: number
  sampleIntervalMs: number
  /** Aborting kills the child (Ctrl-C of the harness). */
  signal?: AbortSignal
}

/** Runs one measurement in a new node process; resolves with its record, never rejects for a failed child. */
export async function runChild (spec: ChildSpec, limits: ChildLimits): Promise<RunRecord> {
  const spawnedAt = Date.now()
  const child = spawn(process.execPath, ['--expose-gc', CHILD_SCRIPT, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    signal: limits.signal,
    killSignal: 'SIGKILL'
  })
  const samples: Array<[number, number]> = []
  let timedFromMs: number | null = null
  let timedToMs: number | null = null
  let stdout = ''
  let pending = ''

  const sample = (): void => {
    const rss = child.pid === undefined ? null : readResidentBytes(child.pid)
    if (rss !== null) samples.push([Date.now() - spawnedAt, rss])
  }
  const sampler = setInterval(sample, limits.sampleIntervalMs)
  let timedOut = false
  const killer = setTimeout(() => {
    timedOut = true
    child.kill('SIGKILL')
  }, limits.timeoutMs)

  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    pending += chunk
    let newline
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline)
      pending = pending.slice(newline + 1)
      if (line === TIMED_START_LINE) {
        sample()
        timedFromMs = Date.now() - spawnedAt
      } else if (line === TIMED_END_LINE) {
        sample()
        timedToMs = Date.now() - spawnedAt
      } else if (line.startsWith(RESULT_MARKER)) {
        stdout += line + '\n'
      } else {
        // Whatever the engine prints goes to our stderr, keeping our stdout for the table.
        process.stderr.write(line + '\n')
      }
    }
  })

  const exit = await new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    child.on('close', (code, signal) => resolve({ code, signal }))
    child.on('error', () => resolve({ code: null, signal: null }))
  })
  clearInterval(sampler)
  clearTimeout(killer)

  const rssTrace = traceOf(samples, limits.sampleIntervalMs, timedFromMs, timedToMs)
  const result = parseChildResult(stdout)
  if (result !== null) return { ...result, rssTrace }

  const why = timedOut
    ? `timed out after ${limits.timeoutMs / 1000} s (raise --timeout)`
    : `child exited with ${exit.signal ?? `code ${String(exit.code)}`} without a result`
  return { ...blankResult(spec), error: why, rssTrace }
}

function traceOf (samples: Array<[number, number]>, intervalMs: number, from: number | null, to: number | null): RssTrace {
  let timedMaxBytes: number | null = null
  if (from !== null) {
    for (const [at, bytes] of samples) {
      if (at >= from && (to === null || at <= to)) timedMaxBytes = Math.max(timedMaxBytes ?? 0, bytes)
    }
  }
  return { intervalMs, samples: downsample(samples), timedFromMs: from, timedToMs: to, timedMaxBytes }
}

/** Keeps at most MAX_KEPT_SAMPLES, each the highest of its bucket, so peaks survive. */
function downsample (samples: Array<[number, number]>): Array<[number, number]> {
  if (samples.length <= MAX_KEPT_SAMPLES) return samples
  const bucket = Math.ceil(samples.length / MAX_KEPT_SAMPLES)
  const kept: Array<[number, number]> = []
  for (let i = 0; i < samples.length; i += bucket) {
    let top = samples[i]
    for (let j = i + 1; j < Math.min(samples.length, i + bucket); j++) if (samples[j][1] > top[1]) top = samples[j]
    kept.push(top)
  }
  return kept
}
