import type { Command } from 'commander'
import { loadConfig, type StartFlags } from './config.js'
import { flagName, SETTINGS } from './config-schema.js'
import { startNode, type RunningNode } from './start-node.js'
import { createLogger } from './logger.js'
import { ignoreClosedStdio, stdoutSink } from './log-sink.js'
import { applyHeapGrowingPercent, missingLaunchSettings } from './process-memory.js'

/** Register `levelring start`: run one node in the foreground until SIGTERM or SIGINT. */
export function registerStart (program: Command): void {
  const command = program
    .command('start')
    .description('start one levelring node (embedded lsm-level storage in --data-dir); every flag is also LEVELRING_<FLAG> and a config file key')
    .option('--config <file>', 'YAML or JSON file of settings (env LEVELRING_CONFIG); env and flags override it')
  for (const s of SETTINGS) {
    const shown = s.default !== undefined ? ` (default ${JSON.stringify(s.default)})` : s.defaultText !== undefined ? ` (default ${s.defaultText})` : ''
    command.option(`${flagName(s.name)}${s.arg === undefined ? '' : ` ${s.arg}`}`, `${s.description}${shown}`)
    for (const alias of s.flagAliases ?? []) command.option(`--${alias}${s.arg === undefined ? '' : ` ${s.arg}`}`, `same as ${flagName(s.name)}`)
  }
  command
    .action(async (flags: StartFlags) => {
      ignoreClosedStdio()
      const config = loadConfig(flags)
      applyHeapGrowingPercent(config.heapGrowingPercent)
      const node = await startNode(config, createLogger(config.nodeId, config.logLevel, stdoutSink()))
      const missing = missingLaunchSettings()
      if (missing.length > 0) {
        node.logger.warn({ missing }, 'started without the memory settings a launcher passes (NODE_OPTIONS, MALLOC_ARENA_MAX): more resident memory under load (docs/operations.md, Memory)')
      }
      stopOnSignals(node, config.shutdownGraceMs)
    })
}

/** Time beyond the in-flight grace for the cluster side to drain and the engine to close before the process exits regardless. */
export const CLOSE_MARGIN_MS = 10_000

/** How long the last log lines may take to reach a slow reader before the process exits anyway. */
const LOG_FLUSH_MS = 1_000

/**
 * SIGTERM or SIGINT: stop accepting, finish in-flight requests (at most `graceMs`), close the engine,
 * exit 0. Whatever happens (a hung close, a log reader gone), a timer ends the process (exit 1)
 * `graceMs + CLOSE_MARGIN_MS` after the signal; a second signal ends it at once (exit 1). A node that left
 * the cluster stops itself the same way, and the first signal after that waits for its close.
 */
export function stopOnSignals (node: RunningNode, graceMs: number): void {
  let signals = 0
  let stopping = false
  const stop = (signal: NodeJS.Signals, fromOperator = true): void => {
    if (fromOperator && ++signals > 1) { node.logger.warn({ signal }, 'second signal: exiting now'); process.exit(1) }
    // The SIGTERM that follows `leave --wait` (a pod's preStop hook) finds the node closing itself: it lets that close finish.
    if (stopping) { node.logger.info({ signal }, 'already stopping after leaving the cluster: finishing the clean close'); return }
    stopping = true
    node.logger.info({ signal, graceMs }, 'stopping: finishing in-flight requests')
    setTimeout(() => {
      node.logger.error({ graceMs, marginMs: CLOSE_MARGIN_MS }, 'shutdown took too long: exiting without a clean close')
      process.exit(1)
    }, graceMs + CLOSE_MARGIN_MS)
    node.close(graceMs).then(async () => {
      await stdoutSink().flush(LOG_FLUSH_MS)
      process.exit(0)
    }, (err: unknown) => {
      node.logger.error({ err }, 'unclean shutdown')
      process.exit(1)
    })
  }
  process.on('SIGTERM', (signal) => { stop(signal) })
  process.on('SIGINT', (signal) => { stop(signal) })
  // A node that left the cluster (POST /v1/admin/leave) has handed everything over: it exits.
  void node.left?.then(() => { node.logger.info('left the cluster: exiting'); stop('SIGTERM', false) })
}
