import { setFlagsFromString } from 'node:v8'

/**
 * The process-wide memory settings of a node that are not the engine's: how V8 and glibc's malloc size
 * what they take from the system. Under a full-speed load, a node's RSS beyond its live data is mostly
 * these (docs/operations.md, Memory): V8's young generation (two semi-spaces, 16 MiB each by default),
 * V8's old generation growing up to 4x what survived the last full collection before it collects again,
 * and malloc arenas per thread, each fragmenting on its own. Two of them can only be set before the
 * process starts, so the launchers (local cluster, benchmarks, the container image) pass them:
 */

/**
 * V8 options a launcher passes (in NODE_OPTIONS, which accepts this one): semi-spaces of 8 MiB, half
 * V8's default, saving 16 MiB of young generation; smaller ones promote more of the load's garbage into
 * the old generation, which then costs full collections.
 */
export const LAUNCH_NODE_OPTIONS: readonly string[] = ['--max-semi-space-size=8']

/**
 * Environment a launcher sets: at most two malloc arenas. Each thread that finds the arena busy gets
 * one of its own (the engine's worker, libuv's pool, V8's helpers), and every arena keeps its freed
 * chunks; two is the usual remedy for glibc's growth in threaded servers, at no cost measured here.
 */
export const LAUNCH_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }

/**
 * `env` with the launch settings added: LAUNCH_NODE_OPTIONS appended to NODE_OPTIONS unless it already
 * names that option, LAUNCH_ENV's variables set unless `env` sets them. The caller's choices win.
 */
export function withLaunchSettings (env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env }
  const given = env.NODE_OPTIONS ?? ''
  const missing = LAUNCH_NODE_OPTIONS.filter((o) => !given.includes(optionName(o)))
  if (missing.length > 0) out.NODE_OPTIONS = [given, ...missing].filter((s) => s !== '').join(' ')
  for (const [name, value] of Object.entries(LAUNCH_ENV)) out[name] ??= value
  return out
}

/**
 * The launch settings this process did not start with (neither in its node arguments nor in
 * NODE_OPTIONS, nor its environment), as `NAME=value` or the option: what `levelring start` reports.
 */
export function missingLaunchSettings (execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string[] {
  const given = [...execArgv, env.NODE_OPTIONS ?? ''].join(' ')
  return [
    ...LAUNCH_NODE_OPTIONS.filter((o) => !given.includes(optionName(o))),
    ...Object.entries(LAUNCH_ENV).filter(([name]) => env[name] === undefined).map(([name, value]) => `${name}=${value}`)
  ]
}

/**
 * Cap how far V8's old generation grows past what survived the last full collection before it collects
 * again, process-wide (both isolates); 0 leaves V8's own factor. V8 reads it at every collection, so it
 * takes effect when set at start-up.
 */
export function applyHeapGrowingPercent (percent: number): void {
  if (percent > 0) setFlagsFromString(`--heap-growing-percent=${percent}`)
}

const optionName = (option: string): string => option.split('=')[0]!
