import { pino, type Logger } from 'pino'
import { stdoutSink, type LogSink } from './log-sink.js'

/**
 * The node's logger: JSON lines (pino), every line tagged with the node id, written to `sink`
 * (stdout by default) without ever blocking: see log-sink.ts.
 */
export function createLogger (nodeId: string, level: string, sink: LogSink = stdoutSink()): Logger {
  return pino({ level, base: { node: nodeId } }, sink)
}
